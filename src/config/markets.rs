//! The markets Prometheus knows, from `config/markets.toml`.

use super::error::Issues;
use crate::calendar::{CalendarSpec, EarlyClose, ExchangeCalendar, RuleSet};
use crate::domain::{Market, MarketId};
use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

/// All `[[market]]` entries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketsConfig {
    /// One entry per market.
    #[serde(default, rename = "market")]
    pub markets: Vec<MarketConfig>,
}

/// One market entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Stable id, e.g. `US_EQ`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// Calendar rule set.
    pub calendar: String,
    /// ISO currency instruments of this market are quoted in unless an import says otherwise.
    pub currency: String,
    /// PRE_OPEN starts this many minutes before the open.
    #[serde(default = "default_pre_open")]
    pub pre_open_minutes: u32,
    /// POST_CLOSE lasts this many minutes after the close.
    #[serde(default = "default_post_close")]
    pub post_close_minutes: u32,
    /// One-off holidays and the actual dates of moved holidays (`"YYYY-MM-DD"`).
    #[serde(default)]
    pub holidays_added: Vec<NaiveDate>,
    /// Rule dates that were not holidays in a year (a moved holiday's rule date).
    #[serde(default)]
    pub holidays_removed: Vec<NaiveDate>,
    /// Unscheduled closures (mourning, storms, outages).
    #[serde(default)]
    pub closures: Vec<NaiveDate>,
    /// Early closes beyond the rules: `{ date = "YYYY-MM-DD", close = "HH:MM" }`.
    #[serde(default)]
    pub early_closes: Vec<EarlyClose>,
}

fn default_pre_open() -> u32 {
    60
}

fn default_post_close() -> u32 {
    60
}

/// The years every calendar covers.
pub const CALENDAR_YEARS: (i32, i32) = (1990, 2035);

impl MarketConfig {
    /// The calendar spec of this market.
    ///
    /// # Errors
    /// An unknown rule set or time zone (also reported by `validate`).
    pub fn calendar_spec(&self) -> Result<CalendarSpec, String> {
        let rules = RuleSet::parse(&self.calendar)
            .ok_or_else(|| format!("unknown calendar `{}`", self.calendar))?;
        let tz = self
            .timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| format!("unknown time zone `{}`", self.timezone))?;
        Ok(CalendarSpec {
            rules,
            tz,
            pre_open: TimeDelta::minutes(i64::from(self.pre_open_minutes)),
            post_close: TimeDelta::minutes(i64::from(self.post_close_minutes)),
            holidays_added: self.holidays_added.clone(),
            holidays_removed: self.holidays_removed.clone(),
            closures: self.closures.clone(),
            early_closes: self.early_closes.clone(),
            years: CALENDAR_YEARS,
        })
    }

    /// The built calendar of this market.
    ///
    /// # Errors
    /// An invalid spec or a calendar that cannot be built.
    pub fn calendar(&self) -> Result<ExchangeCalendar, String> {
        ExchangeCalendar::build(self.calendar_spec()?).map_err(|e| e.to_string())
    }
}

impl MarketsConfig {
    /// Records every invalid entry: empty or duplicate ids, unknown time zones.
    pub fn validate(&self, issues: &mut Issues) {
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in self.markets.iter().enumerate() {
            let key = format!("market[{i}]");
            issues.check(!is_valid_market_id(&m.id), &format!("{key}.id"), || {
                format!(
                    "`{}` is not a market id; use upper-case letters, digits and `_`",
                    m.id
                )
            });
            issues.check(!seen.insert(m.id.clone()), &format!("{key}.id"), || {
                format!("market `{}` is defined twice", m.id)
            });
            issues.check(
                !(m.currency.len() == 3 && m.currency.chars().all(|c| c.is_ascii_uppercase())),
                &format!("{key}.currency"),
                || format!("`{}` is not an ISO currency code (e.g. USD)", m.currency),
            );
            issues.check(
                m.timezone.parse::<chrono_tz::Tz>().is_err(),
                &format!("{key}.timezone"),
                || {
                    format!(
                        "`{}` is not an IANA time zone (e.g. America/New_York)",
                        m.timezone
                    )
                },
            );
        }
    }

    /// The entries as domain markets.
    pub fn to_markets(&self) -> Vec<Market> {
        self.markets
            .iter()
            .map(|m| Market {
                market_id: MarketId::new(&m.id),
                name: m.name.clone(),
                timezone: m.timezone.clone(),
                calendar: m.calendar.clone(),
            })
            .collect()
    }
}

/// Market ids are short upper-case tokens so they can prefix instrument ids (`US_EQ:AAPL`).
pub fn is_valid_market_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}
