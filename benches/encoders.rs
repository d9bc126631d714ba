//! Criterion benchmarks of the representation layer's core: the numeric window encoder on
//! one date for 5,000 instruments (window features → cross-sectional z-scores → PCA
//! projection; target ≤ 200 ms), its point-in-time PCA fit, and the hashing text encoder.
//! MiniLM is measured against Python by `scripts/bench-minilm`.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::domain::MarketId;
use prometheus::encoders::HashingParams;
use prometheus::encoders::numeric::{NumericEncoderConfig, Panel, encode_date, fit_at};
use prometheus::synthetic_market::{SyntheticMarketParams, generate, weekdays};
use std::hint::black_box;

/// `n` synthetic instruments over 2024–2025 as the encoder reads them, with the market
/// factor as the mean one-day return.
fn panel(n: usize) -> (Panel, Vec<NaiveDate>) {
    let sessions = weekdays(
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
    );
    let mut p = SyntheticMarketParams::new(n, 7, MarketId::from("US_EQ"));
    p.news_rate = 0.0;
    let m = generate(&p.check().unwrap(), &sessions);
    (Panel::from_series(&m.series), sessions)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("encoders");
    g.sample_size(10);
    let config = NumericEncoderConfig::default();
    let (panel, sessions) = panel(5000);
    let as_of = *sessions.last().unwrap();
    let model = fit_at(&config, &panel, config.refit.anchor(as_of)).unwrap();
    g.bench_function("numeric encode 5000 instruments, one date", |b| {
        b.iter(|| black_box(encode_date(&config, &panel, &model, as_of)))
    });
    g.bench_function("numeric PCA fit (12 pooled dates x 5000)", |b| {
        b.iter(|| black_box(fit_at(&config, &panel, config.refit.anchor(as_of)).unwrap()))
    });
    let enc = HashingParams::default().check().unwrap();
    let text = "Acme Corp shares fell 12% after the company cut its full-year revenue \
                guidance, citing weaker demand in Europe and rising input costs.";
    let batch: Vec<&str> = std::iter::repeat_n(text, 32).collect();
    g.bench_function("hashing encoder, batch of 32 sentences", |b| {
        b.iter(|| black_box(enc.encode_batch(&batch)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
