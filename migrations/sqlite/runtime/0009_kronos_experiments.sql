-- Kronos's experiment queue: each experiment is one config (a search's baseline or a
-- candidate) run walk-forward through the backtest machinery. Workers claim experiments
-- under leases that expire if the worker dies; the result is accepted only from the worker
-- holding the lease.
CREATE TABLE kronos_experiments (
    experiment_id TEXT PRIMARY KEY,
    sweep_id      TEXT NOT NULL,
    proposal_id   TEXT,
    priority      INTEGER NOT NULL,
    state         TEXT NOT NULL,
    spec          TEXT NOT NULL,
    lease_owner   TEXT,
    lease_expires TEXT,
    attempts      INTEGER NOT NULL,
    result        TEXT,
    error         TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX kronos_experiments_queue ON kronos_experiments (state, priority, created_at);
CREATE INDEX kronos_experiments_sweep ON kronos_experiments (sweep_id);

-- The gates' verdicts on a judged proposal (JSON list).
ALTER TABLE kronos_proposals ADD COLUMN gates TEXT;
