//! The point-in-time audit of price reads, and the one deliberate way around it.
//!
//! Every engine reads prices through [`super::job::JobContext::panel`], bounded by the
//! job's as-of date. A spine can audit that bound: every panel a job is given is checked
//! for rows dated after the job's date, and where a look-ahead is in force the panel is
//! also compared, on sampled dates (a fifth of them, by date, so the count is the same on
//! every run), with the store's point-in-time read for that date — future values under
//! today's dates pass the date check and fail this one. Kronos's experiments audit their
//! backtests, and the `point_in_time` gate fails a candidate with any panel that broke
//! the bound.
//!
//! A look-ahead ([`LookAhead`]) makes one engine's panels carry the prices of `sessions`
//! sessions later under today's dates: a config that reads the future. It exists only
//! for Kronos's "reads the future" negative control (set by an experiment's spec, never by
//! an engine config), so the audit can be shown to catch what it is there to catch.

use prometheus::encoders::numeric::Panel;
pub use prometheus::kronos::experiment::LookAhead;
use std::sync::atomic::{AtomicU64, Ordering};

/// A spine's read policy and what its audit found.
#[derive(Debug, Default)]
pub struct ReadAudit {
    /// Compare sampled panels with the point-in-time read.
    audit: bool,
    /// The control's look-ahead, if any.
    look_ahead: Option<LookAhead>,
    /// Panels that broke the bound.
    future_reads: AtomicU64,
    /// Panels checked.
    audited: AtomicU64,
}

impl ReadAudit {
    /// A policy: audit or not, with an optional look-ahead.
    pub fn new(audit: bool, look_ahead: Option<LookAhead>) -> Self {
        Self {
            audit,
            look_ahead,
            ..Self::default()
        }
    }

    /// Sessions of look-ahead for `actor`'s panels (0: none).
    pub fn look_ahead_for(&self, actor: &str) -> u32 {
        self.look_ahead
            .as_ref()
            .filter(|l| l.engine == actor)
            .map_or(0, |l| l.sessions)
    }

    /// Whether reads are audited.
    pub fn auditing(&self) -> bool {
        self.audit
    }

    /// Whether a look-ahead panel for `as_of` is compared with the point-in-time read
    /// (one date in five).
    pub fn audits(&self, as_of: chrono::NaiveDate) -> bool {
        use chrono::Datelike;
        self.audit && as_of.num_days_from_ce() % 5 == 0
    }

    /// Records one check.
    pub fn record(&self, matched: bool) {
        self.audited.fetch_add(1, Ordering::Relaxed);
        if !matched {
            self.future_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Panels that broke the bound.
    pub fn future_reads(&self) -> u64 {
        self.future_reads.load(Ordering::Relaxed)
    }

    /// Panels checked.
    pub fn audited(&self) -> u64 {
        self.audited.load(Ordering::Relaxed)
    }
}

/// `extended` (read through `sessions` sessions after `as_of`) with each series moved
/// `sessions` rows earlier and cut at `as_of`: future prices under today's dates.
pub fn shifted(extended: Panel, as_of: chrono::NaiveDate, sessions: usize) -> Panel {
    let instruments = extended
        .instruments
        .into_iter()
        .map(|(id, rows)| {
            let last = rows.len().saturating_sub(1);
            let moved = rows
                .iter()
                .enumerate()
                .take_while(|(_, r)| r.date <= as_of)
                .map(|(i, r)| {
                    let from = &rows[(i + sessions).min(last)];
                    prometheus::features::window::DayRow {
                        date: r.date,
                        close: from.close,
                        volume: from.volume,
                    }
                })
                .collect();
            (id, moved)
        })
        .collect();
    let m = &extended.market;
    let last = m.len().saturating_sub(1);
    let market = m
        .iter()
        .enumerate()
        .take_while(|(_, (d, _))| *d <= as_of)
        .map(|(i, (d, _))| (*d, m[(i + sessions).min(last)].1))
        .collect();
    Panel {
        instruments,
        market,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use prometheus::features::window::DayRow;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, d).unwrap()
    }

    #[test]
    fn a_shifted_panel_shows_later_prices_under_today_s_dates() {
        let rows = (1..=6)
            .map(|d| DayRow {
                date: day(d),
                close: f64::from(d),
                volume: None,
            })
            .collect();
        let panel = Panel {
            instruments: [("A".to_owned(), rows)].into(),
            market: (1..=6).map(|d| (day(d), f64::from(d) / 100.0)).collect(),
        };
        let s = shifted(panel, day(4), 2);
        let a = &s.instruments["A"];
        assert_eq!(
            a.iter().map(|r| r.date).collect::<Vec<_>>(),
            (1..=4).map(day).collect::<Vec<_>>()
        );
        assert_eq!(
            a.iter().map(|r| r.close).collect::<Vec<_>>(),
            vec![3.0, 4.0, 5.0, 6.0]
        );
        assert_eq!(s.market.last(), Some(&(day(4), 0.06)));
        let audit = ReadAudit::new(
            true,
            Some(LookAhead {
                engine: "assessment".into(),
                sessions: 2,
            }),
        );
        assert_eq!(audit.look_ahead_for("assessment"), 2);
        assert_eq!(audit.look_ahead_for("portfolio"), 0);
        audit.record(true);
        audit.record(false);
        assert_eq!((audit.audited(), audit.future_reads()), (2, 1));
        assert!(!ReadAudit::default().audits(day(5)));
    }
}
