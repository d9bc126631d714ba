//! Runtime database: the execution ledger, the kill switch as a time series, and the rule
//! that no activation loosens a hard limit without a person's approval.

use crate::harness::{TestDb, conformance, date};
use chrono::{DateTime, Utc};
use prometheus::domain::{ConfigId, OrderPurpose, OrderState, TradingMode};
use prometheus::execution::ledger::{
    AccountDay, AccountKey, FillRecord, OrderRecord, PnlRow, PositionRow, Provenance, RiskAction,
    order_id,
};
use prometheus::store::{ConfigStore, ExecutionStore, OrderUpdate, StoreError, TradingStore};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn key() -> AccountKey {
    AccountKey {
        account_id: "paper".into(),
        market_id: "US_EQ".into(),
    }
}

fn prov() -> Provenance {
    Provenance {
        run_id: "engines:US_EQ:2024-01-02".into(),
        config_id: "execution-abc".into(),
    }
}

fn order(instrument: &str, q: f64, seq: i64) -> OrderRecord {
    OrderRecord {
        order_id: order_id(&key(), date("2024-01-02"), instrument, OrderPurpose::Target),
        key: key(),
        order_date: date("2024-01-02"),
        seq,
        instrument_id: instrument.into(),
        quantity: q,
        reference_price: 10.0,
        target_weight: 0.25,
        purpose: OrderPurpose::Target,
        state: OrderState::Planned,
        filled_quantity: 0.0,
        broker: "paper".into(),
        reason: None,
        provenance: prov(),
    }
}

