//! The regime engine on real market history: tuned on one history, held out on another.
//!
//! - Tuning history: the equal-weighted market of 20 large S&P 500 stocks, 1990–2022
//!   (skfolio's bundled dataset) — what the engine sees after `pv2 import prices` of those
//!   closes. `crisis_vol_ratio` and `crisis_drawdown` were chosen on it.
//! - Hold-out: the NASDAQ Composite index alone, 1999–2018 (arch's bundled dataset): another
//!   index, a more volatile market, and no cross-section. Nothing was tuned on it.
//!
//! Checks on both: the worst episodes are CRISIS, ordinary sell-offs are stressed (if late:
//! 40% of their sessions or more) but not CRISIS, calm years are calm, every label is used, and the labels order what the market
//! did next (realised volatility over the following 21 sessions, highest after CRISIS). On
//! the tuning history the CRISIS definition holds whether the mixture has 2, 3 or 4 states.
//! The tables are printed (`cargo test --test real_regimes -- --nocapture`); the README
//! quotes them.

use chrono::NaiveDate;
use prometheus::domain::{DailyBar, InstrumentId, InstrumentSeries};
use prometheus::engines::calibration::{LabelCalibration, calibrate};
use prometheus::engines::regime::{
    MarketSeries, RegimeConfig, RegimeDay, RegimeLabel, regime_history,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The real-data directory, fetched on first use by `scripts/fetch-real-data` (pinned wheels
/// from PyPI; no other network).
fn real_data(file: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("PV2_REAL_DATA_DIR")
        .map_or_else(|| repo.join("target/real-data"), PathBuf::from);
    let path = dir.join(file);
    if !path.exists() {
        let out = std::process::Command::new(repo.join("scripts/fetch-real-data"))
            .output()
            .expect("running scripts/fetch-real-data");
        assert!(
            out.status.success(),
            "scripts/fetch-real-data failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    path
}

fn bar(trade_date: NaiveDate, adj_close: f64) -> DailyBar {
    DailyBar {
        trade_date,
        open: None,
        high: None,
        low: None,
        close: None,
        adj_close,
        volume: None,
    }
}

/// Every column of a wide close file (`Date,SYM1,SYM2,…`) as a series.
fn wide(path: &Path) -> Vec<InstrumentSeries> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut series: Vec<InstrumentSeries> = header[1..]
        .iter()
        .map(|s| InstrumentSeries {
            instrument_id: InstrumentId::from(format!("US_EQ:{s}").as_str()),
            bars: Vec::new(),
        })
        .collect();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let date: NaiveDate = cells[0].parse().unwrap();
        for (s, cell) in series.iter_mut().zip(&cells[1..]) {
            if let Ok(v) = cell.parse::<f64>() {
                s.bars.push(bar(date, v));
            }
        }
    }
    series
}

/// The adjusted closes of a Yahoo-layout file as one series.
fn yahoo(path: &Path, id: &str) -> InstrumentSeries {
    let text = std::fs::read_to_string(path).unwrap();
    let bars = text
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            bar(cells[0].parse().unwrap(), cells[5].parse().unwrap())
        })
        .collect();
    InstrumentSeries {
        instrument_id: InstrumentId::from(id),
        bars,
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A named window of sessions.
struct Window {
    name: &'static str,
    from: &'static str,
    to: &'static str,
}

const fn w(name: &'static str, from: &'static str, to: &'static str) -> Window {
    Window { name, from, to }
}

/// Label counts of the days in `win`.
fn shares(days: &[RegimeDay], win: &Window) -> (usize, BTreeMap<RegimeLabel, usize>) {
    let mut out = BTreeMap::new();
    let mut n = 0;
    for day in days
        .iter()
        .filter(|x| x.date >= d(win.from) && x.date <= d(win.to))
    {
        n += 1;
        *out.entry(day.label).or_insert(0) += 1;
    }
    (n, out)
}

fn share(days: &[RegimeDay], win: &Window, f: impl Fn(RegimeLabel) -> bool) -> f64 {
    let (n, counts) = shares(days, win);
    assert!(n > 0, "no labelled day in {}", win.name);
    counts
        .iter()
        .filter(|(l, _)| f(**l))
        .map(|(_, c)| *c)
        .sum::<usize>() as f64
        / n as f64
}

fn print_table(title: &str, days: &[RegimeDay], windows: &[&[Window]]) {
    println!("\n{title}");
    println!(
        "| window | sessions | CRISIS | RISK_OFF | NEUTRAL | CARRY |\n|---|---:|---:|---:|---:|---:|"
    );
    for win in windows.iter().flat_map(|w| w.iter()) {
        let (n, counts) = shares(days, win);
        let cell = |l: RegimeLabel| counts.get(&l).copied().unwrap_or(0);
        println!(
            "| {} ({} … {}) | {n} | {} | {} | {} | {} |",
            win.name,
            win.from,
            win.to,
            cell(RegimeLabel::Crisis),
            cell(RegimeLabel::RiskOff),
            cell(RegimeLabel::Neutral),
            cell(RegimeLabel::Carry)
        );
    }
}

fn calibration_of(days: &[RegimeDay], s: &MarketSeries) -> Vec<LabelCalibration> {
    let labels: Vec<(NaiveDate, RegimeLabel)> = days.iter().map(|x| (x.date, x.label)).collect();
    let c = calibrate(&labels, &s.dates, &s.market);
    println!(
        "| label | sessions | share | next-21 vol | next-21 return (mean / median) | next-21 loss share | next-21 drawdown (mean / worst) |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for l in &c {
        println!(
            "| {} | {} | {:.1}% | {:.1}% | {:+.2}% / {:+.2}% | {:.0}% | {:.1}% / {:.1}% |",
            l.label,
            l.days,
            100.0 * l.share,
            100.0 * l.mean_vol,
            100.0 * l.mean_return,
            100.0 * l.median_return,
            100.0 * l.loss_share,
            100.0 * l.mean_drawdown,
            100.0 * l.worst_drawdown
        );
    }
    c
}

/// Every label used on at least 1% of the days, and the next month's realised volatility
/// ordered CRISIS > RISK_OFF > NEUTRAL and CARRY.
fn check_calibration(history: &str, c: &[LabelCalibration]) {
    let of = |l: RegimeLabel| {
        c.iter()
            .find(|x| x.label == l)
            .unwrap_or_else(|| panic!("{history}: {l} never used"))
    };
    for l in RegimeLabel::ALL {
        assert!(
            of(l).share >= 0.01,
            "{history}: {l} on {:.3} of days",
            of(l).share
        );
    }
    let vol = |l: RegimeLabel| of(l).mean_vol;
    assert!(
        vol(RegimeLabel::Crisis) > vol(RegimeLabel::RiskOff)
            && vol(RegimeLabel::RiskOff) > vol(RegimeLabel::Neutral).max(vol(RegimeLabel::Carry)),
        "{history}: next-month volatility by label {c:?}"
    );
}

/// The worst episodes: mostly CRISIS.
const SP_WORST: [Window; 2] = [
    w("2008 crash", "2008-10-01", "2008-12-31"),
    w("2020 crash", "2020-03-09", "2020-04-07"),
];
/// Ordinary sell-offs: stressed on 40% of their sessions or more, hardly CRISIS.
const SP_ORDINARY: [Window; 4] = [
    w("2011 downgrade", "2011-08-04", "2011-10-04"),
    w("2015 devaluation", "2015-08-20", "2015-09-30"),
    w("2018 Q4", "2018-10-10", "2018-12-24"),
    w("2022 bear market", "2022-05-01", "2022-10-14"),
];
/// Other stress, reported only.
const SP_OTHER: [Window; 3] = [
    w("1998 LTCM", "1998-08-04", "1998-10-15"),
    w("2002 bear market", "2002-07-01", "2002-10-15"),
    w("2009 to the low", "2009-01-02", "2009-03-09"),
];
/// Calm years: no CRISIS, hardly stressed.
const SP_CALM: [Window; 4] = [
    w("1995", "1995-01-01", "1995-12-31"),
    w("2005", "2005-01-01", "2005-12-31"),
    w("2013", "2013-01-01", "2013-12-31"),
    w("2017", "2017-01-01", "2017-12-31"),
];

fn check_episodes(
    history: &str,
    days: &[RegimeDay],
    worst: &[Window],
    ordinary: &[Window],
    calm: &[Window],
) {
    for win in worst {
        let c = share(days, win, |l| l == RegimeLabel::Crisis);
        assert!(
            c >= 0.5,
            "{history}: {} CRISIS on {c:.2} of its days",
            win.name
        );
    }
    for win in ordinary {
        let s = share(days, win, RegimeLabel::is_stressed);
        let c = share(days, win, |l| l == RegimeLabel::Crisis);
        // Slow sell-offs are called late: late 2018 is stressed on about half its sessions.
        assert!(
            s >= 0.4 && c <= 0.1,
            "{history}: {} stressed {s:.2}, CRISIS {c:.2}",
            win.name
        );
    }
    for win in calm {
        let s = share(days, win, RegimeLabel::is_stressed);
        let c = share(days, win, |l| l == RegimeLabel::Crisis);
        assert!(
            s <= 0.1 && c == 0.0,
            "{history}: {} stressed {s:.2}, CRISIS {c:.2}",
            win.name
        );
    }
}

#[test]
fn tuning_history_sp500_stocks_1990_2022() {
    let series = MarketSeries::from_bars(&wide(&real_data("sp500_stocks.csv")));
    let cfg = RegimeConfig::default();
    let (days, _) = regime_history(&cfg, &series).unwrap();
    print_table(
        "S&P 500 stocks (tuning), shipped config: sessions per label",
        &days,
        &[&SP_WORST, &SP_ORDINARY, &SP_OTHER, &SP_CALM],
    );
    let c = calibration_of(&days, &series);
    check_episodes("S&P 500 stocks", &days, &SP_WORST, &SP_ORDINARY, &SP_CALM);
    check_calibration("S&P 500 stocks", &c);
}

#[test]
fn tuning_history_crisis_holds_with_two_three_or_four_states() {
    let series = MarketSeries::from_bars(&wide(&real_data("sp500_stocks.csv")));
    for states in [2, 3, 4] {
        let cfg = RegimeConfig {
            min_states: states,
            max_states: states,
            refit: prometheus::encoders::numeric::Refit::Quarterly,
            ..RegimeConfig::default()
        };
        let (days, _) = regime_history(&cfg, &series).unwrap();
        print_table(
            &format!("S&P 500 stocks, {states} states"),
            &days,
            &[&SP_WORST, &SP_CALM],
        );
        for win in &SP_WORST {
            let c = share(&days, win, |l| l == RegimeLabel::Crisis);
            assert!(c >= 0.5, "{states} states: {} CRISIS on {c:.2}", win.name);
        }
        for win in &SP_CALM {
            let c = share(&days, win, |l| l == RegimeLabel::Crisis);
            assert_eq!(c, 0.0, "{states} states: {} CRISIS on {c:.2}", win.name);
        }
    }
}

#[test]
fn held_out_nasdaq_composite_1999_2018() {
    let index = yahoo(&real_data("nasdaq_composite.csv"), "US_EQ:NASDAQ");
    let series = MarketSeries::from_bars(&[index]);
    let (days, _) = regime_history(&RegimeConfig::default(), &series).unwrap();
    let worst = [w("2008 crash", "2008-10-01", "2008-12-31")];
    let ordinary = [
        w("2011 downgrade", "2011-08-04", "2011-10-04"),
        w("2015 devaluation", "2015-08-20", "2015-09-30"),
        w("2018 Q4", "2018-10-10", "2018-12-24"),
    ];
    let other = [
        w("2000 dot-com top", "2000-04-03", "2000-05-31"),
        w("2000-01 dot-com crash", "2000-11-01", "2001-04-30"),
        w("2001 9/11", "2001-09-17", "2001-10-15"),
        w("2002 bear market", "2002-07-01", "2002-10-15"),
    ];
    let calm = [
        w("2005", "2005-01-01", "2005-12-31"),
        w("2013", "2013-01-01", "2013-12-31"),
        w("2017", "2017-01-01", "2017-12-31"),
    ];
    print_table(
        "NASDAQ Composite (held out), shipped config: sessions per label",
        &days,
        &[&worst, &ordinary, &other, &calm],
    );
    let c = calibration_of(&days, &series);
    check_episodes("NASDAQ Composite", &days, &worst, &ordinary, &calm);
    check_calibration("NASDAQ Composite", &c);
}
