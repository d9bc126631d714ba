//! The synthetic market as a daily feed: what "arrived" for one session, so the daily DAG
//! can ingest day by day exactly what a bulk load of the same market would contain.
//!
//! This works because the generator is prefix-stable: every random stream is consumed
//! session by session, so the history generated through date D is a prefix of the history
//! generated through any later date.

use super::generate::{HiddenRegime, SyntheticMarket, generate};
use super::params::ValidParams;
use super::weekdays;
use crate::domain::{Instrument, InstrumentSeries, Issuer, NewsArticle, NewsLink};
use chrono::{Datelike, NaiveDate};
use std::sync::Arc;

/// Everything the synthetic market published for one session.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticDay {
    /// The session.
    pub date: NaiveDate,
    /// The issuers (the same every day).
    pub issuers: Vec<Issuer>,
    /// The instruments (the same every day).
    pub instruments: Vec<Instrument>,
    /// One bar per instrument, dated `date`.
    pub bars: Vec<InstrumentSeries>,
    /// Articles published after that session.
    pub news: Vec<NewsArticle>,
    /// Their links.
    pub news_links: Vec<NewsLink>,
    /// The hidden regime of the session (ground truth).
    pub regime: HiddenRegime,
}

/// A generated market kept between days, regenerated further ahead when a later date is
/// asked for.
#[derive(Clone, Debug)]
pub struct SyntheticFeed {
    params: ValidParams,
    start: NaiveDate,
    generated: Option<Arc<SyntheticMarket>>,
}

impl SyntheticFeed {
    /// A feed whose sessions are the weekdays from `start`.
    pub fn new(params: ValidParams, start: NaiveDate) -> Self {
        Self {
            params,
            start,
            generated: None,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &ValidParams {
        &self.params
    }

    /// The market generated through at least `through` (one year further, so a daily
    /// caller regenerates about once a year).
    pub fn market_through(&mut self, through: NaiveDate) -> Arc<SyntheticMarket> {
        if let Some(m) = self
            .generated
            .as_ref()
            .filter(|m| m.regime_path.last().is_some_and(|(d, _)| *d >= through))
        {
            return Arc::clone(m);
        }
        let horizon = NaiveDate::from_ymd_opt(through.year() + 1, 12, 31).unwrap_or(through);
        let market = Arc::new(generate(&self.params, &weekdays(self.start, horizon)));
        self.generated = Some(Arc::clone(&market));
        market
    }

    /// What was published for `date`, or `None` when `date` is not a session of the feed.
    pub fn day(&mut self, date: NaiveDate) -> Option<SyntheticDay> {
        if date < self.start {
            return None;
        }
        let m = self.market_through(date);
        let t = m
            .regime_path
            .binary_search_by_key(&date, |(d, _)| *d)
            .ok()?;
        let news: Vec<NewsArticle> = m
            .news
            .iter()
            .filter(|a| a.published_at.date_naive() == date)
            .cloned()
            .collect();
        let ids: std::collections::BTreeSet<&str> =
            news.iter().map(|a| a.article_id.as_str()).collect();
        Some(SyntheticDay {
            date,
            issuers: m.issuers.clone(),
            instruments: m.instruments.clone(),
            bars: m
                .series
                .iter()
                .map(|s| InstrumentSeries {
                    instrument_id: s.instrument_id.clone(),
                    bars: vec![s.bars[t]],
                })
                .collect(),
            news_links: m
                .news_links
                .iter()
                .filter(|l| ids.contains(l.article_id.as_str()))
                .cloned()
                .collect(),
            news,
            regime: m.regime_path[t].1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MarketId;
    use crate::synthetic_market::SyntheticMarketParams;

    #[test]
    fn days_equal_the_bulk_history() {
        let params = SyntheticMarketParams::new(8, 5, MarketId::from("US_EQ"))
            .check()
            .unwrap();
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2021, 6, 30).unwrap();
        let bulk = generate(&params, &weekdays(start, end));
        let mut feed = SyntheticFeed::new(params, start);
        for (t, (date, regime)) in bulk.regime_path.iter().enumerate().step_by(37) {
            let day = feed.day(*date).unwrap();
            assert_eq!(day.regime, *regime);
            for (s, d) in bulk.series.iter().zip(&day.bars) {
                assert_eq!(s.bars[t], d.bars[0]);
            }
            let bulk_news: Vec<_> = bulk
                .news
                .iter()
                .filter(|a| a.published_at.date_naive() == *date)
                .collect();
            assert_eq!(bulk_news.len(), day.news.len());
        }
        assert!(
            feed.day(NaiveDate::from_ymd_opt(2020, 1, 4).unwrap())
                .is_none(),
            "a Saturday"
        );
        assert!(
            feed.day(NaiveDate::from_ymd_opt(2019, 12, 31).unwrap())
                .is_none(),
            "before the start"
        );
    }
}
