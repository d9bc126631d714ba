-- Decision engines' outputs and backtests. Every row carries the run and the config that
-- wrote it; a re-run replaces the rows of its (id, date, config).

-- The assessment engine: one row per strategy, instrument, date, horizon and config, with
-- the family z-scores it was computed from (NULL: unknown for the name that day).
CREATE TABLE instrument_scores (
    strategy_id     TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    horizon_days    INTEGER NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    expected_return REAL NOT NULL,
    score           REAL NOT NULL,
    confidence      REAL NOT NULL,
    label           TEXT NOT NULL,
    prediction      REAL NOT NULL,
    momentum        REAL,
    reversal        REAL,
    low_vol         REAL,
    quality         REAL,
    fragility       REAL,
    PRIMARY KEY (strategy_id, instrument_id, as_of_date, horizon_days, config_id)
);
CREATE INDEX instrument_scores_day ON instrument_scores (strategy_id, market_id, as_of_date);

-- One row per assessment run: the fitted family weights and the skill (IC, rank IC) of
-- the latest forecast whose horizon had ended by that date.
CREATE TABLE assessment_runs (
    strategy_id     TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    samples         INTEGER NOT NULL,
    dates           INTEGER NOT NULL,
    weights         TEXT NOT NULL,
    dispersion      REAL,
    forecast_date   TEXT,
    ic              REAL,
    rank_ic         REAL,
    ic_names        INTEGER,
    PRIMARY KEY (strategy_id, market_id, as_of_date, config_id)
);

-- The universe engine: every candidate with its tier and, when excluded, why.
CREATE TABLE universe_members (
    universe_id     TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    included        INTEGER NOT NULL,
    tier            TEXT NOT NULL,
    score           REAL,
    sector          TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    PRIMARY KEY (universe_id, as_of_date, instrument_id, config_id)
);
CREATE INDEX universe_members_day ON universe_members (universe_id, market_id, as_of_date);

-- Target weights that passed every hard limit (a breaching target is never written).
CREATE TABLE target_portfolios (
    portfolio_id    TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    weight          REAL NOT NULL,
    method          TEXT NOT NULL,
    PRIMARY KEY (portfolio_id, as_of_date, instrument_id, config_id)
);
CREATE INDEX target_portfolios_day ON target_portfolios (portfolio_id, market_id, config_id, as_of_date);

-- The risk report of each written target (`body`: the whole report as JSON).
CREATE TABLE portfolio_risk_reports (
    portfolio_id    TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    method          TEXT NOT NULL,
    names           INTEGER NOT NULL,
    ex_ante_vol     REAL NOT NULL,
    historical_es_99 REAL,
    scenario_es_99  REAL,
    turnover        REAL NOT NULL,
    body            TEXT NOT NULL,
    PRIMARY KEY (portfolio_id, as_of_date, config_id)
);

-- A backtest: the strategy as run, the engine configs it used and its metrics.
CREATE TABLE backtest_runs (
    backtest_id     TEXT PRIMARY KEY,
    strategy        TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    from_date       TEXT NOT NULL,
    to_date         TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    strategy_body   TEXT NOT NULL,
    engine_configs  TEXT NOT NULL,
    state           TEXT NOT NULL,
    rebalances      INTEGER NOT NULL,
    failed_rebalances INTEGER NOT NULL,
    metrics         TEXT
);

-- Its equity, day by day.
CREATE TABLE backtest_daily (
    backtest_id     TEXT NOT NULL,
    trade_date      TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    equity          REAL NOT NULL,
    cash            REAL NOT NULL,
    daily_return    REAL NOT NULL,
    benchmark_return REAL,
    gross_exposure  REAL NOT NULL,
    traded_notional REAL NOT NULL,
    costs           REAL NOT NULL,
    regime          TEXT,
    PRIMARY KEY (backtest_id, trade_date)
);

-- Its fills: at most one per instrument and day.
CREATE TABLE backtest_trades (
    backtest_id     TEXT NOT NULL,
    trade_date      TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    order_date      TEXT NOT NULL,
    shares          REAL NOT NULL,
    price           REAL NOT NULL,
    notional        REAL NOT NULL,
    commission      REAL NOT NULL,
    slippage        REAL NOT NULL,
    target_weight   REAL NOT NULL,
    requested_shares REAL NOT NULL,
    PRIMARY KEY (backtest_id, trade_date, instrument_id)
);
