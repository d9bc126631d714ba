//! Reference data: markets, issuers and instruments.

use super::{InstrumentId, IssuerId, MarketId};
use serde::{Deserialize, Serialize};

/// A market: a calendar and a time zone in which trading dates are defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Market {
    /// Stable id, e.g. `US_EQ`.
    pub market_id: MarketId,
    /// Human-readable name, e.g. `New York Stock Exchange`.
    pub name: String,
    /// IANA time zone of the exchange, e.g. `America/New_York`.
    pub timezone: String,
    /// Name of the calendar rule set that defines the market's sessions.
    pub calendar: String,
}

/// An issuer: the company behind one or more instruments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    /// Stable id (for imported instruments: the symbol).
    pub issuer_id: IssuerId,
    /// Company name.
    pub name: String,
    /// Sector, when known; sector factors are built from it.
    pub sector: Option<String>,
    /// Industry, when known.
    pub industry: Option<String>,
    /// Country of domicile, when known.
    pub country: Option<String>,
}

/// Whether an instrument is currently traded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstrumentStatus {
    /// Listed and trading.
    Active,
    /// No longer trading; its history stays.
    Delisted,
}

impl InstrumentStatus {
    /// The status as stored in the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Delisted => "delisted",
        }
    }

    /// Parses a stored status; unknown text is an error the caller reports.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "delisted" => Some(Self::Delisted),
            _ => None,
        }
    }
}

/// A tradable instrument listed on one market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// `MARKET:SYMBOL`.
    pub instrument_id: InstrumentId,
    /// The issuer behind it.
    pub issuer_id: IssuerId,
    /// The market it trades on.
    pub market_id: MarketId,
    /// Ticker symbol on that market.
    pub symbol: String,
    /// One of [`ASSET_CLASSES`]; only [`is_investable`] classes enter a universe.
    pub asset_class: String,
    /// ISO currency of its prices.
    pub currency: String,
    /// Listed or delisted.
    pub status: InstrumentStatus,
}

/// The asset classes an instrument may have (`asset_class` in an instruments file; default
/// `equity`).
pub const ASSET_CLASSES: [&str; 4] = ["equity", "etf", "fund", "index"];

/// Whether a portfolio may hold an instrument of `asset_class`: an index has a price series
/// (a regime input, a benchmark) but cannot be bought.
pub fn is_investable(asset_class: &str) -> bool {
    asset_class != "index"
}
