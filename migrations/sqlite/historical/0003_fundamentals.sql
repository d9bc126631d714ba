-- Reported fundamentals keyed by filing date: a figure is known from the day it was filed,
-- never from the end of the period it describes. A restatement is another filing of the
-- same period; both stay.
CREATE TABLE financial_statements (
    issuer_id   TEXT NOT NULL REFERENCES issuers (issuer_id),
    metric      TEXT NOT NULL,
    period_end  TEXT NOT NULL,
    filed_date  TEXT NOT NULL,
    value       REAL NOT NULL,
    batch_id    TEXT NOT NULL,
    PRIMARY KEY (issuer_id, metric, period_end, filed_date)
);
CREATE INDEX financial_statements_filed ON financial_statements (issuer_id, filed_date);
