//! `pv2 calendar sessions|state|plan`: the exchange calendars as users compare them with the
//! exchanges' published history, and what the scheduler will fire.

use crate::cli::{OutputFormat, TableFormat};
use crate::clock::SystemClock;
use crate::context::Context;
use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, TimeDelta, Utc};
use prometheus::calendar::{ExchangeCalendar, Session};
use prometheus::domain::Clock;
use serde_json::json;
use std::fmt::Write as _;

/// The calendar of `market`, or an error listing the configured markets.
pub(crate) fn calendar_of(ctx: &Context, market: &str) -> anyhow::Result<ExchangeCalendar> {
    let m = ctx
        .markets
        .markets
        .iter()
        .find(|m| m.id == market)
        .ok_or_else(|| {
            let ids: Vec<&str> = ctx.markets.markets.iter().map(|m| m.id.as_str()).collect();
            anyhow!(
                "unknown market `{market}`; markets in markets.toml: {}",
                ids.join(", ")
            )
        })?;
    m.calendar()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("building the calendar of {market} from markets.toml"))
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn session_json(s: &Session) -> serde_json::Value {
    json!({
        "date": s.date,
        "open_utc": utc(s.open),
        "close_utc": utc(s.close),
        "early_close": s.early_close,
        "break_start_utc": s.break_start.map(utc),
        "break_end_utc": s.break_end.map(utc),
    })
}

