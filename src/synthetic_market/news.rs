//! Synthetic news: articles arrive more often after large idiosyncratic moves and their
//! headlines carry the move's tone, so a text model has something real to find.

use crate::domain::{InstrumentId, IssuerId, NewsArticle, NewsLink};
use chrono::{NaiveDate, TimeDelta};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

/// The day's facts the writer reacts to.
pub(super) struct ShockDay {
    pub date: NaiveDate,
    /// Expected number of articles.
    pub rate: f64,
    /// Idiosyncratic log return (sets the tone).
    pub idio_return: f64,
    /// Total log return (quoted in the body).
    pub total_return: f64,
}

const GOOD: [&str; 6] = [
    "beats earnings expectations",
    "wins a major contract",
    "raises full-year guidance",
    "gets an analyst upgrade",
    "announces a share buyback",
    "reports record orders",
];
const BAD: [&str; 6] = [
    "misses earnings expectations",
    "faces a regulatory probe",
    "cuts full-year guidance",
    "gets an analyst downgrade",
    "discloses an accounting review",
    "loses a key customer",
];
const NEUTRAL: [&str; 4] = [
    "holds its annual meeting",
    "names a new board member",
    "presents at an industry conference",
    "updates its product line",
];

/// Collects one instrument's articles.
pub(super) struct NewsWriter<'a> {
    id: &'a InstrumentId,
    name: &'a str,
    seed: u64,
    articles: Vec<NewsArticle>,
    links: Vec<NewsLink>,
}

impl<'a> NewsWriter<'a> {
    pub fn new(id: &'a InstrumentId, name: &'a str, seed: u64) -> Self {
        Self {
            id,
            name,
            seed,
            articles: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Draws the day's article count and writes them, published after the session.
    pub fn maybe_publish(&mut self, rng: &mut ChaCha8Rng, day: ShockDay) {
        let Ok(poisson) = Poisson::new(day.rate) else {
            return;
        };
        let count = poisson.sample(rng) as u32;
        for k in 0..count.min(5) {
            let (verb, tone) = if day.idio_return > 0.01 {
                (GOOD[rng.random_range(0..GOOD.len())], "rises")
            } else if day.idio_return < -0.01 {
                (BAD[rng.random_range(0..BAD.len())], "falls")
            } else {
                (
                    NEUTRAL[rng.random_range(0..NEUTRAL.len())],
                    "is little changed",
                )
            };
            let published_at = day.date.and_hms_opt(21, 0, 0).unwrap_or_default().and_utc()
                + TimeDelta::minutes(i64::from(k) * 7 + rng.random_range(0..7));
            let article_id = format!("syn-{}-{}-{}-{k}", self.seed, self.id.symbol(), day.date);
            self.articles.push(NewsArticle {
                article_id: article_id.clone(),
                published_at,
                source: "synthetic-wire".into(),
                headline: format!("{} {verb}", self.name),
                body: format!(
                    "{} ({}) {tone} {:.1}% on the session after the company {verb}.",
                    self.name,
                    self.id.symbol(),
                    (day.total_return.exp() - 1.0) * 100.0
                ),
            });
            self.links.push(NewsLink {
                article_id,
                issuer_id: IssuerId::new(self.id.symbol()),
                instrument_id: self.id.clone(),
            });
        }
    }

    pub fn finish(self) -> (Vec<NewsArticle>, Vec<NewsLink>) {
        (self.articles, self.links)
    }
}
