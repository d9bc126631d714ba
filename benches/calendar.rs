//! Calendar benchmarks: building a market's calendar for 1990–2035 from its rules and
//! configuration (every session with UTC open, close and break), and listing those 45
//! years of sessions from a built calendar. Target: ≤ 5 ms for the listing.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::calendar::ExchangeCalendar;
use prometheus::config::ConfigSource;
use std::hint::black_box;
use std::path::Path;

fn bench(c: &mut Criterion) {
    let src = ConfigSource::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        Vec::new(),
    )
    .unwrap();
    let markets = src.load_markets().unwrap();
    let mut g = c.benchmark_group("calendar");
    for id in ["US_EQ", "EU_EQ", "JP_EQ"] {
        let m = markets.markets.iter().find(|m| m.id == id).unwrap();
        let spec = m.calendar_spec().unwrap();
        g.bench_function(format!("{id} build 1990-2035"), |b| {
            b.iter(|| black_box(ExchangeCalendar::build(spec.clone()).unwrap()))
        });
        let cal = ExchangeCalendar::build(spec.clone()).unwrap();
        let (from, to) = (
            NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2035, 12, 31).unwrap(),
        );
        g.bench_function(
            format!("{id} list sessions 1990-2035 (build + list)"),
            |b| {
                b.iter(|| {
                    let cal = ExchangeCalendar::build(spec.clone()).unwrap();
                    black_box(
                        cal.sessions(from, to)
                            .iter()
                            .map(|s| (s.date, s.open, s.close, s.early_close))
                            .collect::<Vec<_>>(),
                    )
                })
            },
        );
        g.bench_function(format!("{id} list sessions 1990-2035 (built)"), |b| {
            b.iter(|| {
                black_box(
                    cal.sessions(from, to)
                        .iter()
                        .map(|s| (s.date, s.open, s.close, s.early_close))
                        .collect::<Vec<_>>(),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
