//! News articles and the issuers they are about.

use super::{InstrumentId, IssuerId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A news article. `published_at` is the instant it became known: point-in-time reads
/// return only articles published at or before their `as_of` instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewsArticle {
    /// The source's stable article id.
    pub article_id: String,
    /// When the article was published (UTC).
    pub published_at: DateTime<Utc>,
    /// Publisher or feed name.
    pub source: String,
    /// Headline text.
    pub headline: String,
    /// Body text (may be empty).
    pub body: String,
}

/// A link from an article to an issuer (and the instrument through which it was named).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewsLink {
    /// The article.
    pub article_id: String,
    /// The issuer the article is about.
    pub issuer_id: IssuerId,
    /// The instrument symbol that named the issuer in the feed.
    pub instrument_id: InstrumentId,
}
