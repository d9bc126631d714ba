//! Derived series equal a direct computation, and are recomputed incrementally.

use crate::harness::{TestDb, conformance};
use crate::prices::{path, register};
use prometheus::config::{EngineConfig, VersionedConfig};
use prometheus::derived::{DerivedConfig, derive_incremental};
use prometheus::domain::{InstrumentId, InstrumentSeries, RunId, date_ceiling, date_floor};
use prometheus::store::{DerivedStore, PriceStore};

fn cfg() -> VersionedConfig<DerivedConfig> {
    VersionedConfig::new(DerivedConfig {
        return_horizons: vec![1, 3],
        vol_windows: vec![4],
        annualisation_days: 252,
        batch_instruments: 2,
    })
}

async fn derive(db: &TestDb, run: &str) -> prometheus::derived::DeriveSummary {
    derive_incremental(&db.historical, &cfg(), &RunId::from(run), |_, _| {})
        .await
        .unwrap()
}

/// `(date, horizon, value)` returns and `(date, value)` volatilities.
type Derived = (Vec<(String, u32, f64)>, Vec<(String, f64)>);

/// Returns and volatility computed here, independently, from the adjusted closes.
fn direct(s: &InstrumentSeries) -> Derived {
    let p: Vec<f64> = s.bars.iter().map(|b| b.adj_close).collect();
    let mut rets = Vec::new();
    let mut vols = Vec::new();
    for t in 0..p.len() {
        let d = s.bars[t].trade_date.to_string();
        for h in [1usize, 3] {
            if t >= h {
                rets.push((d.clone(), h as u32, p[t] / p[t - h] - 1.0));
            }
        }
        if t >= 4 {
            let r: Vec<f64> = (t - 3..=t).map(|i| p[i] / p[i - 1] - 1.0).collect();
            let m = r.iter().sum::<f64>() / 4.0;
            let var = r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0;
            vols.push((d, (var * 252.0).sqrt()));
        }
    }
    rets.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    (rets, vols)
}

async fn stored(db: &TestDb, id: &InstrumentId) -> Derived {
    let h = &db.historical;
    let mut rets = Vec::new();
    for hz in [1, 3] {
        for r in h
            .returns(id, hz, date_floor(), date_ceiling())
            .await
            .unwrap()
        {
            rets.push((r.trade_date.to_string(), hz, r.value));
        }
    }
    let vols = h
        .volatility(id, 4, date_floor(), date_ceiling())
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.trade_date.to_string(), v.value))
        .collect();
    (rets, vols)
}

fn assert_close(a: &[(String, u32, f64)], b: &[(String, u32, f64)]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x.0, x.1), (&y.0, y.1));
        assert!(
            (x.2 - y.2).abs() <= 1e-12 * y.2.abs().max(1.0),
            "{x:?} vs {y:?}"
        );
    }
}

async fn derived_series_equal_a_direct_computation(db: &TestDb) {
    register(db, &["AAA", "BBB", "ZZZ"]).await;
    let all = vec![
        path("AAA", 30, 0.0),
        path("BBB", 30, 2.0),
        path("ZZZ", 20, 4.0),
    ];
    db.historical.write_prices("b", &all).await.unwrap();
    let s = derive(db, "r1").await;
    assert_eq!(s.instruments, 3);
    for series in &all {
        let (want_r, want_v) = direct(series);
        let (got_r, got_v) = stored(db, &series.instrument_id).await;
        assert_close(&got_r, &want_r);
        assert_eq!(got_v.len(), want_v.len());
        for (g, w) in got_v.iter().zip(&want_v) {
            assert_eq!(g.0, w.0);
            assert!((g.1 - w.1).abs() < 1e-12, "{g:?} vs {w:?}");
        }
    }
    // Factors: the market factor is the mean one-day return of all members that day;
    // sector factors (AAA, BBB = Tech; ZZZ = Energy) of their members.
    let h = &db.historical;
    let mkt = h
        .factor("MKT:US_EQ", date_floor(), date_ceiling())
        .await
        .unwrap();
    let tech = h
        .factor("SEC:US_EQ:Tech", date_floor(), date_ceiling())
        .await
        .unwrap();
    let day = all[0].bars[5].trade_date;
    let r = |s: &InstrumentSeries| s.bars[5].adj_close / s.bars[4].adj_close - 1.0;
    let m = mkt.iter().find(|f| f.trade_date == day).unwrap();
    assert_eq!(m.members, 3);
    assert!((m.value - (r(&all[0]) + r(&all[1]) + r(&all[2])) / 3.0).abs() < 1e-15);
    let t = tech.iter().find(|f| f.trade_date == day).unwrap();
    assert!((t.value - (r(&all[0]) + r(&all[1])) / 2.0).abs() < 1e-15);
    // The market's second moment: the members' mean squared return.
    let xs2 = h
        .factor("XS2:US_EQ", date_floor(), date_ceiling())
        .await
        .unwrap();
    let x = xs2.iter().find(|f| f.trade_date == day).unwrap();
    assert_eq!(x.members, 3);
    let sq = (0..3).map(|i| r(&all[i]).powi(2)).sum::<f64>() / 3.0;
    assert!((x.value - sq).abs() < 1e-15);
    let late = all[0].bars[25].trade_date;
    assert_eq!(
        mkt.iter().find(|f| f.trade_date == late).unwrap().members,
        2,
        "ZZZ has no bar that day"
    );
    assert_eq!(
        h.factor_ids().await.unwrap(),
        [
            "MKT:US_EQ",
            "SEC:US_EQ:Energy",
            "SEC:US_EQ:Tech",
            "XS2:US_EQ"
        ]
    );
    assert!(h.derive_marks().await.unwrap().is_empty());
    // Nothing changed: nothing is recomputed.
    assert_eq!(derive(db, "r2").await.instruments, 0);
}

