//! Features computed from stored market data, point-in-time, for the encoders and engines.
//!
//! - [`window`] — one instrument's trailing-window features (returns, volatility, downside
//!   volatility, drawdown, trend, volume z-score, beta and correlation to the market).
//! - [`cross_section`] — z-scores of each feature across the instruments of one date.
//! - [`load`] — a market's panel read from the store, bounded by `as_of`.

pub mod cross_section;
pub mod load;
pub mod window;

pub use cross_section::standardise;
pub use window::{DayRow, SharedRows, WindowFeatures, WindowSpec};
