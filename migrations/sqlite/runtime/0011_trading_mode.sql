-- The kill switch: every change of the trading mode, in order; the latest row is the mode
-- in force (none: ACTIVE). Append-only, so the audit trail and the state are one record and
-- a restart reads back exactly what an operator set.
CREATE TABLE trading_mode_changes (
    change_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    mode      TEXT NOT NULL CHECK (mode IN ('ACTIVE', 'REDUCE_ONLY', 'HALTED', 'FLATTEN')),
    previous  TEXT NOT NULL,
    actor     TEXT NOT NULL,
    reason    TEXT NOT NULL
);
