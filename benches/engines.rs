//! Criterion benchmarks of the engines' core models: the regime fit on 30 years of daily
//! market features (target ≤ 100 ms), stability and fragility for 5,000 instruments on one
//! date (target ≤ 300 ms), a 1,000-path × 21-day × 500-instrument scenario set (target ≤ 1 s).

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::domain::MarketId;
use prometheus::encoders::numeric::Panel;
use prometheus::engines::fragility::FragilityConfig;
use prometheus::engines::regime::{MarketFeatures, MarketSeries, RegimeConfig};
use prometheus::engines::scenarios::{ReturnPanel, ScenarioKind, ScenarioParams};
use prometheus::engines::stability::{StabilityConfig, assess_market};
use prometheus::synthetic_market::{SyntheticMarketParams, generate, weekdays};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::hint::black_box;

fn history(days: usize, n: usize) -> ReturnPanel {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let start = NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
    ReturnPanel {
        dates: (0..days)
            .map(|i| start + chrono::Days::new(i as u64))
            .collect(),
        instruments: (0..n).map(|i| format!("I{i:04}")).collect(),
        returns: (0..days * n)
            .map(|_| rng.random_range(-0.04..0.04))
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engines");
    g.sample_size(10);
    let start = NaiveDate::from_ymd_opt(1995, 1, 2).unwrap();
    let sessions = weekdays(start, NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
    let params = SyntheticMarketParams::new(50, 5, MarketId::from("SYN"))
        .check()
        .unwrap();
    let market = generate(&params, &sessions);
    let cfg = RegimeConfig::default();
    let f = MarketFeatures::compute(&MarketSeries::from_bars(&market.series), 3);
    let anchor = *f.dates.last().unwrap();
    g.bench_function(
        format!(
            "regime fit: {} days of features, BIC over 2..=3 states x 3 restarts",
            f.dates.len()
        ),
        |b| b.iter(|| black_box(cfg.fit(&f, anchor).unwrap())),
    );
    // Stability + fragility: 5,000 instruments, 300 sessions, a 1,000-path ES per name.
    let sessions_5k = weekdays(
        NaiveDate::from_ymd_opt(2023, 1, 2).unwrap(),
        NaiveDate::from_ymd_opt(2024, 2, 23).unwrap(),
    );
    let big = generate(
        &SyntheticMarketParams::new(5000, 9, MarketId::from("SYN"))
            .check()
            .unwrap(),
        &sessions_5k,
    );
    let Panel {
        instruments: panel,
        market,
    } = Panel::from_series(&big.series);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let path_returns: Vec<f64> = (0..1000 * 5000)
        .map(|_| rng.random_range(-0.4..0.3))
        .collect();
    let (scfg, fcfg) = (StabilityConfig::default(), FragilityConfig::default());
    g.bench_function("stability + fragility: 5000 instruments, one date", |b| {
        b.iter(|| {
            let rows = assess_market(&scfg, &panel, &market, &BTreeMap::new(), None);
            let es = fcfg.expected_shortfalls(&path_returns, 5000);
            let out: Vec<_> = rows
                .iter()
                .zip(&es)
                .map(|(r, e)| fcfg.assess(r, *e, 21))
                .collect();
            black_box(out)
        })
    });
    let h = history(2520, 500);
    let as_of = *h.dates.last().unwrap();
    let p = ScenarioParams::default();
    for kind in [ScenarioKind::BlockBootstrap, ScenarioKind::StressedTails] {
        g.bench_function(
            format!("scenarios {kind:?}: 1000 paths x 21 days x 500 instruments"),
            |b| b.iter(|| black_box(p.generate(&kind, &h, &[], as_of).unwrap())),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
