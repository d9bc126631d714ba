//! Criterion benchmarks of the pure core arithmetic behind ingestion: synthetic market
//! generation and derived series (returns, volatility, factors) on one market.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::derived::{
    DerivedConfig, FactorMembership, factor_values, returns_from, volatility_from,
};
use prometheus::domain::{MarketId, ReturnValue, date_floor};
use prometheus::synthetic_market::{SyntheticMarket, SyntheticMarketParams, generate, weekdays};
use std::hint::black_box;

fn market(n: usize) -> SyntheticMarket {
    let sessions = weekdays(
        NaiveDate::from_ymd_opt(2016, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
    );
    let mut p = SyntheticMarketParams::new(n, 7, MarketId::from("US_EQ"));
    p.news_rate = 0.0;
    generate(&p.check().unwrap(), &sessions)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("core");
    g.sample_size(10);
    g.bench_function("generate 100 instruments x 10y", |b| {
        b.iter(|| black_box(market(100)))
    });
    let m = market(500);
    let cfg = DerivedConfig::default();
    let closes: Vec<Vec<(NaiveDate, f64)>> = m
        .series
        .iter()
        .map(|s| s.bars.iter().map(|b| (b.trade_date, b.adj_close)).collect())
        .collect();
    g.bench_function("returns+volatility 500 instruments x 10y", |b| {
        b.iter(|| {
            for (s, c) in m.series.iter().zip(&closes) {
                black_box(returns_from(
                    &s.instrument_id,
                    c,
                    date_floor(),
                    &cfg.return_horizons,
                ));
                black_box(volatility_from(
                    &s.instrument_id,
                    c,
                    date_floor(),
                    &cfg.vol_windows,
                    cfg.annualisation_days,
                ));
            }
        });
    });
    let mut one_day: Vec<ReturnValue> = m
        .series
        .iter()
        .zip(&closes)
        .flat_map(|(s, c)| returns_from(&s.instrument_id, c, date_floor(), &[1]))
        .collect();
    one_day.sort_by(|a, b| (a.trade_date, &a.instrument_id).cmp(&(b.trade_date, &b.instrument_id)));
    let membership = FactorMembership {
        of: m
            .traits
            .iter()
            .map(|t| {
                (
                    t.instrument_id.clone(),
                    vec!["MKT:US_EQ".to_owned(), format!("SEC:US_EQ:{}", t.sector)],
                )
            })
            .collect(),
    };
    g.bench_function("factors 500 instruments x 10y", |b| {
        b.iter(|| black_box(factor_values(&one_day, &membership)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
