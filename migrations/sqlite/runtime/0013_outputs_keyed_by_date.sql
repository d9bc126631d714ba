-- Per-instrument engine outputs keyed by date first.
--
-- These tables were keyed (instrument, date, config): every run writes one date and one
-- config for every name, so its rows went to as many leaf pages of the key index as it has
-- names — 500 pages (2 MB) per table per run on a 500-name market, each page written to
-- the WAL and then again by the checkpoint. A 20-year monthly backtest wrote ~5 GB for
-- ~100 MB of rows. Keyed (date, config, instrument) the rows of one run are neighbours in
-- the index and fill a few pages. Every read is by market and date (the market-date
-- indexes stay); none looks one instrument up across dates. The key's columns are the
-- same, so upserts and uniqueness are unchanged.

CREATE TABLE stability_vectors_by_date (
    instrument_id   TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    stability_score REAL NOT NULL,
    body            TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    PRIMARY KEY (as_of_date, config_id, instrument_id)
);
INSERT INTO stability_vectors_by_date
    (instrument_id, as_of_date, config_id, market_id, stability_score, body, run_id)
    SELECT instrument_id, as_of_date, config_id, market_id, stability_score, body, run_id
    FROM stability_vectors ORDER BY as_of_date, config_id, instrument_id;
DROP TABLE stability_vectors;
ALTER TABLE stability_vectors_by_date RENAME TO stability_vectors;
CREATE INDEX stability_vectors_market_date ON stability_vectors (market_id, as_of_date);

CREATE TABLE soft_target_classes_by_date (
    instrument_id     TEXT NOT NULL,
    as_of_date        TEXT NOT NULL,
    config_id         TEXT NOT NULL,
    market_id         TEXT NOT NULL,
    soft_target_score REAL NOT NULL,
    class             TEXT NOT NULL,
    forecast_class    TEXT NOT NULL,
    regime            TEXT,
    run_id            TEXT NOT NULL,
    PRIMARY KEY (as_of_date, config_id, instrument_id)
);
INSERT INTO soft_target_classes_by_date
    (instrument_id, as_of_date, config_id, market_id, soft_target_score, class,
     forecast_class, regime, run_id)
    SELECT instrument_id, as_of_date, config_id, market_id, soft_target_score, class,
           forecast_class, regime, run_id
    FROM soft_target_classes ORDER BY as_of_date, config_id, instrument_id;
DROP TABLE soft_target_classes;
ALTER TABLE soft_target_classes_by_date RENAME TO soft_target_classes;
CREATE INDEX soft_target_classes_market_date ON soft_target_classes (market_id, as_of_date);

CREATE TABLE fragility_measures_by_date (
    instrument_id   TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    scenario_set_id TEXT NOT NULL,
    fragility_score REAL NOT NULL,
    class           TEXT NOT NULL,
    body            TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    PRIMARY KEY (as_of_date, config_id, instrument_id)
);
INSERT INTO fragility_measures_by_date
    (instrument_id, as_of_date, config_id, market_id, scenario_set_id, fragility_score,
     class, body, run_id)
    SELECT instrument_id, as_of_date, config_id, market_id, scenario_set_id,
           fragility_score, class, body, run_id
    FROM fragility_measures ORDER BY as_of_date, config_id, instrument_id;
DROP TABLE fragility_measures;
ALTER TABLE fragility_measures_by_date RENAME TO fragility_measures;
CREATE INDEX fragility_measures_market_date ON fragility_measures (market_id, as_of_date);

CREATE TABLE instrument_scores_by_date (
    strategy_id     TEXT NOT NULL,
    instrument_id   TEXT NOT NULL,
    as_of_date      TEXT NOT NULL,
    horizon_days    INTEGER NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    expected_return REAL NOT NULL,
    score           REAL NOT NULL,
    confidence      REAL NOT NULL,
    label           TEXT NOT NULL,
    prediction      REAL NOT NULL,
    momentum        REAL,
    reversal        REAL,
    low_vol         REAL,
    quality         REAL,
    fragility       REAL,
    PRIMARY KEY (strategy_id, as_of_date, config_id, instrument_id, horizon_days)
);
INSERT INTO instrument_scores_by_date
    (strategy_id, instrument_id, as_of_date, horizon_days, config_id, market_id, run_id,
     expected_return, score, confidence, label, prediction, momentum, reversal, low_vol,
     quality, fragility)
    SELECT strategy_id, instrument_id, as_of_date, horizon_days, config_id, market_id,
           run_id, expected_return, score, confidence, label, prediction, momentum,
           reversal, low_vol, quality, fragility
    FROM instrument_scores ORDER BY strategy_id, as_of_date, config_id, instrument_id;
DROP TABLE instrument_scores;
ALTER TABLE instrument_scores_by_date RENAME TO instrument_scores;
CREATE INDEX instrument_scores_day ON instrument_scores (strategy_id, market_id, as_of_date);

CREATE TABLE profiles_by_date (
    issuer_id   TEXT NOT NULL,
    as_of_date  TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    market_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    risk_flags  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (as_of_date, config_id, issuer_id)
);
INSERT INTO profiles_by_date
    (issuer_id, as_of_date, config_id, market_id, body, risk_flags, run_id)
    SELECT issuer_id, as_of_date, config_id, market_id, body, risk_flags, run_id
    FROM profiles ORDER BY as_of_date, config_id, issuer_id;
DROP TABLE profiles;
ALTER TABLE profiles_by_date RENAME TO profiles;
CREATE INDEX profiles_market_date ON profiles (market_id, as_of_date);
