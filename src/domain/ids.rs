//! Strongly typed identifiers. A market id can never be passed where an instrument id is
//! expected, and every id prints as the plain string stored in the databases.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Backed by a shared string: ids are cloned into every output row, so a clone is a
        /// reference-count increment, not an allocation.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an already validated identifier string.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(Arc::from(id.as_ref()))
            }

            /// The identifier as stored in the databases.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(Arc::from(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A market (exchange calendar + time zone), e.g. `US_EQ`.
    MarketId
);
string_id!(
    /// A legal entity that issues instruments and is the subject of news and fundamentals.
    IssuerId
);
string_id!(
    /// A tradable instrument, `MARKET:SYMBOL`, e.g. `US_EQ:AAPL`.
    InstrumentId
);
string_id!(
    /// The content hash of an engine configuration's canonical form (see [`crate::config`]).
    ConfigId
);
string_id!(
    /// The run that produced an output row; chosen by the caller so the core never reads a clock.
    RunId
);

impl InstrumentId {
    /// The instrument id of `symbol` listed on `market`.
    pub fn of(market: &MarketId, symbol: &str) -> Self {
        Self(Arc::from(format!("{market}:{symbol}")))
    }

    /// The symbol part of the id (after the market prefix).
    pub fn symbol(&self) -> &str {
        self.0.split_once(':').map_or(&*self.0, |(_, s)| s)
    }

    /// The market part of the id.
    pub fn market(&self) -> MarketId {
        MarketId::new(self.0.split_once(':').map_or("", |(m, _)| m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrument_id_splits_into_market_and_symbol() {
        let id = InstrumentId::of(&MarketId::from("US_EQ"), "BRK.B");
        assert_eq!(id.as_str(), "US_EQ:BRK.B");
        assert_eq!(id.symbol(), "BRK.B");
        assert_eq!(id.market(), MarketId::from("US_EQ"));
    }
}
