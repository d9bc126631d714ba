//! The kill switch's vocabulary: whether the daemon may trade, and what an order may do in
//! each mode. Checked immediately before every order is sent, so a mode set by an operator
//! takes effect on the very next order, and persisted, so a restart cannot lift it.

use super::supervision::stored_enum;
use serde::{Deserialize, Serialize};
use std::fmt;

stored_enum! {
    /// What orders the daemon may send (`trading_mode_changes.mode`).
    TradingMode {
        /// Orders as planned, within every pre-trade check.
        Active => "ACTIVE",
        /// Only orders that bring a position closer to zero without crossing it.
        ReduceOnly => "REDUCE_ONLY",
        /// No order at all.
        Halted => "HALTED",
        /// Only the orders that close each position entirely, at the next fill.
        Flatten => "FLATTEN",
    }
}

stored_enum! {
    /// Where an order is in its life (`exec_orders.state`).
    OrderState {
        /// Planned and checked, not yet handed to the broker.
        Planned => "PLANNED",
        /// Handed to the broker; waiting for its fill.
        Sent => "SENT",
        /// Filled in full.
        Filled => "FILLED",
        /// Filled in part; the rest expired (orders are never carried to a later session).
        Partial => "PARTIAL",
        /// Its session passed without a fill (no price, or no statement row).
        Expired => "EXPIRED",
        /// Withdrawn before it was sent or filled: the kill switch, or a newer plan.
        Cancelled => "CANCELLED",
        /// Part of a plan a pre-trade check blocked: never sent.
        Blocked => "BLOCKED",
    }
}

impl OrderState {
    /// Whether the order can still fill.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Planned | Self::Sent)
    }
}

stored_enum! {
    /// Why an order exists (`exec_orders.purpose`).
    OrderPurpose {
        /// Moves a position toward the day's target portfolio.
        Target => "target",
        /// Closes a position because the kill switch is at FLATTEN.
        Flatten => "flatten",
    }
}

impl TradingMode {
    /// Whether an order of `quantity` (signed: buy > 0, sell < 0) on a position of
    /// `position` (signed) may be sent in this mode.
    pub fn permits(self, position: f64, quantity: f64) -> bool {
        if !(position.is_finite() && quantity.is_finite()) || quantity == 0.0 {
            return false;
        }
        match self {
            Self::Active => true,
            Self::Halted => false,
            // Opposite sign to the position, and no larger: |position| never grows and the
            // position never flips.
            Self::ReduceOnly => position * quantity < 0.0 && quantity.abs() <= position.abs(),
            Self::Flatten => position != 0.0 && quantity == -position,
        }
    }

    /// Why an order is refused in this mode (for the `risk_actions` row), or `None` when it
    /// is permitted.
    pub fn refusal(self, position: f64, quantity: f64) -> Option<String> {
        if self.permits(position, quantity) {
            return None;
        }
        Some(match self {
            Self::Active => format!("order of {quantity} is not a finite, non-zero quantity"),
            Self::Halted => "trading is HALTED: no order is sent until `pv2 resume`".to_owned(),
            Self::ReduceOnly => format!(
                "REDUCE_ONLY: an order of {quantity} on a position of {position} would not reduce it"
            ),
            Self::Flatten => format!(
                "FLATTEN: only the order closing the position ({}) is sent, not {quantity}",
                -position
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for m in TradingMode::ALL {
            assert_eq!(TradingMode::parse(m.as_str()), Some(*m));
        }
        assert_eq!(TradingMode::parse("PAUSED"), None);
    }

    /// Over a grid of positions and orders, reduce-only never lets |position| grow or the
    /// position change sign; flatten only closes; halt sends nothing; active sends any
    /// real order.
    #[test]
    fn each_mode_permits_exactly_what_it_says() {
        let values = [-300.0, -100.0, -50.0, -1.0, 0.0, 1.0, 50.0, 100.0, 300.0];
        for &p in &values {
            for &q in &values {
                let after = p + q;
                assert_eq!(TradingMode::Active.permits(p, q), q != 0.0);
                assert!(!TradingMode::Halted.permits(p, q));
                let reduces = after.abs() < p.abs() && after * p >= 0.0;
                assert_eq!(TradingMode::ReduceOnly.permits(p, q), reduces, "{p} {q}");
                if TradingMode::ReduceOnly.permits(p, q) {
                    assert!(after.abs() < p.abs(), "{p} + {q} grew");
                }
                assert_eq!(
                    TradingMode::Flatten.permits(p, q),
                    p != 0.0 && after == 0.0,
                    "{p} {q}"
                );
                assert_eq!(
                    TradingMode::ReduceOnly.refusal(p, q).is_none(),
                    TradingMode::ReduceOnly.permits(p, q)
                );
            }
        }
        assert!(!TradingMode::Active.permits(10.0, f64::NAN));
        assert!(
            TradingMode::Halted
                .refusal(10.0, -5.0)
                .unwrap()
                .contains("pv2 resume")
        );
    }
}
