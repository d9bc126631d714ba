//! Backtesting's core: strategies, the simulated broker and performance metrics.
//!
//! A backtest is not a separate model: the actors drive the same engines over history on
//! the strategy's rebalance dates (the runner lives in the actor crate); what is here is
//! the part that needs no actors.
//!
//! - [`strategy`] — the strategy file: engines, rebalance schedule, benchmark, broker.
//! - [`broker`] — orders from target deltas, fills, costs, the daily equity curve.
//! - [`metrics`] — CAGR, volatility, Sharpe, Sortino, drawdown, Calmar, turnover, hit
//!   rate, tracking error and information ratio, overall and by regime.
//! - [`inference`] — block-bootstrap confidence intervals and Newey–West t-statistics.

pub mod broker;
pub mod inference;
pub mod metrics;
pub mod strategy;
