//! A seeded, deterministic synthetic market.
//!
//! A hidden Markov regime path (calm / stressed / crisis, each persistent) drives a market
//! factor and sector factors with regime-dependent drift and volatility; each instrument adds
//! its own beta, fat-tailed (Student-t) idiosyncratic noise and occasional negative jumps,
//! all amplified by a latent *fragility* in stressed regimes. Volumes rise with shocks and
//! stress; news articles arrive more often after large moves and carry their tone.
//!
//! The generator returns the truth next to the data — the regime of every session and each
//! instrument's latent traits — so engines can be scored against it.
//!
//! Parameters follow the linfa pattern: [`SyntheticMarketParams`] → `check()` →
//! [`ValidParams`] → [`generate`]. The seed is a parameter; the same parameters and sessions
//! give bit-identical output, and instrument `i`'s history depends only on the seed and `i`
//! (its own random stream), not on how many instruments are generated.

mod feed;
mod generate;
mod names;
mod news;
mod params;

pub use feed::{SyntheticDay, SyntheticFeed};
pub use generate::{HiddenRegime, InstrumentTraits, SyntheticMarket, generate};
pub use params::{RegimeDynamics, SyntheticMarketParams, SyntheticParamsError, ValidParams};

use chrono::{Datelike, NaiveDate, Weekday};

/// Monday–Friday dates in `[from, to]`: the session list used when no exchange calendar is
/// wanted (benchmarks, unit tests).
pub fn weekdays(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MarketId;

    fn market(n: usize, seed: u64, days: usize) -> SyntheticMarket {
        let sessions: Vec<NaiveDate> = weekdays(
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
        )
        .into_iter()
        .take(days)
        .collect();
        generate(
            &SyntheticMarketParams::new(n, seed, MarketId::from("US_EQ"))
                .check()
                .unwrap(),
            &sessions,
        )
    }

    #[test]
    fn same_seed_same_market_bit_for_bit() {
        let a = market(20, 7, 300);
        let b = market(20, 7, 300);
        assert_eq!(a, b);
        let c = market(20, 8, 300);
        assert_ne!(a.series, c.series);
        assert_ne!(a.regime_path, c.regime_path);
    }

    #[test]
    fn an_instruments_history_does_not_depend_on_how_many_are_generated() {
        let small = market(5, 7, 200);
        let large = market(40, 7, 200);
        assert_eq!(small.series[..], large.series[..5]);
        assert_eq!(small.regime_path, large.regime_path);
    }

    #[test]
    fn bars_are_valid_and_regimes_persist() {
        let m = market(30, 7, 2500);
        for s in &m.series {
            for b in &s.bars {
                let (o, h, l, c) = (
                    b.open.unwrap(),
                    b.high.unwrap(),
                    b.low.unwrap(),
                    b.close.unwrap(),
                );
                assert!(
                    l > 0.0 && l <= o.min(c) && h >= o.max(c) && b.volume.unwrap() >= 0.0,
                    "{b:?}"
                );
                assert_eq!(b.adj_close, c);
            }
        }
        let switches = m
            .regime_path
            .windows(2)
            .filter(|w| w[0].1 != w[1].1)
            .count();
        assert!(
            switches > 5 && switches < 250,
            "regimes switch but persist: {switches} switches in 2500 days"
        );
        for r in [
            HiddenRegime::Calm,
            HiddenRegime::Stressed,
            HiddenRegime::Crisis,
        ] {
            assert!(m.regime_path.iter().any(|(_, x)| *x == r), "{r:?} occurs");
        }
    }

    #[test]
    fn crises_are_volatile_and_fragile_names_fall_harder() {
        let m = market(200, 11, 2500);
        let idx = |r: HiddenRegime| -> Vec<usize> {
            m.regime_path
                .iter()
                .enumerate()
                .filter(|(_, (_, x))| *x == r)
                .map(|(i, _)| i)
                .filter(|i| *i > 0)
                .collect()
        };
        let mean_abs = |days: &[usize]| {
            let mut sum = 0.0;
            for s in &m.series {
                for &t in days {
                    sum += (s.bars[t].adj_close / s.bars[t - 1].adj_close).ln().abs();
                }
            }
            sum / (days.len() * m.series.len()) as f64
        };
        let (calm, crisis) = (idx(HiddenRegime::Calm), idx(HiddenRegime::Crisis));
        assert!(mean_abs(&crisis) > 2.0 * mean_abs(&calm));
        let crisis_return = |i: usize| {
            crisis
                .iter()
                .map(|&t| (m.series[i].bars[t].adj_close / m.series[i].bars[t - 1].adj_close).ln())
                .sum::<f64>()
        };
        let mut by_fragility: Vec<(f64, f64)> = (0..m.series.len())
            .map(|i| (m.traits[i].fragility, crisis_return(i)))
            .collect();
        by_fragility.sort_by(|a, b| a.0.total_cmp(&b.0));
        let third = by_fragility.len() / 3;
        let robust: f64 = by_fragility[..third].iter().map(|x| x.1).sum::<f64>() / third as f64;
        let fragile: f64 = by_fragility[2 * third..].iter().map(|x| x.1).sum::<f64>()
            / (by_fragility.len() - 2 * third) as f64;
        assert!(
            fragile < robust,
            "fragile names lose more in crises: {fragile} vs {robust}"
        );
    }

    #[test]
    fn news_follows_shocks_and_is_published_after_the_session() {
        let m = market(50, 7, 1000);
        assert!(!m.news.is_empty());
        assert_eq!(m.news.len(), m.news_links.len());
        let dates: std::collections::BTreeSet<NaiveDate> =
            m.regime_path.iter().map(|(d, _)| *d).collect();
        for a in &m.news {
            assert!(dates.contains(&a.published_at.date_naive()));
            assert!(a.published_at.time() >= chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap());
        }
        let negative = m.news.iter().filter(|a| a.body.contains(" falls ")).count();
        let positive = m.news.iter().filter(|a| a.body.contains(" rises ")).count();
        assert!(negative > 0 && positive > 0);
    }

    #[test]
    fn bad_parameters_are_all_reported() {
        let mut p = SyntheticMarketParams::new(0, 1, MarketId::from("US_EQ"));
        p.tail_dof = 2.0;
        p.dynamics.transition[1] = [0.5, 0.5, 0.5];
        let e = p.check().unwrap_err();
        assert_eq!(e.0.len(), 3, "{e}");
    }
}
