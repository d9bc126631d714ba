//! World-state outputs (runtime): regimes with transition counts, stability vectors and
//! soft-target classes, fragility measures, scenario sets with their baseline and paths.

use crate::harness::{TestDb, conformance, date};
use chrono::NaiveDate;
use prometheus::domain::{ConfigId, RunId};
use prometheus::engines::fragility::{FragilityClass, FragilityRow, ShortTemplate};
use prometheus::engines::regime::{RegimeDay, RegimeLabel};
use prometheus::engines::scenarios::{ReturnPanel, ScenarioKind, ScenarioParams};
use prometheus::engines::stability::{Components, SoftTargetClass, StabilityRow};
use prometheus::store::{Stamp, TransitionRow, WorldStateStore};

fn stamp(day: &str, config: &str) -> Stamp {
    Stamp {
        market_id: "US_EQ".into(),
        as_of: date(day),
        run_id: RunId::new(format!("engines:US_EQ:{day}")),
        config_id: ConfigId::new(config),
    }
}

fn regime_day(day: &str, label: RegimeLabel) -> RegimeDay {
    RegimeDay {
        date: date(day),
        model_id: "regime-gmm-1".into(),
        probabilities: [0.7, 0.2, 0.1, 0.0],
        raw_label: label,
        label,
        days_in_regime: 4,
        change_risk: 0.125,
        expected_duration: 30.5,
        features: [("ln_vol_21".to_owned(), -1.5)].into_iter().collect(),
    }
}

