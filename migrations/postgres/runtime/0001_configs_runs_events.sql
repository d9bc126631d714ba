-- Runtime database, PostgreSQL: engine configurations and their audit trail, DAG and job runs,
-- actor life-cycle events. Engine output tables arrive with the engines.

-- Immutable configuration versions, keyed by the content hash of their canonical form.
CREATE TABLE engine_configs (
    config_id  TEXT PRIMARY KEY,
    engine     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (engine, version)
);

-- The one configuration each engine uses for its next job.
CREATE TABLE active_configs (
    engine       TEXT PRIMARY KEY,
    config_id    TEXT NOT NULL REFERENCES engine_configs (config_id),
    activated_at TIMESTAMPTZ NOT NULL
);

-- Append-only audit of every activation and every rejected attempt.
CREATE TABLE config_changes (
    change_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    engine        TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('activated', 'rejected')),
    old_config_id TEXT,
    new_config_id TEXT,
    actor         TEXT NOT NULL,
    reason        TEXT NOT NULL
);
CREATE INDEX config_changes_engine ON config_changes (engine, change_id);

CREATE TABLE dag_runs (
    run_id      TEXT PRIMARY KEY,
    dag_id      TEXT NOT NULL,
    market_id   TEXT,
    as_of_date  DATE,
    state       TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    error       TEXT
);
CREATE INDEX dag_runs_state ON dag_runs (state);

CREATE TABLE job_runs (
    run_id      TEXT NOT NULL REFERENCES dag_runs (run_id),
    job_id      TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    state       TEXT NOT NULL,
    config_id   TEXT,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    error       TEXT,
    PRIMARY KEY (run_id, job_id, attempt)
);

CREATE TABLE actor_events (
    event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor    TEXT NOT NULL,
    event    TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX actor_events_actor ON actor_events (actor, event_id);
