//! The broker boundary: what the execution actor hands an order to. An adapter sends one
//! order at a time and must be idempotent by order id — sending an id it has seen is a
//! no-op — because a daemon that crashed after sending but before recording it will send
//! it again on restart.
//!
//! Two adapters ship:
//! - [`PaperBroker`] (mode `paper`): accepts every order; fills are computed at the next
//!   session (or the decision close) from ingested prices by the backtest broker's rules.
//! - [`OutboxBroker`] (mode `live`): writes each order as a ticket file, named by its id, for
//!   an order-management system or a person to execute; what was executed comes back as a
//!   broker statement (`pv2 import fills`). A real broker's API would be a third adapter.

use super::ledger::OrderRecord;
use crate::backtest::broker::BrokerConfig;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why an adapter did not take an order.
#[derive(Debug, Error)]
pub enum AdapterError {
    /// The order could not be handed over (retrying may work).
    #[error("the {adapter} broker could not take order {order_id}: {reason}")]
    Unavailable {
        /// The adapter.
        adapter: &'static str,
        /// The order.
        order_id: String,
        /// Why.
        reason: String,
    },
}

/// What sending did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The broker took it now.
    Accepted,
    /// The broker had it already (a resend after a restart): nothing was sent twice.
    AlreadySent,
}

/// A broker the execution actor can send orders to.
pub trait BrokerAdapter: Send + Sync {
    /// Its name, stored on every order it took.
    fn name(&self) -> &'static str;

    /// Sends `order`; sending an order id twice sends it once.
    ///
    /// # Errors
    /// The broker could not take it.
    fn send(&self, order: &OrderRecord) -> Result<Sent, AdapterError>;

    /// The fill rules, when this adapter fills orders itself from prices (the paper broker);
    /// `None` when fills come from the broker's statements.
    fn fill_rules(&self) -> Option<&BrokerConfig>;
}

/// The paper broker.
pub struct PaperBroker {
    rules: BrokerConfig,
}

impl PaperBroker {
    /// A paper broker filling by `rules`.
    pub fn new(rules: BrokerConfig) -> Self {
        Self { rules }
    }
}

impl BrokerAdapter for PaperBroker {
    fn name(&self) -> &'static str {
        "paper"
    }

    fn send(&self, _order: &OrderRecord) -> Result<Sent, AdapterError> {
        // The order's record is the paper broker's book: settlement fills what is SENT.
        Ok(Sent::Accepted)
    }

    fn fill_rules(&self) -> Option<&BrokerConfig> {
        Some(&self.rules)
    }
}

/// The live outbox: one ticket file per order.
pub struct OutboxBroker {
    dir: PathBuf,
}

impl OutboxBroker {
    /// An outbox writing tickets under `dir` (one subdirectory per session).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the ticket of `order` is written.
    pub fn ticket_path(&self, order: &OrderRecord) -> PathBuf {
        self.dir
            .join(order.order_date.to_string())
            .join(format!("{}.csv", order.order_id))
    }
}

fn write_new(path: &Path, text: &str) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Written whole under a temporary name, then renamed: a reader never sees half a
    // ticket, and a crash leaves no ticket rather than a broken one.
    let tmp = path.with_extension("csv.partial");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

impl BrokerAdapter for OutboxBroker {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn send(&self, order: &OrderRecord) -> Result<Sent, AdapterError> {
        let symbol = order
            .instrument_id
            .split_once(':')
            .map_or(order.instrument_id.as_str(), |(_, s)| s);
        let side = if order.quantity > 0.0 { "BUY" } else { "SELL" };
        let text = format!(
            "order_id,account,market,date,symbol,side,quantity,reference_price\n{},{},{},{},{},{},{},{}\n",
            order.order_id,
            order.key.account_id,
            order.key.market_id,
            order.order_date,
            symbol,
            side,
            order.quantity.abs(),
            order.reference_price
        );
        let path = self.ticket_path(order);
        match write_new(&path, &text) {
            Ok(true) => Ok(Sent::Accepted),
            Ok(false) => Ok(Sent::AlreadySent),
            Err(e) => Err(AdapterError::Unavailable {
                adapter: "outbox",
                order_id: order.order_id.clone(),
                reason: format!("{}: {e}", path.display()),
            }),
        }
    }

    fn fill_rules(&self) -> Option<&BrokerConfig> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderPurpose, OrderState};
    use crate::execution::ledger::{AccountKey, Provenance};

    fn order() -> OrderRecord {
        OrderRecord {
            order_id: "ord-1".into(),
            key: AccountKey {
                account_id: "live".into(),
                market_id: "US_EQ".into(),
            },
            order_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            seq: 0,
            instrument_id: "US_EQ:AAA".into(),
            quantity: -12.0,
            reference_price: 10.5,
            target_weight: 0.0,
            purpose: OrderPurpose::Target,
            state: OrderState::Planned,
            filled_quantity: 0.0,
            broker: "outbox".into(),
            reason: None,
            provenance: Provenance {
                run_id: "r".into(),
                config_id: "c".into(),
            },
        }
    }

    #[test]
    fn the_outbox_writes_one_ticket_per_order_id() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = OutboxBroker::new(dir.path());
        assert_eq!(outbox.send(&order()).unwrap(), Sent::Accepted);
        assert_eq!(outbox.send(&order()).unwrap(), Sent::AlreadySent);
        let text = std::fs::read_to_string(outbox.ticket_path(&order())).unwrap();
        assert!(
            text.ends_with("ord-1,live,US_EQ,2024-01-02,AAA,SELL,12,10.5\n"),
            "{text}"
        );
        let files = std::fs::read_dir(dir.path().join("2024-01-02"))
            .unwrap()
            .count();
        assert_eq!(files, 1, "no partial file left");
        assert!(outbox.fill_rules().is_none());
        assert!(
            PaperBroker::new(BrokerConfig::default())
                .fill_rules()
                .is_some()
        );
    }
}