async fn regimes_round_trip_replace_and_are_read_as_of(db: &TestDb) {
    let r = &db.runtime;
    let t = |from, to, n| TransitionRow {
        from,
        to,
        transitions: n,
        probability: 0.5,
    };
    let s = stamp("2024-03-11", "regime-1");
    r.write_regime(
        &s,
        &regime_day("2024-03-11", RegimeLabel::Carry),
        &[t(RegimeLabel::Carry, RegimeLabel::Carry, 9)],
    )
    .await
    .unwrap();
    // A re-run replaces the day's rows instead of adding to them.
    let day = regime_day("2024-03-11", RegimeLabel::Crisis);
    let trans = vec![
        t(RegimeLabel::Crisis, RegimeLabel::Crisis, 40),
        t(RegimeLabel::Crisis, RegimeLabel::RiskOff, 2),
    ];
    r.write_regime(&s, &day, &trans).await.unwrap();
    let cfg = ConfigId::new("regime-1");
    assert_eq!(
        r.regime("US_EQ", date("2024-03-11"), &cfg).await.unwrap(),
        Some(day.clone())
    );
    assert_eq!(
        r.regime_transitions("US_EQ", date("2024-03-11"), &cfg)
            .await
            .unwrap(),
        trans
    );
    assert_eq!(
        r.regime("US_EQ", date("2024-03-12"), &cfg).await.unwrap(),
        None
    );
    // As-of reads never see a later day.
    r.write_regime(
        &stamp("2024-03-13", "regime-1"),
        &regime_day("2024-03-13", RegimeLabel::Carry),
        &[],
    )
    .await
    .unwrap();
    let (seen, c) = r
        .latest_regime("US_EQ", date("2024-03-12"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((seen, c), (day, cfg));
    assert!(
        r.latest_regime("US_EQ", date("2024-03-10"))
            .await
            .unwrap()
            .is_none()
    );
}

fn stability_row(id: &str, soft: f64) -> StabilityRow {
    StabilityRow {
        instrument_id: id.into(),
        components: Components {
            values: [None, Some(0.25), Some(0.5), Some(0.0), Some(1.0), None],
        },
        stability_score: 1.0 - soft / 100.0,
        soft_target_score: soft,
        class: SoftTargetClass::Watch,
        forecast_score: soft + 1.0,
        forecast_class: SoftTargetClass::Fragile,
    }
}

async fn stability_and_fragility_round_trip_and_replace(db: &TestDb) {
    let r = &db.runtime;
    let s = stamp("2024-03-11", "stability-1");
    r.write_stability(
        &s,
        Some(RegimeLabel::RiskOff),
        &[stability_row("B", 30.0), stability_row("A", 40.0)],
    )
    .await
    .unwrap();
    r.write_stability(&s, Some(RegimeLabel::RiskOff), &[stability_row("A", 41.0)])
        .await
        .unwrap();
    let got = r
        .stability("US_EQ", date("2024-03-11"), &ConfigId::new("stability-1"))
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![stability_row("A", 41.0)],
        "a re-run replaces the day"
    );
    let f = |id: &str, class| FragilityRow {
        instrument_id: id.into(),
        expected_shortfall: 0.21,
        soft_target_score: 41.0,
        fragility_score: 0.6,
        class,
        short: (class >= FragilityClass::ShortCandidate).then_some(ShortTemplate {
            weight_hint: 0.01,
            horizon_days: 21,
            stop_loss: 0.21,
        }),
    };
    let fs = stamp("2024-03-11", "fragility-1");
    let rows = vec![
        f("A", FragilityClass::ShortCandidate),
        f("B", FragilityClass::None),
    ];
    r.write_fragility(&fs, "scn-1", &rows).await.unwrap();
    r.write_fragility(&fs, "scn-1", &rows).await.unwrap();
    let got = r
        .fragility("US_EQ", date("2024-03-11"), &ConfigId::new("fragility-1"))
        .await
        .unwrap();
    assert_eq!(got, rows);
}

async fn scenario_sets_store_baseline_and_paths_bit_exact(db: &TestDb) {
    let r = &db.runtime;
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    let days = 200;
    let history = ReturnPanel {
        dates: (0..days)
            .map(|i| start + chrono::Days::new(i as u64))
            .collect(),
        instruments: vec!["A".into(), "B".into(), "C".into()],
        returns: (0..days * 3)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 2000.0)
            .collect(),
    };
    let params = ScenarioParams {
        paths: 40,
        horizon: 5,
        ..ScenarioParams::default()
    };
    let set = params
        .generate(
            &ScenarioKind::BlockBootstrap,
            &history,
            &[],
            history.dates[days - 1],
        )
        .unwrap();
    r.write_scenario_set(&stamp("2023-07-20", "scenarios-1"), &set, 10)
        .await
        .unwrap();
    r.write_scenario_set(&stamp("2023-07-20", "scenarios-1"), &set, 10)
        .await
        .unwrap();
    let got = r.scenario_set(&set.set_id).await.unwrap().unwrap();
    assert_eq!(
        (got.paths, got.horizon, got.kind.as_str()),
        (40, 5, "block_bootstrap")
    );
    assert_eq!(got.instruments, set.instruments);
    assert_eq!(got.stored.len(), 11, "baseline + 10 paths");
    let (path, kind, dates, base) = &got.stored[0];
    assert_eq!(
        (*path, kind.as_str(), dates.len(), base.len()),
        (0, "baseline", 0, 15)
    );
    let mean0: f64 = (0..40).map(|p| f64::from(set.day(p, 0)[0])).sum::<f64>() / 40.0;
    assert!((f64::from(base[0]) - mean0).abs() < 1e-6);
    for (p, (path, kind, dates, values)) in got.stored.iter().enumerate().skip(1) {
        assert_eq!((*path, kind.as_str()), (p, "scenario"));
        assert_eq!(dates.as_slice(), &set.source_dates[(p - 1) * 5..p * 5]);
        assert_eq!(values.as_slice(), set.path_values(p - 1).as_slice());
    }
    assert!(r.scenario_set("scn-missing").await.unwrap().is_none());
}

conformance!(
    regimes_round_trip_replace_and_are_read_as_of,
    stability_and_fragility_round_trip_and_replace,
    scenario_sets_store_baseline_and_paths_bit_exact,
);
