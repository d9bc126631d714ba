//! Fundamental weakness per instrument on a date, from its issuer's profile flags: the
//! stability engine's fundamental component and the assessment's quality family.

use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use prometheus::domain::Instrument;
use prometheus::store::WorldStateStore;
use std::collections::BTreeMap;

/// Profile flags that describe fundamental weakness.
const FUNDAMENTAL_FLAGS: [&str; 2] = ["high_leverage", "loss_making"];

/// The mean of the known weakness flags of each instrument's issuer on the date, by
/// instrument id; instruments whose issuer has none are left out.
///
/// # Errors
/// Store failures, as text for the job report.
pub async fn fundamental_weakness(
    ctx: &JobContext,
    instruments: &[Instrument],
) -> Result<BTreeMap<String, f64>, JobError> {
    let flags = ctx
        .stores
        .runtime
        .profile_flags(ctx.run.market.as_str(), ctx.run.as_of)
        .await?;
    Ok(instruments
        .iter()
        .filter_map(|i| {
            let f = flags.get(i.issuer_id.as_str())?;
            let known: Vec<f64> = FUNDAMENTAL_FLAGS
                .iter()
                .filter_map(|n| f.get(*n).copied())
                .collect();
            (!known.is_empty()).then(|| {
                (
                    i.instrument_id.as_str().to_owned(),
                    known.iter().sum::<f64>() / known.len() as f64,
                )
            })
        })
        .collect())
}
