//! The incremental derivation job.

use super::compute::{FactorMembership, factor_values, returns_from, volatility_from};
use super::config::DerivedConfig;
use crate::config::VersionedConfig;
use crate::domain::{InstrumentId, MarketId, ReturnValue, RunId, date_ceiling, date_floor};
use crate::store::{
    DerivedSlice, DerivedStore, HistoricalDb, PriceStore, ReferenceStore, StoreError,
};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// What one derivation run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeriveSummary {
    /// Instruments recomputed.
    pub instruments: usize,
    /// Return values written.
    pub returns: u64,
    /// Volatility values written.
    pub volatility: u64,
    /// Factor values written.
    pub factor_values: u64,
}

/// Recomputes returns, volatilities and factors for every instrument whose prices changed
/// since the last run, from its earliest changed date on, and nothing else. Reports
/// progress as `(instruments done, instruments to do)`.
///
/// Idempotent and crash-safe: marks are cleared only after everything is written, so an
/// interrupted run is simply repeated.
///
/// # Errors
/// Storage failures.
pub async fn derive_incremental(
    db: &HistoricalDb,
    cfg: &VersionedConfig<DerivedConfig>,
    run_id: &RunId,
    mut on_progress: impl FnMut(usize, usize) + Send,
) -> Result<DeriveSummary, StoreError> {
    let marks = db.derive_marks().await?;
    let mut summary = DeriveSummary::default();
    if marks.is_empty() {
        return Ok(summary);
    }
    let c = &cfg.config;
    let lookback = c.lookback_rows();
    // The recomputed one-day returns, kept for the factors so they need not be read back.
    let mut one_day: BTreeMap<InstrumentId, Vec<ReturnValue>> = BTreeMap::new();
    // Instruments changed from the same date are read together.
    let mut by_date = marks.clone();
    by_date.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    for chunk in by_date.chunks(c.batch_instruments) {
        let mut slices = Vec::with_capacity(chunk.len());
        let mut read = read_closes(db, chunk, lookback).await?;
        for (id, from) in chunk {
            let closes = read.remove(id).unwrap_or_default();
            let returns = returns_from(id, &closes, *from, &c.return_horizons);
            let volatility =
                volatility_from(id, &closes, *from, &c.vol_windows, c.annualisation_days);
            summary.returns += returns.len() as u64;
            summary.volatility += volatility.len() as u64;
            one_day.insert(
                id.clone(),
                returns
                    .iter()
                    .filter(|r| r.horizon_days == 1)
                    .cloned()
                    .collect(),
            );
            slices.push(DerivedSlice {
                instrument_id: id.clone(),
                from: *from,
                returns,
                volatility,
                horizons: c.return_horizons.clone(),
                windows: c.vol_windows.clone(),
            });
        }
        db.replace_derived(&slices, run_id, &cfg.config_id).await?;
        summary.instruments += chunk.len();
        on_progress(summary.instruments, marks.len());
    }
    summary.factor_values = derive_factors(db, cfg, run_id, &marks, one_day).await?;
    db.clear_derive_marks(&marks).await?;
    Ok(summary)
}

