-- Runtime database, SQLite: engine configurations and their audit trail, DAG and job runs,
-- actor life-cycle events. Engine output tables arrive with the engines.

-- Immutable configuration versions, keyed by the content hash of their canonical form.
CREATE TABLE engine_configs (
    config_id  TEXT PRIMARY KEY,
    engine     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (engine, version)
);

-- The one configuration each engine uses for its next job.
CREATE TABLE active_configs (
    engine       TEXT PRIMARY KEY,
    config_id    TEXT NOT NULL REFERENCES engine_configs (config_id),
    activated_at TEXT NOT NULL
);

-- Append-only audit of every activation and every rejected attempt.
CREATE TABLE config_changes (
    change_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
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
    as_of_date  TEXT,
    state       TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT
);
CREATE INDEX dag_runs_state ON dag_runs (state);

CREATE TABLE job_runs (
    run_id      TEXT NOT NULL REFERENCES dag_runs (run_id),
    job_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    config_id   TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT,
    PRIMARY KEY (run_id, job_id, attempt)
);

CREATE TABLE actor_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    event    TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX actor_events_actor ON actor_events (actor, event_id);
