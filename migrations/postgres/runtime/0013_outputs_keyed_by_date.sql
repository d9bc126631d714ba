-- Per-instrument engine outputs keyed by date first (see the SQLite migration of the same
-- name): a run writes one date and config for every name, and under a key starting with
-- the instrument those entries were spread over as many index pages as there are names.
-- The key's columns are the same, so upserts and uniqueness are unchanged.
ALTER TABLE stability_vectors DROP CONSTRAINT stability_vectors_pkey,
    ADD PRIMARY KEY (as_of_date, config_id, instrument_id);
ALTER TABLE soft_target_classes DROP CONSTRAINT soft_target_classes_pkey,
    ADD PRIMARY KEY (as_of_date, config_id, instrument_id);
ALTER TABLE fragility_measures DROP CONSTRAINT fragility_measures_pkey,
    ADD PRIMARY KEY (as_of_date, config_id, instrument_id);
ALTER TABLE instrument_scores DROP CONSTRAINT instrument_scores_pkey,
    ADD PRIMARY KEY (strategy_id, as_of_date, config_id, instrument_id, horizon_days);
ALTER TABLE profiles DROP CONSTRAINT profiles_pkey,
    ADD PRIMARY KEY (as_of_date, config_id, issuer_id);
