//! `pv2 daemon`.

use crate::context::Context;
use crate::spine::faults::FaultPlan;

/// Runs the daemon until SIGTERM/SIGINT.
///
/// # Errors
/// Start-up failures.
pub async fn run(ctx: &Context, listen: Option<String>, faults: FaultPlan) -> anyhow::Result<()> {
    crate::daemon::run(ctx, listen, faults).await
}
