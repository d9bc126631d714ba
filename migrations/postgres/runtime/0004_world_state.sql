-- World-state engines' outputs. Every row carries the run and config that wrote it; the
-- full row as the engine computed it is kept as JSON in `body` next to typed columns that
-- queries filter on.

-- The regime engine: one row per market, date and regime config.
CREATE TABLE regimes (
    market_id       TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    model_id        TEXT NOT NULL,
    label           TEXT NOT NULL,
    raw_label       TEXT NOT NULL,
    change_risk     DOUBLE PRECISION NOT NULL,
    body            TEXT NOT NULL,
    PRIMARY KEY (market_id, as_of_date, config_id)
);

-- The label transition counts (self-transitions included) of the model used that day.
CREATE TABLE regime_transitions (
    market_id       TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    from_label      TEXT NOT NULL,
    to_label        TEXT NOT NULL,
    transitions     BIGINT NOT NULL,
    probability     DOUBLE PRECISION NOT NULL,
    model_id        TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    PRIMARY KEY (market_id, as_of_date, config_id, from_label, to_label)
);

-- Stability components and score per instrument (`body`: the whole report).
CREATE TABLE stability_vectors (
    instrument_id   TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    stability_score DOUBLE PRECISION NOT NULL,
    body            TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    PRIMARY KEY (instrument_id, as_of_date, config_id)
);
CREATE INDEX stability_vectors_market_date ON stability_vectors (market_id, as_of_date);

-- Soft-target score, class under the day's regime, and the forecast class.
CREATE TABLE soft_target_classes (
    instrument_id     TEXT NOT NULL,
    as_of_date        DATE NOT NULL,
    config_id         TEXT NOT NULL,
    market_id         TEXT NOT NULL,
    soft_target_score DOUBLE PRECISION NOT NULL,
    class             TEXT NOT NULL,
    forecast_class    TEXT NOT NULL,
    regime            TEXT,
    run_id            TEXT NOT NULL,
    PRIMARY KEY (instrument_id, as_of_date, config_id)
);
CREATE INDEX soft_target_classes_market_date ON soft_target_classes (market_id, as_of_date);

-- Fragility per instrument against one scenario set (`body`: score, ES, short template).
CREATE TABLE fragility_measures (
    instrument_id   TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    scenario_set_id TEXT NOT NULL,
    fragility_score DOUBLE PRECISION NOT NULL,
    class           TEXT NOT NULL,
    body            TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    PRIMARY KEY (instrument_id, as_of_date, config_id)
);
CREATE INDEX fragility_measures_market_date ON fragility_measures (market_id, as_of_date);

-- Scenario sets (content-addressed) and their stored paths: path 0 is the baseline (the
-- set's mean path), paths 1.. the first `stored_paths` scenario paths. `returns` holds
-- horizon × instruments little-endian f32; `source_dates` the history day of each path day.
CREATE TABLE scenario_sets (
    set_id          TEXT PRIMARY KEY,
    market_id       TEXT NOT NULL,
    as_of_date      DATE NOT NULL,
    config_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    paths           BIGINT NOT NULL,
    stored_paths    BIGINT NOT NULL,
    horizon         BIGINT NOT NULL,
    instruments     TEXT NOT NULL,
    run_id          TEXT NOT NULL
);
CREATE INDEX scenario_sets_market_date ON scenario_sets (market_id, as_of_date);

CREATE TABLE scenario_paths (
    set_id          TEXT NOT NULL,
    path            BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    source_dates    TEXT NOT NULL,
    returns         BYTEA NOT NULL,
    PRIMARY KEY (set_id, path)
);
