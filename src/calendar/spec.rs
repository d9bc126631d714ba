//! What a calendar is built from: its rule set and the exceptions kept as data in
//! `config/markets.toml`.

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The rule set of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSet {
    /// New York Stock Exchange.
    Nyse,
    /// London Stock Exchange.
    Lse,
    /// Tokyo Stock Exchange.
    Tse,
    /// Global FX (Sunday 17:00 – Friday 17:00 New York).
    Fx,
}

impl RuleSet {
    /// The rule set named `name` in `markets.toml`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "nyse" => Some(Self::Nyse),
            "lse" => Some(Self::Lse),
            "tse" => Some(Self::Tse),
            "fx" => Some(Self::Fx),
            _ => None,
        }
    }
}

/// A dated early close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyClose {
    /// The session.
    pub date: NaiveDate,
    /// Its closing time (exchange-local), written `HH:MM`.
    #[serde(with = "hhmm")]
    pub close: NaiveTime,
}

/// `HH:MM` times in configuration files.
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a time; use HH:MM")))
    }
}

/// Everything a calendar is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarSpec {
    /// The rules.
    pub rules: RuleSet,
    /// The exchange's time zone.
    pub tz: Tz,
    /// PRE_OPEN starts this long before the open.
    pub pre_open: TimeDelta,
    /// POST_CLOSE lasts this long after the close.
    pub post_close: TimeDelta,
    /// One-off holidays, and the actual dates of holidays moved in a given year. For Tokyo
    /// they are national holidays (they take part in substitute and citizens' holidays).
    pub holidays_added: Vec<NaiveDate>,
    /// Rule dates that were not holidays that year (a moved holiday's rule date).
    pub holidays_removed: Vec<NaiveDate>,
    /// Unscheduled closures (mourning, storms, outages).
    pub closures: Vec<NaiveDate>,
    /// Early closes beyond the rules.
    pub early_closes: Vec<EarlyClose>,
    /// First and last year the calendar covers.
    pub years: (i32, i32),
}
