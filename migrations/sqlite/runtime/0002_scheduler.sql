-- The scheduler's durable record: every activation it fired (or skipped by catch-up
-- policy), so a restart never fires one twice, and its watermark.

CREATE TABLE scheduler_activations (
    activation_id TEXT PRIMARY KEY,
    scheduler_id  TEXT NOT NULL,
    dag_id        TEXT NOT NULL,
    market_id     TEXT NOT NULL,
    as_of_date    TEXT NOT NULL,
    trigger       TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    fired_at      TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('fired', 'skipped', 'refused')),
    run_id        TEXT
);
CREATE INDEX scheduler_activations_due ON scheduler_activations (due_at);

CREATE TABLE scheduler_state (
    scheduler_id TEXT PRIMARY KEY,
    watermark    TEXT NOT NULL
);
