-- Issuer profiles: one snapshot per issuer, date and profiles config. `body` is the whole
-- snapshot as JSON (facts, price features, fundamentals by filing date, news features);
-- `risk_flags` the flags in [0,1] as a JSON object (a flag that cannot be computed is
-- absent, never guessed).
CREATE TABLE profiles (
    issuer_id   TEXT NOT NULL,
    as_of_date  DATE NOT NULL,
    config_id   TEXT NOT NULL,
    market_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    risk_flags  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (issuer_id, as_of_date, config_id)
);
CREATE INDEX profiles_market_date ON profiles (market_id, as_of_date);
