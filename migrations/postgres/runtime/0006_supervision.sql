-- Supervision: every failed attempt records its error class (transient, unavailable,
-- permanent), which decided whether it was retried; and every attempt records the actor
-- that ran it, so a job can find the config an upstream actor of another run used.
ALTER TABLE job_runs ADD COLUMN error_class TEXT;
ALTER TABLE job_runs ADD COLUMN actor TEXT;
CREATE INDEX job_runs_actor ON job_runs (actor, state);
