//! The markets Prometheus knows, from `config/markets.toml`.

use super::error::Issues;
use crate::domain::{Market, MarketId};
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
