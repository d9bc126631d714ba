//! The built exchange calendars of the configured markets, built once per actor instead of
//! once per use: building a market's 45 years of sessions takes about a millisecond, and the
//! news windows of the text encoder and the profiles asked for it three times a session,
//! a tenth of a backfill's time.

use prometheus::calendar::ExchangeCalendar;
use prometheus::config::MarketsConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Calendars of the markets in `markets.toml`, built on first use.
#[derive(Debug)]
pub struct MarketCalendars {
    markets: Arc<MarketsConfig>,
    built: Mutex<BTreeMap<String, Arc<ExchangeCalendar>>>,
}

impl MarketCalendars {
    /// An empty cache over `markets`.
    pub fn new(markets: Arc<MarketsConfig>) -> Self {
        Self {
            markets,
            built: Mutex::new(BTreeMap::new()),
        }
    }

    /// The calendar of `market`.
    ///
    /// # Errors
    /// The market is not configured, or its calendar cannot be built (the reason).
    pub fn get(&self, market: &str) -> Result<Arc<ExchangeCalendar>, String> {
        let mut built = self
            .built
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(c) = built.get(market) {
            return Ok(Arc::clone(c));
        }
        let calendar = Arc::new(
            self.markets
                .markets
                .iter()
                .find(|m| m.id == market)
                .ok_or_else(|| format!("market {market} is not in markets.toml"))?
                .calendar()?,
        );
        built.insert(market.to_owned(), Arc::clone(&calendar));
        Ok(calendar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn builds_each_market_once_and_names_an_unknown_one() {
        let markets: MarketsConfig =
            toml::from_str(include_str!("../../../config/markets.toml")).unwrap();
        let cache = MarketCalendars::new(Arc::new(markets));
        let a = cache.get("US_EQ").unwrap();
        let b = cache.get("US_EQ").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(
            a.session(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap())
                .is_some()
        );
        let err = cache.get("XX").unwrap_err();
        assert!(err.contains("XX") && err.contains("markets.toml"), "{err}");
    }
}
