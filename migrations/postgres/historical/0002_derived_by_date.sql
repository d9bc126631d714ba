-- Recomputing an instrument's derived series deletes its rows of every horizon (window)
-- from the changed date on. The primary keys lead with (instrument, horizon), so without
-- these indexes each such delete scans the instrument's whole history.

CREATE INDEX returns_daily_by_date ON returns_daily (instrument_id, trade_date);
CREATE INDEX volatility_daily_by_date ON volatility_daily (instrument_id, trade_date);
