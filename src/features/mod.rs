//! Features computed from stored market data, point-in-time, for the encoders and engines.
//!
//! - [`window`] — one instrument's trailing-window features (returns, volatility, downside
//!   volatility, drawdown, trend, volume z-score, beta and correlation to the market).

pub mod window;

pub use window::{DayRow, WindowFeatures, WindowSpec};