async fn the_ledger_is_idempotent_and_reads_back_in_booking_order(db: &TestDb) {
    let r = &db.runtime;
    let a = order("US_EQ:A", -5.0, 0);
    let b = order("US_EQ:B", 100.0, 1);
    r.insert_orders(&[a.clone(), b.clone()], t(1))
        .await
        .unwrap();
    // Planning again (a retry) changes nothing, even with other quantities.
    let mut again = b.clone();
    again.quantity = 999.0;
    r.insert_orders(&[again], t(2)).await.unwrap();
    let stored = r
        .orders(&key(), date("2024-01-01"), date("2024-01-31"))
        .await
        .unwrap();
    assert_eq!(stored, vec![a.clone(), b.clone()]);

    let fill = FillRecord {
        fill_id: "fill-1".into(),
        order_id: Some(b.order_id.clone()),
        key: key(),
        trade_date: date("2024-01-03"),
        seq: 0,
        instrument_id: "US_EQ:B".into(),
        quantity: 60.0,
        price: 10.005,
        commission: 0.06,
        slippage: 0.03,
        source: "paper".into(),
        provenance: prov(),
    };
    let update = OrderUpdate {
        order_id: b.order_id.clone(),
        state: OrderState::Partial,
        filled_quantity: 60.0,
        reason: Some("participation".into()),
    };
    for _ in 0..2 {
        r.settle(
            &[],
            std::slice::from_ref(&fill),
            std::slice::from_ref(&update),
            t(3),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        r.fills(&key(), date("2024-01-01"), date("2024-01-31"))
            .await
            .unwrap(),
        vec![fill.clone()]
    );
    let b_now = &r
        .orders(&key(), date("2024-01-02"), date("2024-01-02"))
        .await
        .unwrap()[1];
    assert_eq!(
        (b_now.state, b_now.filled_quantity, b_now.reason.as_deref()),
        (OrderState::Partial, 60.0, Some("participation"))
    );

    let day = AccountDay {
        key: key(),
        as_of: date("2024-01-03"),
        cash: 399.4,
        equity: 1000.1,
        daily_return: 0.0001,
        peak_equity: 1000.1,
        gross_exposure: 0.6,
        traded_notional: 600.3,
        costs: 0.09,
        pnl: 0.1,
        provenance: prov(),
    };
    let positions = vec![PositionRow {
        instrument_id: "US_EQ:B".into(),
        quantity: 60.0,
        close: 10.01,
        value: 600.6,
    }];
    let pnl = vec![PnlRow {
        instrument_id: "US_EQ:B".into(),
        sector: "Tech".into(),
        pnl: 0.21,
        costs: 0.09,
    }];
    r.write_account_day(&day, &positions, &pnl).await.unwrap();
    // Written again with fewer positions: the session is replaced, not merged.
    r.write_account_day(&day, &[], &pnl).await.unwrap();
    assert!(r.positions(&key(), day.as_of).await.unwrap().is_empty());
    r.write_account_day(&day, &positions, &pnl).await.unwrap();
    assert_eq!(r.positions(&key(), day.as_of).await.unwrap(), positions);
    assert_eq!(
        r.account_day_before(&key(), date("2024-01-04"))
            .await
            .unwrap(),
        Some(day.clone())
    );
    assert_eq!(
        r.account_day_before(&key(), date("2024-01-03"))
            .await
            .unwrap(),
        None,
        "strictly before"
    );
    assert_eq!(
        r.pnl_between(&key(), day.as_of, day.as_of).await.unwrap(),
        vec![(day.as_of, pnl[0].clone())]
    );
    assert_eq!(r.accounts().await.unwrap(), vec![key()]);

    let block = RiskAction {
        at: t(4),
        key: key(),
        as_of: day.as_of,
        check: "max_order_notional".into(),
        instrument_id: Some("US_EQ:B".into()),
        value: Some(1000.0),
        limit: Some(500.0),
        action: "blocked".into(),
        reason: "too big".into(),
        provenance: prov(),
    };
    let whole = RiskAction {
        check: "max_drawdown".into(),
        instrument_id: None,
        ..block.clone()
    };
    r.record_risk_actions(&[block.clone(), whole.clone()])
        .await
        .unwrap();
    r.record_risk_actions(std::slice::from_ref(&block))
        .await
        .unwrap();
    assert_eq!(
        r.risk_actions(&key(), day.as_of, day.as_of).await.unwrap(),
        vec![whole, block]
    );

    // Forgetting sessions from a date keeps orders and fills.
    assert_eq!(
        r.forget_account_days_from(&key(), day.as_of).await.unwrap(),
        1
    );
    assert!(r.positions(&key(), day.as_of).await.unwrap().is_empty());
    assert_eq!(
        r.fills(&key(), date("2024-01-01"), date("2024-01-31"))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The mode in force at an instant is the latest change recorded at or before it.
async fn the_kill_switch_is_a_time_series(db: &TestDb) {
    let r = &db.runtime;
    assert_eq!(r.trading_mode_at(t(0)).await.unwrap(), TradingMode::Active);
    r.set_trading_mode(TradingMode::Halted, "cli", "outage", t(10))
        .await
        .unwrap();
    r.set_trading_mode(TradingMode::Active, "cli", "fixed", t(20))
        .await
        .unwrap();
    assert_eq!(r.trading_mode_at(t(5)).await.unwrap(), TradingMode::Active);
    assert_eq!(r.trading_mode_at(t(10)).await.unwrap(), TradingMode::Halted);
    assert_eq!(r.trading_mode_at(t(19)).await.unwrap(), TradingMode::Halted);
    assert_eq!(r.trading_mode_at(t(25)).await.unwrap(), TradingMode::Active);
}

/// Loosening a hard limit needs a person's approval, which the audit row keeps; tightening
/// does not; Kronos's promotion of a looser config is refused inside its transaction.
async fn no_activation_loosens_a_hard_limit_without_approval(db: &TestDb) {
    let r = &db.runtime;
    let body = |limit: &str| format!("{{\"limits\":{{\"max_gross_leverage\":{limit}}}}}");
    let id = |n: &str| ConfigId::new(format!("execution-{n}"));
    r.activate_config(
        "execution",
        &id("a"),
        &body("1.0"),
        "bootstrap",
        "start",
        t(1),
    )
    .await
    .unwrap();
    // Tighter: fine.
    r.activate_config("execution", &id("b"), &body("0.9"), "cli", "applied", t(2))
        .await
        .unwrap();
    // Looser, or removed: refused, naming the limit.
    for (n, b) in [("c", body("1.5")), ("d", "{\"limits\":{}}".to_owned())] {
        let e = r
            .activate_config("execution", &id(n), &b, "kronos:policy", "promoted", t(3))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::LoosensHardLimit { changes, .. } if changes[0].starts_with("limits.max_gross_leverage: 0.9 →")),
            "{e}"
        );
    }
    assert_eq!(
        r.active_config("execution")
            .await
            .unwrap()
            .unwrap()
            .config_id,
        id("b")
    );
    // With a person's reason: applied and audited.
    let (_, changed) = r
        .activate_config_loosening(
            "execution",
            &id("c"),
            &body("1.5"),
            "cli:ops@desk",
            "applied",
            "margin account approved",
            t(4),
        )
        .await
        .unwrap();
    assert!(changed);
    let audit = r.config_changes("execution").await.unwrap();
    let last = audit.last().unwrap();
    assert!(
        last.reason
            .contains("loosens hard limits (limits.max_gross_leverage: 0.9 → 1.5")
            && last
                .reason
                .contains("approved by cli:ops@desk: margin account approved"),
        "{}",
        last.reason
    );
}

conformance!(
    the_ledger_is_idempotent_and_reads_back_in_booking_order,
    the_kill_switch_is_a_time_series,
    no_activation_loosens_a_hard_limit_without_approval
);