async fn only_new_dates_are_computed_and_results_match_a_full_run(db: &TestDb) {
    register(db, &["AAA", "BBB"]).await;
    let h = &db.historical;
    let full = vec![path("AAA", 40, 0.0), path("BBB", 40, 1.0)];
    let head: Vec<InstrumentSeries> = full
        .iter()
        .map(|s| InstrumentSeries {
            instrument_id: s.instrument_id.clone(),
            bars: s.bars[..30].to_vec(),
        })
        .collect();
    h.write_prices("b1", &head).await.unwrap();
    derive(db, "r1").await;
    h.write_prices("b2", &full).await.unwrap();
    let s = derive(db, "r2").await;
    // 10 new dates × (2 horizons + 1 window) × 2 instruments.
    assert_eq!((s.instruments, s.returns, s.volatility), (2, 40, 20));
    for series in &full {
        let (want_r, _) = direct(series);
        assert_close(&stored(db, &series.instrument_id).await.0, &want_r);
    }
    let factor = h
        .factor("MKT:US_EQ", date_floor(), date_ceiling())
        .await
        .unwrap();
    assert_eq!(
        factor.len(),
        39,
        "every date after the first has a factor value, none duplicated"
    );
}

async fn a_corrected_price_recomputes_from_its_date(db: &TestDb) {
    register(db, &["AAA"]).await;
    let h = &db.historical;
    let mut s = path("AAA", 30, 0.0);
    h.write_prices("b1", std::slice::from_ref(&s))
        .await
        .unwrap();
    derive(db, "r1").await;
    s.bars[20].adj_close *= 1.1;
    h.write_prices("b2", std::slice::from_ref(&s))
        .await
        .unwrap();
    let sum = derive(db, "r2").await;
    // From bar 20 on: 10 dates × 2 horizons of returns, 10 volatilities.
    assert_eq!((sum.returns, sum.volatility), (20, 10));
    let (want_r, want_v) = direct(&s);
    let (got_r, got_v) = stored(db, &s.instrument_id).await;
    assert_close(&got_r, &want_r);
    assert_eq!(got_v.len(), want_v.len());
    let f = h
        .factor("MKT:US_EQ", s.bars[21].trade_date, s.bars[21].trade_date)
        .await
        .unwrap();
    assert!(
        (f[0].value - (s.bars[21].adj_close / s.bars[20].adj_close - 1.0)).abs() < 1e-15,
        "factor recomputed"
    );
    let ids = h
        .returns(&s.instrument_id, 1, date_floor(), date_ceiling())
        .await
        .unwrap();
    assert_eq!(ids.len(), 29);
}

async fn rows_carry_run_and_config_ids(db: &TestDb) {
    register(db, &["AAA"]).await;
    db.historical
        .write_prices("b1", &[path("AAA", 10, 0.0)])
        .await
        .unwrap();
    derive(db, "run-42").await;
    let rows = crate::harness::text_pairs(
        db.historical.pool(),
        "SELECT DISTINCT run_id, config_id FROM returns_daily",
    )
    .await;
    assert_eq!(
        rows,
        [("run-42".to_owned(), cfg().config.config_id().to_string())]
    );
    let rows = crate::harness::text_pairs(
        db.historical.pool(),
        "SELECT DISTINCT run_id, config_id FROM factors_daily",
    )
    .await;
    assert_eq!(
        rows,
        [("run-42".to_owned(), cfg().config.config_id().to_string())]
    );
}

/// Instruments changed from the same date, one with a long history (read in the batch) and
/// one with fewer rows than the lookback (read on its own), equal a direct computation.
async fn batched_and_short_histories_derive_alike(db: &TestDb) {
    register(db, &["AAA", "CCC"]).await;
    let h = &db.historical;
    let aaa = path("AAA", 40, 0.0);
    let mut ccc = path("CCC", 40, 2.0);
    ccc.bars.drain(..28);
    let head = |s: &InstrumentSeries, until: usize| InstrumentSeries {
        instrument_id: s.instrument_id.clone(),
        bars: s
            .bars
            .iter()
            .filter(|b| b.trade_date < aaa.bars[until].trade_date)
            .cloned()
            .collect(),
    };
    h.write_prices("b1", &[head(&aaa, 30), head(&ccc, 30)])
        .await
        .unwrap();
    derive(db, "r1").await;
    h.write_prices("b2", &[aaa.clone(), ccc.clone()])
        .await
        .unwrap();
    let s = derive(db, "r2").await;
    assert_eq!(s.instruments, 2);
    for series in [&aaa, &ccc] {
        let (want_r, want_v) = direct(series);
        let (got_r, got_v) = stored(db, &series.instrument_id).await;
        assert_close(&got_r, &want_r);
        let as_rows =
            |v: Vec<(String, f64)>| v.into_iter().map(|(d, x)| (d, 4, x)).collect::<Vec<_>>();
        assert_close(&as_rows(got_v), &as_rows(want_v));
    }
}

conformance!(
    batched_and_short_histories_derive_alike,
    derived_series_equal_a_direct_computation,
    only_new_dates_are_computed_and_results_match_a_full_run,
    a_corrected_price_recomputes_from_its_date,
    rows_carry_run_and_config_ids,
);
