//! News windows in market time: the news of a session is what was published after the
//! previous session's close, up to this session's close. Articles published overnight
//! belong to the next session, never to the one before (no look-ahead).

use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use chrono::{DateTime, Utc};

/// `(after, until]`: from the close `sessions` sessions before the run's date to the close
/// of the run's date. Errors when the market is unknown or the date is not a session.
pub fn news_window(
    ctx: &JobContext,
    sessions: usize,
) -> Result<(DateTime<Utc>, DateTime<Utc>), JobError> {
    let market = ctx.run.market.as_str();
    let calendar = ctx.calendars.get(market).map_err(JobError::permanent)?;
    let session = calendar.session(ctx.run.as_of).ok_or_else(|| {
        JobError::permanent(format!("{} is not a {market} session", ctx.run.as_of))
    })?;
    let after = calendar
        .previous_session(ctx.run.as_of, sessions.max(1))
        .map_or_else(
            || session.open - chrono::TimeDelta::days(sessions.max(1) as i64),
            |s| s.close,
        );
    Ok((after, session.close))
}
