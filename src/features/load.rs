//! Reading a market's panel from the historical database, bounded by `as_of`: the input of
//! the numeric encoder and the profiles service.

use chrono::{Days, NaiveDate};

use crate::domain::{Instrument, MarketId};
use crate::encoders::numeric::Panel;
use crate::features::DayRow;
use crate::store::{DerivedStore, HistoricalDb, PriceStore, ReferenceStore, StoreError};

/// The market's instruments, and their closes and volumes with the market factor's one-day
/// returns from `history_days` calendar days before `as_of` up to `as_of` (nothing later).
///
/// # Errors
/// Store failures.
pub async fn load_panel(
    db: &HistoricalDb,
    market: &MarketId,
    as_of: NaiveDate,
    history_days: u64,
) -> Result<(Vec<Instrument>, Panel), StoreError> {
    let instruments = db.instruments(Some(market)).await?;
    let ids: Vec<_> = instruments
        .iter()
        .map(|i| i.instrument_id.clone())
        .collect();
    let from = as_of
        .checked_sub_days(Days::new(history_days))
        .unwrap_or(as_of);
    let rows = db.closes_volumes_many(&ids, from, as_of).await?;
    let market_returns = db.factor(&format!("MKT:{market}"), from, as_of).await?;
    let panel = Panel {
        instruments: rows
            .into_iter()
            .map(|(id, rows)| {
                let rows = rows
                    .into_iter()
                    .map(|(date, close, volume)| DayRow {
                        date,
                        close,
                        volume,
                    })
                    .collect();
                (id.as_str().to_owned(), rows)
            })
            .collect(),
        market: market_returns
            .into_iter()
            .map(|f| (f.trade_date, f.value))
            .collect(),
    };
    Ok((instruments, panel))
}

/// Calendar days that surely hold `sessions` trading sessions: weekends, about ten holidays
/// a year and room for unscheduled closures (NYSE was shut four sessions after 2001-09-11:
/// a margin of 15 days then held only 250 sessions where 252 were asked, and every name
/// failed a year-of-history filter for months). The `history_days` to pass to
/// [`load_panel`] for a window in sessions.
pub fn calendar_days_for(sessions: usize) -> u64 {
    let s = sessions as u64;
    (s * 7).div_ceil(5) + (s * 25).div_ceil(252) + 15
}
