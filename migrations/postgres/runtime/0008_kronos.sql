-- Kronos: the decision log, the outcomes of decisions whose horizon has passed, candidate
-- configs, the audit trail and the promotion freeze.

-- One row per engine job that decided something: which config, which run, and where its
-- outputs are stored (`output_table` rows keyed by `output_key` and this date and config).
CREATE TABLE engine_decisions (
    engine       TEXT NOT NULL,
    market_id    TEXT NOT NULL,
    as_of_date   DATE NOT NULL,
    config_id    TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    output_table TEXT NOT NULL,
    output_key   TEXT NOT NULL,
    summary      TEXT NOT NULL,
    PRIMARY KEY (engine, market_id, as_of_date, config_id)
);
CREATE INDEX engine_decisions_day ON engine_decisions (market_id, as_of_date);

-- What a decision's horizon showed, computed from the prices of that horizon only;
-- `known_on` is the horizon's last session (the first day the value could be known).
CREATE TABLE decision_outcomes (
    engine       TEXT NOT NULL,
    market_id    TEXT NOT NULL,
    as_of_date   DATE NOT NULL,
    config_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    horizon_days BIGINT NOT NULL,
    metric       TEXT NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    regime       TEXT,
    known_on     DATE NOT NULL,
    run_id       TEXT NOT NULL,
    PRIMARY KEY (engine, market_id, as_of_date, config_id, subject, horizon_days, metric)
);
CREATE INDEX decision_outcomes_known ON decision_outcomes (market_id, known_on);
CREATE INDEX decision_outcomes_day ON decision_outcomes (market_id, as_of_date, horizon_days);

-- Candidate configs: sweeps, user proposals, negative controls.
CREATE TABLE kronos_proposals (
    proposal_id    TEXT PRIMARY KEY,
    engine         TEXT NOT NULL,
    market_id      TEXT NOT NULL,
    config_id      TEXT NOT NULL,
    base_config_id TEXT NOT NULL,
    body           TEXT NOT NULL,
    changes        TEXT NOT NULL,
    origin         TEXT NOT NULL,
    sweep_id       TEXT NOT NULL,
    state          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    created_by     TEXT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX kronos_proposals_state ON kronos_proposals (state, created_at);

-- Every state change of a proposal, every freeze and unfreeze.
CREATE TABLE kronos_audit (
    audit_id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    proposal_id TEXT,
    engine      TEXT,
    detail      TEXT NOT NULL
);

-- Promotion freeze (and other switches): one row per key.
CREATE TABLE kronos_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);
