-- The execution ledger: orders, fills, the account and its positions at each session's
-- close, the P&L attribution, and every pre-trade block or kill-switch refusal. Keyed by
-- account and market; every row carries the run and the config that wrote it.

-- Orders. The id is a hash of account, market, session, instrument and purpose, so a
-- plan made twice (a retry, a restart) inserts nothing new.
CREATE TABLE exec_orders (
    order_id        TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    order_date      DATE NOT NULL,
    seq             BIGINT NOT NULL,
    instrument_id   TEXT NOT NULL,
    quantity        DOUBLE PRECISION NOT NULL,
    reference_price DOUBLE PRECISION NOT NULL,
    target_weight   DOUBLE PRECISION NOT NULL,
    purpose         TEXT NOT NULL CHECK (purpose IN ('target', 'flatten')),
    state           TEXT NOT NULL CHECK (state IN ('PLANNED', 'SENT', 'FILLED', 'PARTIAL', 'EXPIRED', 'CANCELLED', 'BLOCKED')),
    filled_quantity DOUBLE PRECISION NOT NULL,
    broker          TEXT NOT NULL,
    reason          TEXT,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX exec_orders_account ON exec_orders (account_id, market_id, order_date, seq);

-- Fills: the paper broker's (one per order) and imported statements' (one per line).
-- order_id NULL: a fill the system did not plan, which reconciliation reports.
CREATE TABLE exec_fills (
    fill_id       TEXT PRIMARY KEY,
    order_id      TEXT,
    account_id    TEXT NOT NULL,
    market_id     TEXT NOT NULL,
    trade_date    DATE NOT NULL,
    seq           BIGINT NOT NULL,
    instrument_id TEXT NOT NULL,
    quantity      DOUBLE PRECISION NOT NULL,
    price         DOUBLE PRECISION NOT NULL,
    commission    DOUBLE PRECISION NOT NULL,
    slippage      DOUBLE PRECISION NOT NULL,
    source        TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    config_id     TEXT NOT NULL
);
CREATE INDEX exec_fills_account ON exec_fills (account_id, market_id, trade_date, seq);

-- The account at each session's close.
CREATE TABLE exec_account_days (
    account_id      TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    cash            DOUBLE PRECISION NOT NULL,
    equity          DOUBLE PRECISION NOT NULL,
    daily_return    DOUBLE PRECISION NOT NULL,
    peak_equity     DOUBLE PRECISION NOT NULL,
    gross_exposure  DOUBLE PRECISION NOT NULL,
    traded_notional DOUBLE PRECISION NOT NULL,
    costs           DOUBLE PRECISION NOT NULL,
    pnl             DOUBLE PRECISION NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    PRIMARY KEY (account_id, market_id, as_of_date)
);

-- Positions at each session's close (zero positions are not stored).
CREATE TABLE exec_positions (
    account_id    TEXT NOT NULL,
    market_id     TEXT NOT NULL,
    as_of_date    DATE NOT NULL,
    instrument_id TEXT NOT NULL,
    quantity      DOUBLE PRECISION NOT NULL,
    close         DOUBLE PRECISION NOT NULL,
    value         DOUBLE PRECISION NOT NULL,
    run_id        TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    PRIMARY KEY (account_id, market_id, as_of_date, instrument_id)
);

-- Each session's P&L by name (with its sector, as known that day).
CREATE TABLE exec_pnl (
    account_id    TEXT NOT NULL,
    market_id     TEXT NOT NULL,
    as_of_date    DATE NOT NULL,
    instrument_id TEXT NOT NULL,
    sector        TEXT NOT NULL,
    pnl           DOUBLE PRECISION NOT NULL,
    costs         DOUBLE PRECISION NOT NULL,
    run_id        TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    PRIMARY KEY (account_id, market_id, as_of_date, instrument_id)
);

-- Pre-trade blocks, kill-switch refusals and reconciliation stops. instrument_id is ''
-- for a check of the whole plan; a re-run of the same session replaces its rows.
CREATE TABLE risk_actions (
    account_id    TEXT NOT NULL,
    market_id     TEXT NOT NULL,
    as_of_date    DATE NOT NULL,
    check_id      TEXT NOT NULL,
    instrument_id TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('blocked', 'cancelled', 'halted')),
    at            TIMESTAMPTZ NOT NULL,
    value         DOUBLE PRECISION,
    limit_value   DOUBLE PRECISION,
    reason        TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    PRIMARY KEY (account_id, market_id, as_of_date, check_id, instrument_id, action)
);
