//! Pre-trade checks: the last gate between a plan and the broker. They see the whole plan
//! and the book it trades, and either pass it or block it as a whole — a plan is never sent
//! in part, because the orders of a target only make sense together. Every failed check is
//! reported (not just the first), each with the value that broke it and the limit, so the
//! `risk_actions` rows say exactly why nothing was sent.
//!
//! A position limit blocks an order that leaves the position above the limit *and* larger
//! than it was: an order that reduces an oversized position is never what makes it unsafe.
//! The same holds for gross leverage and sector weight.

use crate::config::Issues;
use crate::engines::universe::UNKNOWN_SECTOR;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The pre-trade limits (`[limits]` of `config/engines/execution.toml`). Every one is a
/// hard limit: only a person can loosen it (`pv2 config apply … --loosen-limits REASON`).
/// A limit left out (or `null`) is not checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreTradeLimits {
    /// Largest value of one order, in the account's currency.
    pub max_order_notional: Option<f64>,
    /// Largest value of one position after the plan, in the account's currency.
    pub max_position_notional: Option<f64>,
    /// Largest `Σ |position value| / equity` after the plan.
    pub max_gross_leverage: Option<f64>,
    /// Largest `|position value| / equity` of one name after the plan.
    pub max_position_weight: Option<f64>,
    /// Largest `Σ |position value| / equity` of one sector after the plan (names of an
    /// unknown sector are not grouped).
    pub max_sector_weight: Option<f64>,
    /// Daily-loss breaker: no plan is sent on a session the account lost more than this
    /// fraction of the previous session's equity.
    pub max_daily_loss: Option<f64>,
    /// Drawdown breaker: no plan is sent while equity is more than this fraction below its
    /// peak.
    pub max_drawdown: Option<f64>,
    /// Stale-price guard: the price an order is sized at may be at most this many sessions
    /// old (0: the decision session's own close).
    pub max_price_age_sessions: Option<u32>,
    /// Most orders one plan may hold.
    pub max_orders_per_run: Option<u32>,
}

impl Default for PreTradeLimits {
    fn default() -> Self {
        Self {
            max_order_notional: None,
            max_position_notional: None,
            max_gross_leverage: Some(1.05),
            max_position_weight: Some(0.35),
            max_sector_weight: Some(0.60),
            max_daily_loss: Some(0.10),
            max_drawdown: Some(0.50),
            max_price_age_sessions: Some(0),
            max_orders_per_run: Some(2_000),
        }
    }
}

impl PreTradeLimits {
    /// The dotted keys of every limit, as the config's hard limits name them.
    pub const KEYS: [&'static str; 9] = [
        "limits.max_order_notional",
        "limits.max_position_notional",
        "limits.max_gross_leverage",
        "limits.max_position_weight",
        "limits.max_sector_weight",
        "limits.max_daily_loss",
        "limits.max_drawdown",
        "limits.max_price_age_sessions",
        "limits.max_orders_per_run",
    ];

    /// Checks every field.
    pub fn validate(&self, issues: &mut Issues) {
        for (key, v) in [
            ("limits.max_order_notional", self.max_order_notional),
            ("limits.max_position_notional", self.max_position_notional),
            ("limits.max_gross_leverage", self.max_gross_leverage),
            ("limits.max_position_weight", self.max_position_weight),
            ("limits.max_sector_weight", self.max_sector_weight),
        ] {
            if let Some(v) = v {
                issues.check(!(v.is_finite() && v > 0.0), key, || {
                    format!("{v} must be > 0 (leave the key out for no limit)")
                });
            }
        }
        for (key, v) in [
            ("limits.max_daily_loss", self.max_daily_loss),
            ("limits.max_drawdown", self.max_drawdown),
        ] {
            if let Some(v) = v {
                issues.check(!(v > 0.0 && v <= 1.0), key, || {
                    format!("{v} is out of range; use a fraction in (0, 1]")
                });
            }
        }
        if let Some(n) = self.max_orders_per_run {
            issues.check(n == 0, "limits.max_orders_per_run", || {
                "0 would block every plan; use halt for that".into()
            });
        }
    }
}

