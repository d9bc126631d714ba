//! Criterion benchmarks of the engines' core models: a 1,000-path × 21-day × 500-instrument
//! scenario set (target ≤ 1 s).

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::engines::scenarios::{ReturnPanel, ScenarioKind, ScenarioParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
