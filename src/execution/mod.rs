//! Execution's core: what the daemon's execution actor needs that involves no actor and no
//! database.
//!
//! - [`config`] — `config/engines/execution.toml`: account, mode, broker rules, limits.
//! - [`checks`] — the pre-trade checks that pass or block a plan as a whole.
//! - [`ledger`] — orders, fills, account days, positions, P&L attribution, risk actions,
//!   and reconciliation of the stored book against its fills.
//! - [`adapter`] — the broker boundary: the paper broker and the live outbox.
//! - [`statement`] — broker statements (fills executed elsewhere) as CSV.
//!
//! Orders are sized and filled by [`crate::backtest::broker`]'s rules — the same code the
//! backtest runs — so a paper account and a backtest of the same targets agree to the cent.

pub mod adapter;
pub mod checks;
pub mod config;
pub mod ledger;
pub mod statement;
