-- Runs by market and date: a job that reads the config an upstream actor of another run
-- used (the joint encoder reading the profiles DAG's) finds the date's runs by this index
-- and their attempts by the primary key. The index on (actor, state) it replaces made the
-- lookup walk every successful attempt of the actor, so a 30-year backfill slowed from 27
-- to 9 sessions a second as the history grew.
DROP INDEX job_runs_actor;
CREATE INDEX dag_runs_market_date ON dag_runs (market_id, as_of_date);