/// One instrument of the book as the plan would leave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The instrument.
    pub instrument: String,
    /// Its sector ([`UNKNOWN_SECTOR`] when not known).
    pub sector: String,
    /// Shares held before the plan.
    pub held: f64,
    /// Shares the plan trades (0: none).
    pub order: f64,
    /// The price the order is sized at (the last known close).
    pub price: f64,
    /// Sessions since that price (`None`: no price at all).
    pub price_age: Option<u32>,
}

/// The account the plan trades.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccountState {
    /// Equity at the decision close.
    pub equity: f64,
    /// Equity at the session before.
    pub previous_equity: f64,
    /// The highest equity so far.
    pub peak_equity: f64,
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    /// The check (the limit's key without `limits.`).
    pub check: &'static str,
    /// The instrument, when the check is per name.
    pub instrument: Option<String>,
    /// The value that broke the limit.
    pub value: f64,
    /// The limit.
    pub limit: f64,
    /// One line for people.
    pub reason: String,
}

impl PreTradeLimits {
    /// Every check the plan (`lines` with a non-zero `order`) fails on `account`; empty
    /// when it may be sent. A plan without orders passes.
    pub fn check(&self, lines: &[Line], account: &AccountState) -> Vec<Block> {
        let orders: Vec<&Line> = lines.iter().filter(|l| l.order != 0.0).collect();
        if orders.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let equity = account.equity;
        if !(equity.is_finite() && equity > 0.0) {
            out.push(Block {
                check: "equity",
                instrument: None,
                value: equity,
                limit: 0.0,
                reason: format!("the account's equity is {equity}: nothing can be sized"),
            });
            return out;
        }
        if let Some(max) = self.max_orders_per_run
            && orders.len() > max as usize
        {
            out.push(Block {
                check: "max_orders_per_run",
                instrument: None,
                value: orders.len() as f64,
                limit: f64::from(max),
                reason: format!("{} orders in one plan; at most {max}", orders.len()),
            });
        }
        if let Some(loss) = self.max_daily_loss {
            let change = equity / account.previous_equity - 1.0;
            if change < -loss {
                out.push(Block {
                    check: "max_daily_loss",
                    instrument: None,
                    value: -change,
                    limit: loss,
                    reason: format!(
                        "daily-loss breaker: the account lost {:.2}% today; at most {:.2}%",
                        -100.0 * change,
                        100.0 * loss
                    ),
                });
            }
        }
        if let Some(dd) = self.max_drawdown {
            let drawdown = 1.0 - equity / account.peak_equity.max(equity);
            if drawdown > dd {
                out.push(Block {
                    check: "max_drawdown",
                    instrument: None,
                    value: drawdown,
                    limit: dd,
                    reason: format!(
                        "drawdown breaker: equity is {:.2}% below its peak; at most {:.2}%",
                        100.0 * drawdown,
                        100.0 * dd
                    ),
                });
            }
        }
        for l in &orders {
            let per_name = |check: &'static str, value: f64, limit: f64, reason: String| Block {
                check,
                instrument: Some(l.instrument.clone()),
                value,
                limit,
                reason: format!("{}: {reason}", l.instrument),
            };
            if let Some(age) = self.max_price_age_sessions
                && l.price_age.is_none_or(|a| a > age)
            {
                out.push(per_name(
                    "max_price_age_sessions",
                    l.price_age.map_or(f64::INFINITY, f64::from),
                    f64::from(age),
                    match l.price_age {
                        Some(a) => format!(
                            "stale price: the order is sized at a close {a} session(s) old; at most {age}"
                        ),
                        None => "no price to size the order at".to_owned(),
                    },
                ));
                continue;
            }
            let order_value = (l.order * l.price).abs();
            if let Some(max) = self.max_order_notional
                && order_value > max
            {
                out.push(per_name(
                    "max_order_notional",
                    order_value,
                    max,
                    format!("order worth {order_value:.2}; at most {max:.2}"),
                ));
            }
            let before = (l.held * l.price).abs();
            let after = ((l.held + l.order) * l.price).abs();
            if let Some(max) = self.max_position_notional
                && after > max
                && after > before
            {
                out.push(per_name(
                    "max_position_notional",
                    after,
                    max,
                    format!("position worth {after:.2} after the order; at most {max:.2}"),
                ));
            }
            if let Some(max) = self.max_position_weight
                && after / equity > max
                && after > before
            {
                out.push(per_name(
                    "max_position_weight",
                    after / equity,
                    max,
                    format!(
                        "{:.2}% of equity after the order; at most {:.2}%",
                        100.0 * after / equity,
                        100.0 * max
                    ),
                ));
            }
        }
        let value = |l: &Line, traded: bool| {
            let shares = if traded { l.held + l.order } else { l.held };
            let v = (shares * l.price).abs();
            if v.is_finite() { v } else { 0.0 }
        };
        if let Some(max) = self.max_gross_leverage {
            let before: f64 = lines.iter().map(|l| value(l, false)).sum::<f64>() / equity;
            let after: f64 = lines.iter().map(|l| value(l, true)).sum::<f64>() / equity;
            if after > max && after > before {
                out.push(Block {
                    check: "max_gross_leverage",
                    instrument: None,
                    value: after,
                    limit: max,
                    reason: format!("gross leverage {after:.3} after the plan; at most {max:.3}"),
                });
            }
        }
        if let Some(max) = self.max_sector_weight {
            let mut sectors: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            for l in lines.iter().filter(|l| l.sector != UNKNOWN_SECTOR) {
                let s = sectors.entry(l.sector.as_str()).or_default();
                s.0 += value(l, false) / equity;
                s.1 += value(l, true) / equity;
            }
            for (sector, (before, after)) in sectors {
                if after > max && after > before {
                    out.push(Block {
                        check: "max_sector_weight",
                        instrument: None,
                        value: after,
                        limit: max,
                        reason: format!(
                            "sector {sector} at {:.2}% of equity after the plan; at most {:.2}%",
                            100.0 * after,
                            100.0 * max
                        ),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, sector: &str, held: f64, order: f64, price: f64) -> Line {
        Line {
            instrument: id.into(),
            sector: sector.into(),
            held,
            order,
            price,
            price_age: Some(0),
        }
    }

    fn calm() -> AccountState {
        AccountState {
            equity: 100_000.0,
            previous_equity: 100_000.0,
            peak_equity: 100_000.0,
        }
    }

    /// A plan of four 20% positions in two sectors: within the shipped limits.
    fn plan() -> Vec<Line> {
        vec![
            line("A", "Tech", 0.0, 200.0, 100.0),
            line("B", "Tech", 0.0, 200.0, 100.0),
            line("C", "Energy", 0.0, 200.0, 100.0),
            line("D", "Energy", 0.0, 200.0, 100.0),
        ]
    }

    fn checks(blocks: &[Block]) -> Vec<&'static str> {
        blocks.iter().map(|b| b.check).collect()
    }

    #[test]
    fn a_plan_within_every_limit_passes() {
        assert!(PreTradeLimits::default().check(&plan(), &calm()).is_empty());
        // No orders: nothing to block, whatever the account.
        let idle = vec![line("A", "Tech", 10.0, 0.0, 100.0)];
        let broke = AccountState {
            equity: -1.0,
            ..calm()
        };
        assert!(PreTradeLimits::default().check(&idle, &broke).is_empty());
    }

    #[test]
    fn each_check_blocks_what_it_should_with_its_reason() {
        let limits = PreTradeLimits {
            max_order_notional: Some(15_000.0),
            max_position_notional: Some(18_000.0),
            ..PreTradeLimits::default()
        };
        let b = limits.check(&plan(), &calm());
        assert_eq!(
            checks(&b),
            vec![
                "max_order_notional",
                "max_position_notional",
                "max_order_notional",
                "max_position_notional",
                "max_order_notional",
                "max_position_notional",
                "max_order_notional",
                "max_position_notional"
            ]
        );
        assert_eq!(b[0].instrument.as_deref(), Some("A"));
        assert_eq!((b[0].value, b[0].limit), (20_000.0, 15_000.0));
        assert!(
            b[0].reason.contains("order worth 20000.00"),
            "{}",
            b[0].reason
        );

        // One name at 40%: the per-name weight cap.
        let mut p = plan();
        p[0].order = 400.0;
        p[1].order = 0.0;
        let b = PreTradeLimits::default().check(&p, &calm());
        assert_eq!(checks(&b), vec!["max_position_weight"]);
        assert!((b[0].value - 0.4).abs() < 1e-12);

        // Tech at 70%: the sector cap (and nothing else).
        let mut p = plan();
        p[0].order = 350.0;
        p[1].order = 350.0;
        p[2].order = 150.0;
        p[3].order = 150.0;
        let b = PreTradeLimits::default().check(&p, &calm());
        assert_eq!(checks(&b), vec!["max_sector_weight"]);
        assert!(
            b[0].reason.contains("sector Tech at 70.00%"),
            "{}",
            b[0].reason
        );

        // 120% invested: gross leverage.
        let p: Vec<Line> = (0..6)
            .map(|i| line(&format!("N{i}"), UNKNOWN_SECTOR, 0.0, 200.0, 100.0))
            .collect();
        let b = PreTradeLimits::default().check(&p, &calm());
        assert_eq!(checks(&b), vec!["max_gross_leverage"]);
        assert!((b[0].value - 1.2).abs() < 1e-12);

        // Breakers: an 11% loss today; equity 55% below its peak.
        let down = AccountState {
            equity: 89_000.0,
            previous_equity: 100_000.0,
            peak_equity: 100_000.0,
        };
        assert_eq!(
            checks(&PreTradeLimits::default().check(&plan(), &down)),
            vec!["max_daily_loss"]
        );
        let deep = AccountState {
            equity: 45_000.0,
            previous_equity: 45_000.0,
            peak_equity: 100_000.0,
        };
        let small: Vec<Line> = plan()
            .into_iter()
            .map(|mut l| {
                l.order = 50.0;
                l
            })
            .collect();
        assert_eq!(
            checks(&PreTradeLimits::default().check(&small, &deep)),
            vec!["max_drawdown"]
        );

        // A price from yesterday, and no price at all: stale.
        let mut p = plan();
        p[0].price_age = Some(1);
        p[1].price_age = None;
        let b = PreTradeLimits::default().check(&p, &calm());
        assert_eq!(
            checks(&b),
            vec!["max_price_age_sessions", "max_price_age_sessions"]
        );
        assert!(b[1].reason.contains("no price"), "{}", b[1].reason);

        // Too many orders.
        let limits = PreTradeLimits {
            max_orders_per_run: Some(3),
            ..PreTradeLimits::default()
        };
        assert_eq!(
            checks(&limits.check(&plan(), &calm())),
            vec!["max_orders_per_run"]
        );
    }

    #[test]
    fn an_order_that_reduces_an_oversized_position_is_not_blocked() {
        // 50% in A, selling down to 40%: still above the 35% cap, but smaller.
        let p = vec![line("A", "Tech", 500.0, -100.0, 100.0)];
        assert!(PreTradeLimits::default().check(&p, &calm()).is_empty());
        // Buying more of it is blocked.
        let p = vec![line("A", "Tech", 500.0, 10.0, 100.0)];
        assert_eq!(
            checks(&PreTradeLimits::default().check(&p, &calm())),
            vec!["max_position_weight"]
        );
    }

    #[test]
    fn bad_limits_are_each_reported() {
        let limits = PreTradeLimits {
            max_gross_leverage: Some(-1.0),
            max_daily_loss: Some(1.5),
            max_orders_per_run: Some(0),
            ..PreTradeLimits::default()
        };
        let mut issues = Issues::new();
        limits.validate(&mut issues);
        let keys: Vec<String> = issues.into_pairs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            vec![
                "limits.max_gross_leverage",
                "limits.max_daily_loss",
                "limits.max_orders_per_run"
            ]
        );
    }
}
