-- Decision engines' outputs and backtests. Every row carries the run and the config that
-- wrote it; a re-run replaces the rows of its (id, date, config).

-- The assessment engine: one row per strategy, instrument, date, horizon and config, with
-- the family z-scores it was computed from (NULL: unknown for the name that day).
CREATE TABLE instrument_scores (
    strategy_id     TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    horizon_days    BIGINT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    expected_return DOUBLE PRECISION NOT NULL,
    score           DOUBLE PRECISION NOT NULL,
    confidence      DOUBLE PRECISION NOT NULL,
    label           TEXT NOT NULL,
    prediction      DOUBLE PRECISION NOT NULL,
    momentum        DOUBLE PRECISION,
    reversal        DOUBLE PRECISION,
    low_vol         DOUBLE PRECISION,
    quality         DOUBLE PRECISION,
    fragility       DOUBLE PRECISION,
    PRIMARY KEY (strategy_id, instrument_id, as_of_date, horizon_days, config_id)
);
CREATE INDEX instrument_scores_day ON instrument_scores (strategy_id, market_id, as_of_date);

-- One row per assessment run: the fitted family weights and the skill (IC, rank IC) of
-- the latest forecast whose horizon had ended by that date.
CREATE TABLE assessment_runs (
    strategy_id     TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    samples         BIGINT NOT NULL,
    dates           BIGINT NOT NULL,
    weights         TEXT NOT NULL,
    dispersion      DOUBLE PRECISION,
    forecast_date   DATE,
    ic              DOUBLE PRECISION,
    rank_ic         DOUBLE PRECISION,
    ic_names        BIGINT,
    PRIMARY KEY (strategy_id, market_id, as_of_date, config_id)
);

-- The universe engine: every candidate with its tier and, when excluded, why.
CREATE TABLE universe_members (
    universe_id     TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    instrument_id   TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    included        BOOLEAN NOT NULL,
    tier            TEXT NOT NULL,
    score           DOUBLE PRECISION,
    sector          TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    PRIMARY KEY (universe_id, as_of_date, instrument_id, config_id)
);
CREATE INDEX universe_members_day ON universe_members (universe_id, market_id, as_of_date);

-- Target weights that passed every hard limit (a breaching target is never written).
CREATE TABLE target_portfolios (
    portfolio_id    TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    instrument_id   TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    weight          DOUBLE PRECISION NOT NULL,
    method          TEXT NOT NULL,
    PRIMARY KEY (portfolio_id, as_of_date, instrument_id, config_id)
);
CREATE INDEX target_portfolios_day ON target_portfolios (portfolio_id, market_id, config_id, as_of_date);

-- The risk report of each written target (`body`: the whole report as JSON).
CREATE TABLE portfolio_risk_reports (
    portfolio_id    TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    method          TEXT NOT NULL,
    names           BIGINT NOT NULL,
    ex_ante_vol     DOUBLE PRECISION NOT NULL,
    historical_es_99 DOUBLE PRECISION,
    scenario_es_99  DOUBLE PRECISION,
    turnover        DOUBLE PRECISION NOT NULL,
    body            TEXT NOT NULL,
    PRIMARY KEY (portfolio_id, as_of_date, config_id)
);

-- A backtest: the strategy as run, the engine configs it used and its metrics.
CREATE TABLE backtest_runs (
    backtest_id     TEXT PRIMARY KEY,
    strategy        TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    from_date       DATE NOT NULL,
    to_date         DATE NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    strategy_body   TEXT NOT NULL,
    engine_configs  TEXT NOT NULL,
    state           TEXT NOT NULL,
    rebalances      BIGINT NOT NULL,
    failed_rebalances BIGINT NOT NULL,
    metrics         TEXT
);

-- Its equity, day by day.
CREATE TABLE backtest_daily (
    backtest_id     TEXT NOT NULL,
    trade_date      DATE NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    equity          DOUBLE PRECISION NOT NULL,
    cash            DOUBLE PRECISION NOT NULL,
    daily_return    DOUBLE PRECISION NOT NULL,
    benchmark_return DOUBLE PRECISION,
    gross_exposure  DOUBLE PRECISION NOT NULL,
    traded_notional DOUBLE PRECISION NOT NULL,
    costs           DOUBLE PRECISION NOT NULL,
    regime          TEXT,
    PRIMARY KEY (backtest_id, trade_date)
);

-- Its fills: at most one per instrument and day.
CREATE TABLE backtest_trades (
    backtest_id     TEXT NOT NULL,
    trade_date      DATE NOT NULL,
    instrument_id   TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    order_date      DATE NOT NULL,
    shares          DOUBLE PRECISION NOT NULL,
    price           DOUBLE PRECISION NOT NULL,
    notional        DOUBLE PRECISION NOT NULL,
    commission      DOUBLE PRECISION NOT NULL,
    slippage        DOUBLE PRECISION NOT NULL,
    target_weight   DOUBLE PRECISION NOT NULL,
    requested_shares DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (backtest_id, trade_date, instrument_id)
);