/// The closes each marked instrument's recomputation needs: its `lookback` rows before its
/// changed date and everything after. Instruments changed from the same date are read
/// together — first a window before that date wide enough for ordinary histories, then
/// what follows for those the window covered; an instrument with fewer rows in the window
/// (short history, long suspension, a first full derivation) is read exactly on its own.
async fn read_closes(
    db: &HistoricalDb,
    chunk: &[(InstrumentId, NaiveDate)],
    lookback: u32,
) -> Result<BTreeMap<InstrumentId, Vec<(NaiveDate, f64)>>, StoreError> {
    let need = lookback as usize;
    // Calendar days that hold `lookback` sessions with room for holidays.
    let span = chrono::TimeDelta::days(i64::from(lookback) * 7 / 5 + 21);
    let mut by_date: BTreeMap<NaiveDate, Vec<InstrumentId>> = BTreeMap::new();
    for (id, from) in chunk {
        by_date.entry(*from).or_default().push(id.clone());
    }
    let mut out = BTreeMap::new();
    for (from, ids) in by_date {
        let mut before = match (from.checked_sub_signed(span), from.pred_opt()) {
            (Some(floor), Some(last_before)) => {
                db.adj_closes_many(&ids, floor, last_before).await?
            }
            // No window before the earliest date: every instrument is read exactly.
            _ => BTreeMap::new(),
        };
        let mut covered = Vec::new();
        for id in ids {
            match before.remove(&id) {
                Some(rows) if rows.len() >= need => {
                    out.insert(id.clone(), rows[rows.len() - need..].to_vec());
                    covered.push(id);
                }
                _ => {
                    let start = db
                        .lookback_start(&id, from, lookback)
                        .await?
                        .unwrap_or_else(date_floor);
                    let closes = db.adj_closes(&id, start, date_ceiling()).await?;
                    out.insert(id, closes);
                }
            }
        }
        for (id, rows) in db.adj_closes_many(&covered, from, date_ceiling()).await? {
            out.entry(id).or_insert_with(Vec::new).extend(rows);
        }
    }
    Ok(out)
}

/// Recomputes each affected market's market and sector factors from the earliest changed
/// date of any of its instruments. One-day returns come from `recomputed` where the job
/// just computed them and from the store for everything else.
async fn derive_factors(
    db: &HistoricalDb,
    cfg: &VersionedConfig<DerivedConfig>,
    run_id: &RunId,
    marks: &[(InstrumentId, NaiveDate)],
    mut recomputed: BTreeMap<InstrumentId, Vec<ReturnValue>>,
) -> Result<u64, StoreError> {
    let instruments = db.instruments(None).await?;
    let sectors: BTreeMap<_, _> = db
        .issuers()
        .await?
        .into_iter()
        .map(|i| (i.issuer_id, i.sector))
        .collect();
    let market_of: BTreeMap<&InstrumentId, &MarketId> = instruments
        .iter()
        .map(|i| (&i.instrument_id, &i.market_id))
        .collect();
    let marked_from: BTreeMap<&InstrumentId, NaiveDate> =
        marks.iter().map(|(id, d)| (id, *d)).collect();
    let mut from_by_market: BTreeMap<&MarketId, NaiveDate> = BTreeMap::new();
    for (id, from) in marks {
        if let Some(m) = market_of.get(id) {
            let e = from_by_market.entry(m).or_insert(*from);
            *e = (*e).min(*from);
        }
    }
    let mut written = 0;
    for (market, from) in from_by_market {
        let members: Vec<_> = instruments
            .iter()
            .filter(|i| &i.market_id == market)
            .collect();
        let mut one_day: Vec<ReturnValue> = Vec::new();
        for i in &members {
            let id = &i.instrument_id;
            // Stored values cover what this run did not recompute.
            let stored_until = marked_from
                .get(id)
                .and_then(|d| d.pred_opt())
                .unwrap_or_else(date_ceiling);
            if stored_until >= from {
                one_day.extend(db.returns(id, 1, from, stored_until).await?);
            }
            if let Some(fresh) = recomputed.remove(id) {
                one_day.extend(fresh.into_iter().filter(|r| r.trade_date >= from));
            }
        }
        one_day.sort_by(|a, b| {
            (a.trade_date, &a.instrument_id).cmp(&(b.trade_date, &b.instrument_id))
        });
        // An index is a benchmark, not a member of the market it measures.
        let membership = FactorMembership {
            of: members
                .iter()
                .filter(|i| crate::domain::is_investable(&i.asset_class))
                .map(|i| {
                    let mut f = vec![FactorMembership::market_factor(market.as_str())];
                    if let Some(Some(sector)) = sectors.get(&i.issuer_id) {
                        f.push(FactorMembership::sector_factor(market.as_str(), sector));
                    }
                    (i.instrument_id.clone(), f)
                })
                .collect(),
        };
        let values = factor_values(&one_day, &membership);
        db.replace_factors(
            &membership.factor_ids(),
            from,
            &values,
            run_id,
            &cfg.config_id,
        )
        .await?;
        written += values.len() as u64;
    }
    Ok(written)
}
