//! Decision outputs and backtests (runtime): scores with the assessment's model and skill,
//! universe members, target portfolios with risk reports, backtest runs, days and fills.

use crate::harness::{TestDb, conformance, date};
use prometheus::backtest::broker::{DayRecord, Fill};
use prometheus::domain::{ConfigId, RunId};
use prometheus::engines::assessment::{FittedWeights, ForecastSkill, ScoreLabel, ScoreRow};
use prometheus::engines::portfolio::risk::{RiskReport, ScenarioRisk, TailRisk, Tails};
use prometheus::engines::universe::{Member, Tier};
use prometheus::store::{
    AssessmentRun, BacktestRun, BacktestStore, DecisionStore, Stamp, StoredDay,
};

fn stamp(day: &str, config: &str) -> Stamp {
    Stamp {
        market_id: "US_EQ".into(),
        as_of: date(day),
        run_id: RunId::new(format!("engines:US_EQ:{day}")),
        config_id: ConfigId::new(config),
    }
}

fn score(id: &str, s: f64) -> ScoreRow {
    ScoreRow {
        instrument_id: id.into(),
        families: [Some(1.25), None, Some(-0.5), None, Some(0.0)],
        prediction: s / 10.0,
        expected_return: s / 100.0,
        score: s,
        confidence: 0.4,
        label: ScoreLabel::Buy,
    }
}

fn run(day: &str, skill: bool) -> AssessmentRun {
    AssessmentRun {
        as_of: date(day),
        fit: FittedWeights {
            weights: [0.1, 0.2, 0.3, 0.4, 0.5],
            samples: 900,
            dates: 12,
            dispersion: Some(0.07),
        },
        skill: skill.then(|| {
            (
                date("2024-02-01"),
                ForecastSkill {
                    ic: 0.05,
                    rank_ic: 0.04,
                    names: 40,
                },
            )
        }),
    }
}

