-- Shadow mode: a candidate that passed its gates runs beside the active config in the daily
-- engine chain, on the same inputs, for a number of sessions before a person decides. Its
-- outputs are stored under its own config_id (never read downstream, which reads by the
-- run record's configs); its decisions are logged and measured like any other.

-- One row per proposal put in shadow: where it runs and for how many sessions.
CREATE TABLE kronos_shadows (
    proposal_id TEXT PRIMARY KEY,
    engine      TEXT NOT NULL,
    market_id   TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    dag_id      TEXT NOT NULL,
    sessions    BIGINT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    started_by  TEXT NOT NULL
);

-- Each session's shadow run: succeeded (its outputs are stored) or failed (why).
CREATE TABLE kronos_shadow_runs (
    proposal_id TEXT NOT NULL,
    as_of_date  DATE NOT NULL,
    engine      TEXT NOT NULL,
    market_id   TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (proposal_id, as_of_date)
);
CREATE INDEX kronos_shadow_runs_day ON kronos_shadow_runs (market_id, as_of_date);