/// Checks that `from..=to` is in order and inside the years the calendar covers.
///
/// # Errors
/// Either problem, saying which.
pub(crate) fn check_range(
    calendar: &ExchangeCalendar,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<()> {
    let (first, last) = calendar.range();
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    if from < first || to > last {
        bail!("the calendars cover {first} to {last}; {from}..{to} is outside");
    }
    Ok(())
}

/// The sessions of a market as text, CSV or JSON (what `pv2 calendar sessions` prints).
///
/// # Errors
/// Dates outside the calendar's years or in the wrong order.
pub fn render_sessions(
    calendar: &ExchangeCalendar,
    from: NaiveDate,
    to: NaiveDate,
    format: TableFormat,
) -> anyhow::Result<String> {
    check_range(calendar, from, to)?;
    let sessions = calendar.sessions(from, to);
    let mut out = String::new();
    match format {
        TableFormat::Csv => {
            out.push_str("date,open_utc,close_utc,early_close\n");
            for s in sessions {
                let _ = writeln!(
                    out,
                    "{},{},{},{}",
                    s.date,
                    utc(s.open),
                    utc(s.close),
                    s.early_close
                );
            }
        }
        TableFormat::Json => {
            let rows: Vec<_> = sessions.iter().map(session_json).collect();
            out = serde_json::to_string_pretty(&rows)?;
            out.push('\n');
        }
        TableFormat::Text => {
            let tz = calendar.tz();
            let _ = writeln!(
                out,
                "{} sessions from {from} to {to} ({tz}; times local)",
                sessions.len()
            );
            for s in sessions {
                let lunch = match (s.break_start, s.break_end) {
                    (Some(a), Some(b)) => format!(
                        "  break {}–{}",
                        a.with_timezone(&tz).format("%H:%M"),
                        b.with_timezone(&tz).format("%H:%M")
                    ),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{}  {}  {}–{}{}{}",
                    s.date,
                    s.date.format("%a"),
                    s.open.with_timezone(&tz).format("%H:%M"),
                    s.close.with_timezone(&tz).format("%H:%M"),
                    lunch,
                    if s.early_close { "  early close" } else { "" }
                );
            }
        }
    }
    Ok(out)
}

/// Runs `pv2 calendar sessions`.
///
/// # Errors
/// Unknown market, dates outside the calendar.
pub fn sessions(
    ctx: &Context,
    market: &str,
    from: NaiveDate,
    to: NaiveDate,
    format: TableFormat,
) -> anyhow::Result<()> {
    let calendar = calendar_of(ctx, market)?;
    print!("{}", render_sessions(&calendar, from, to, format)?);
    Ok(())
}

/// A market's state at `at` and its next transition, as text or JSON.
pub fn render_state(
    market: &str,
    calendar: &ExchangeCalendar,
    at: DateTime<Utc>,
    format: OutputFormat,
) -> String {
    let tz = calendar.tz();
    let now = calendar.state_at(at);
    let next = calendar
        .transitions(at, at + TimeDelta::days(400))
        .into_iter()
        .next();
    match format {
        OutputFormat::Json => {
            let v = json!({
                "market": market,
                "at": utc(at),
                "state": now.state.as_str(),
                "session": now.session,
                "in_break": now.in_break,
                "next": next.map(|n| json!({
                    "state": n.state.as_str(),
                    "at": utc(n.at),
                    "session": n.session,
                })),
            });
            format!("{v}\n")
        }
        OutputFormat::Text => {
            let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z");
            let mut out = format!(
                "{market} at {} ({}): {}",
                utc(at),
                local(at),
                now.state.as_str()
            );
            if let Some(s) = now.session {
                let _ = write!(out, " of the {s} session");
            }
            if now.in_break {
                out.push_str(" (lunch break)");
            }
            out.push('\n');
            if let Some(n) = next {
                let _ = writeln!(
                    out,
                    "next: {} of the {} session at {} ({})",
                    n.state.as_str(),
                    n.session,
                    utc(n.at),
                    local(n.at)
                );
            }
            out
        }
    }
}

/// Runs `pv2 calendar state`.
///
/// # Errors
/// Unknown market, an instant outside the calendar.
pub fn state(
    ctx: &Context,
    market: &str,
    at: Option<DateTime<FixedOffset>>,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let calendar = calendar_of(ctx, market)?;
    let at = at.map_or_else(|| SystemClock.now(), |t| t.with_timezone(&Utc));
    let (first, last) = calendar.range();
    let date = at.with_timezone(&calendar.tz()).date_naive();
    if date < first || date > last {
        bail!(
            "the calendars cover {first} to {last}; {} is outside",
            utc(at)
        );
    }
    print!("{}", render_state(market, &calendar, at, format));
    Ok(())
}

/// Runs `pv2 calendar plan`.
///
/// # Errors
/// Invalid dags.toml or markets.toml, an empty window.
pub fn plan(
    ctx: &Context,
    from: Option<DateTime<FixedOffset>>,
    to: Option<DateTime<FixedOffset>>,
    format: TableFormat,
) -> anyhow::Result<()> {
    let from = from.map_or_else(|| SystemClock.now(), |t| t.with_timezone(&Utc));
    let to = to.map_or(from + TimeDelta::hours(24), |t| t.with_timezone(&Utc));
    if to <= from {
        bail!("--to {} is not after --from {}", utc(to), utc(from));
    }
    let dags = crate::spine::system::load_dags(ctx)?;
    let calendars = crate::scheduler::calendars(&ctx.markets).map_err(anyhow::Error::msg)?;
    let bindings =
        crate::scheduler::bindings(&dags, &calendars, None, None).map_err(anyhow::Error::msg)?;
    let planned = crate::scheduler::plan(&bindings, from, to);
    match format {
        TableFormat::Json => println!("{}", serde_json::to_string_pretty(&planned)?),
        TableFormat::Csv => {
            println!("at,dag,market,as_of,trigger,activation_id");
            for p in &planned {
                println!(
                    "{},{},{},{},{},{}",
                    utc(p.at),
                    p.dag_id,
                    p.market,
                    p.as_of,
                    p.trigger,
                    p.activation_id
                );
            }
        }
        TableFormat::Text => {
            println!(
                "{} activations in ({}, {}]",
                planned.len(),
                utc(from),
                utc(to)
            );
            for p in &planned {
                println!(
                    "{}  {:<10} {:<8} {}  {}",
                    utc(p.at),
                    p.dag_id,
                    p.market.as_str(),
                    p.as_of,
                    p.trigger
                );
            }
        }
    }
    Ok(())
}