async fn scores_round_trip_replace_and_feed_the_training_history(db: &TestDb) {
    let r = &db.runtime;
    let s = stamp("2024-03-01", "assessment-1");
    r.write_scores(
        &s,
        "core",
        21,
        &[score("US_EQ:A", 0.9), score("US_EQ:B", 0.1)],
        &run("2024-03-01", false),
    )
    .await
    .unwrap();
    // A re-run replaces the day's rows.
    r.write_scores(
        &s,
        "core",
        21,
        &[score("US_EQ:A", 0.5)],
        &run("2024-03-01", true),
    )
    .await
    .unwrap();
    let got = r
        .scores("core", "US_EQ", date("2024-03-01"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.rows, vec![score("US_EQ:A", 0.5)]);
    assert_eq!(
        (got.horizon_days, got.config_id.as_str()),
        (21, "assessment-1")
    );
    assert!(
        r.scores(
            "core",
            "US_EQ",
            date("2024-03-01"),
            Some(&ConfigId::new("assessment-2"))
        )
        .await
        .unwrap()
        .is_none()
    );
    r.write_scores(
        &stamp("2024-03-04", "assessment-1"),
        "core",
        21,
        &[score("US_EQ:B", -0.3)],
        &run("2024-03-04", false),
    )
    .await
    .unwrap();
    let hist = r
        .score_history("core", "US_EQ", &[date("2024-03-01"), date("2024-03-02")])
        .await
        .unwrap();
    assert_eq!(hist.len(), 1, "only the dates asked for");
    assert_eq!(
        hist[0].families,
        [Some(1.25), None, Some(-0.5), None, Some(0.0)]
    );
    let runs = r
        .assessment_runs("core", "US_EQ", date("2024-01-01"), date("2024-12-31"))
        .await
        .unwrap();
    assert_eq!(
        runs,
        vec![run("2024-03-01", true), run("2024-03-04", false)]
    );
}

async fn universe_members_keep_tiers_and_reasons(db: &TestDb) {
    let r = &db.runtime;
    let members = vec![
        Member {
            id: "US_EQ:A".into(),
            tier: Tier::Core,
            score: Some(0.7),
            sector: "Tech".into(),
            reasons: vec![],
        },
        Member {
            id: "US_EQ:B".into(),
            tier: Tier::Excluded,
            score: None,
            sector: "unknown".into(),
            reasons: vec![
                "history: 10 sessions < 252".into(),
                "stability class BREAKER".into(),
            ],
        },
    ];
    let s = stamp("2024-03-01", "universe-1");
    r.write_universe(&s, "core", &members).await.unwrap();
    r.write_universe(&s, "core", &members).await.unwrap();
    assert_eq!(
        r.universe("core", "US_EQ", date("2024-03-01"), None)
            .await
            .unwrap(),
        members
    );
    assert!(
        r.universe("core", "US_EQ", date("2024-03-04"), None)
            .await
            .unwrap()
            .is_empty()
    );
}

fn report(turnover: f64) -> RiskReport {
    let tail = |v| TailRisk {
        var: v,
        es: v * 1.3,
    };
    RiskReport {
        ex_ante_vol: 0.15,
        historical: Some(Tails {
            p95: tail(0.01),
            p99: tail(0.02),
        }),
        historical_days: 252,
        scenario: Some(ScenarioRisk {
            set_id: "scn-1".into(),
            horizon: 21,
            paths: 1000,
            coverage: 1.0,
            tails: Tails {
                p95: tail(0.05),
                p99: tail(0.09),
            },
        }),
        net: 1.0,
        gross: 1.0,
        names: 2,
        effective_names: 1.9,
        max_weight: 0.6,
        sectors: [("Tech".to_owned(), 1.0)].into_iter().collect(),
        fragility_exposure: 0.2,
        fragile_weight: 0.0,
        turnover,
        forced_exits: 0.0,
        max_weight_cap: 0.6,
        names_at_cap: 1,
        cash: 0.0,
        defensive: None,
        notes: vec!["1 of 2 names sit at the per-name cap 0.6000".into()],
    }
}

async fn targets_and_risk_reports_are_read_as_of(db: &TestDb) {
    let r = &db.runtime;
    let cfg = ConfigId::new("portfolio-1");
    let w1 = vec![("US_EQ:A".to_owned(), 0.6), ("US_EQ:B".to_owned(), 0.4)];
    let w2 = vec![("US_EQ:A".to_owned(), 1.0)];
    r.write_target(
        &stamp("2024-01-31", "portfolio-1"),
        "core",
        "hrp",
        &w1,
        &report(1.0),
    )
    .await
    .unwrap();
    r.write_target(
        &stamp("2024-02-29", "portfolio-1"),
        "core",
        "hrp",
        &w2,
        &report(0.8),
    )
    .await
    .unwrap();
    // Re-running a day replaces it.
    r.write_target(
        &stamp("2024-02-29", "portfolio-1"),
        "core",
        "hrp",
        &w2,
        &report(0.8),
    )
    .await
    .unwrap();
    let before = r
        .latest_target("core", "US_EQ", &cfg, date("2024-02-28"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (before.as_of, before.weights.clone()),
        (date("2024-01-31"), w1.clone())
    );
    let all = r
        .targets(
            "core",
            "US_EQ",
            &cfg,
            date("2024-01-01"),
            date("2024-12-31"),
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].weights, w2);
    assert_eq!(all[1].method, "hrp");
    assert!(
        r.latest_target("core", "US_EQ", &cfg, date("2024-01-30"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        r.risk_report("core", "US_EQ", date("2024-02-29"), &cfg)
            .await
            .unwrap(),
        Some(report(0.8))
    );
}

async fn backtests_replace_their_rows_on_a_rerun(db: &TestDb) {
    let r = &db.runtime;
    let mut run = BacktestRun {
        backtest_id: "bt-1".into(),
        strategy: "equal_weight".into(),
        market_id: "US_EQ".into(),
        from: date("2024-01-02"),
        to: date("2024-01-03"),
        run_id: "backtest:bt-1".into(),
        config_id: "strategy-1".into(),
        strategy_body: "{}".into(),
        engine_configs: "{\"portfolio\":\"portfolio-1\"}".into(),
        state: "RUNNING".into(),
        rebalances: 1,
        failed_rebalances: 0,
        metrics: None,
    };
    r.start_backtest(&run).await.unwrap();
    let day = |d: &str, equity: f64| StoredDay {
        day: DayRecord {
            date: date(d),
            equity,
            cash: 10.0,
            daily_return: 0.001,
            gross_exposure: 0.99,
            traded_notional: 5.0,
            costs: 0.01,
        },
        benchmark_return: Some(0.002),
        regime: Some("CARRY".into()),
    };
    let fill = Fill {
        date: date("2024-01-03"),
        order_date: date("2024-01-02"),
        instrument_id: "US_EQ:A".into(),
        shares: -12.5,
        price: 101.25,
        notional: 1265.625,
        commission: 0.1265625,
        slippage: 0.05,
        target_weight: 0.0,
        requested_shares: -12.5,
    };
    run.state = "SUCCEEDED".into();
    run.metrics = Some("{\"overall\":{}}".into());
    let days = vec![day("2024-01-02", 1000.0), day("2024-01-03", 1001.0)];
    r.finish_backtest(&run, &days, std::slice::from_ref(&fill))
        .await
        .unwrap();
    // Running it again starts from nothing.
    r.start_backtest(&run).await.unwrap();
    assert!(r.backtest_days("bt-1").await.unwrap().is_empty());
    r.finish_backtest(&run, &days, std::slice::from_ref(&fill))
        .await
        .unwrap();
    assert_eq!(r.backtest_days("bt-1").await.unwrap(), days);
    assert_eq!(r.backtest_fills("bt-1").await.unwrap(), vec![fill]);
    assert_eq!(r.backtest_run("bt-1").await.unwrap(), Some(run.clone()));
    assert_eq!(r.backtest_run("bt-2").await.unwrap(), None);
    // The list, newest last session first.
    let older = BacktestRun {
        backtest_id: "bt-0".into(),
        to: date("2024-01-02"),
        ..run.clone()
    };
    r.start_backtest(&older).await.unwrap();
    let listed = r.backtest_runs(10).await.unwrap();
    assert_eq!(listed, [run.clone(), older]);
    assert_eq!(r.backtest_runs(1).await.unwrap(), [run]);
}

conformance!(
    scores_round_trip_replace_and_feed_the_training_history,
    universe_members_keep_tiers_and_reasons,
    targets_and_risk_reports_are_read_as_of,
    backtests_replace_their_rows_on_a_rerun,
);
