//! Real data is never mixed with invented data.
//!
//! A database holds either the synthetic market (`pv2 demo`, the synthetic daily feed,
//! drills) or instruments and prices a user imported — never both. A synthetic day written
//! beside real instruments would be ranked, held and traded as if it were real; a real file
//! imported into a demo database would be judged against invented peers. Both are refused
//! before anything is written, with the way out in the message.

use super::error::IngestError;
use crate::store::{HistoricalDb, IngestLog};

/// Refuses to write the synthetic market into a database holding imported instruments or
/// prices.
///
/// # Errors
/// [`IngestError::MixedData`] when imported data is present; storage failures.
pub async fn ensure_synthetic_allowed(db: &HistoricalDb) -> Result<(), IngestError> {
    let p = db.provenance().await?;
    if p.imported > 0 {
        return Err(IngestError::MixedData(format!(
            "refusing to write synthetic market data: this database holds {} imported instrument/price file(s), and invented prices must never mix with real ones; \
             the synthetic feed is for `pv2 demo` and drills in a database of their own (--historical-db / PV2_HISTORICAL_DB), \
             and a real database's daily ingest reads the inbox (engines/ingest.toml: source = \"inbox\")",
            p.imported
        )));
    }
    Ok(())
}

/// Refuses to import instruments or prices into a database holding the synthetic market.
///
/// # Errors
/// [`IngestError::MixedData`] when synthetic data is present; storage failures.
pub async fn ensure_import_allowed(db: &HistoricalDb) -> Result<(), IngestError> {
    let p = db.provenance().await?;
    if p.synthetic > 0 {
        return Err(IngestError::MixedData(
            "refusing to import: this database holds the synthetic market (pv2 demo or the synthetic daily feed), and real data must never mix with invented data; \
             import into a database of its own (--historical-db sqlite://PATH / PV2_HISTORICAL_DB, and a runtime database beside it)"
                .to_owned(),
        ));
    }
    Ok(())
}
