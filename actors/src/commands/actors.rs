//! `pv2 actors [reset NAME]`: the operator's view of supervision in the running daemon —
//! every actor's state, restarts, config and last error — and the way to bring a DEGRADED
//! actor back without restarting the daemon.

use crate::cli::OutputFormat;
use crate::context::Context;
use crate::monitor::client::{DaemonInfo, find_daemon, request};
use crate::monitor::token::client_token;
use anyhow::{anyhow, bail};
use prometheus::store::EventLog;
use std::path::PathBuf;
use std::time::Duration;

/// The running daemon, or an error that says why `pv2 actors` needs one.
async fn daemon(ctx: &Context) -> anyhow::Result<(DaemonInfo, PathBuf)> {
    let state_dir = PathBuf::from(&ctx.app.daemon.state_dir);
    match find_daemon(&state_dir).await {
        Some(d) => Ok((d, state_dir)),
        None => bail!(
            "no daemon is running (no answer from the one named in {}): actors live in a running daemon; start it with `pv2 daemon`",
            crate::monitor::client::info_path(&state_dir).display()
        ),
    }
}

/// `pv2 actors`: the daemon's actors; without a daemon, the last recorded event of each.
///
/// # Errors
/// The daemon answers with an error; storage failures.
pub async fn list(ctx: &Context, format: OutputFormat) -> anyhow::Result<()> {
    let state_dir = PathBuf::from(&ctx.app.daemon.state_dir);
    let Some(d) = find_daemon(&state_dir).await else {
        return last_events(ctx, format).await;
    };
    let r = request(
        &d.listen,
        "GET",
        "/actors",
        None,
        "",
        Duration::from_secs(10),
    )
    .await?;
    if r.status != 200 {
        bail!("the daemon answered {}: {}", r.status, r.body);
    }
    let actors: Vec<serde_json::Value> =
        serde_json::from_str(&r.body).map_err(|e| anyhow!("bad answer from the daemon: {e}"))?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::Value::Array(actors));
        return Ok(());
    }
    println!(
        "{:<16} {:<11} {:>8} {:>9} {:>6} {:>8}  {:<24} last error",
        "actor", "state", "restarts", "in window", "jobs", "running", "config"
    );
    for a in &actors {
        let error = a["last_error"]
            .as_object()
            .map(|e| {
                format!(
                    "{} {}",
                    e["at"].as_str().unwrap_or(""),
                    e["error"].as_str().unwrap_or("")
                )
            })
            .unwrap_or_default();
        println!(
            "{:<16} {:<11} {:>8} {:>9} {:>6} {:>8}  {:<24} {error}",
            a["actor"].as_str().unwrap_or("?"),
            a["state"].as_str().unwrap_or("?"),
            a["restarts"],
            a["recent_restarts"],
            a["jobs"],
            a["in_flight"],
            a["config_id"].as_str().unwrap_or("?"),
        );
    }
    println!("daemon pid {} on {}", d.pid, d.listen);
    Ok(())
}

/// Without a daemon: the last recorded event of each actor.
async fn last_events(ctx: &Context, format: OutputFormat) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let events = stores.runtime.events(None, 10_000).await;
    stores.close().await;
    let mut last = std::collections::BTreeMap::new();
    for e in events? {
        last.insert(e.actor.clone(), e);
    }
    match format {
        OutputFormat::Json => {
            let docs: Vec<_> = last
                .values()
                .map(|e| serde_json::json!({"actor": e.actor, "event": e.event, "at": e.at, "detail": e.detail}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"daemon": null, "last_events": docs})
            );
        }
        OutputFormat::Text => {
            println!("no daemon is running; the last recorded event of each actor:");
            for e in last.values() {
                println!(
                    "  {:<16} {:<20} {}  {}",
                    e.actor,
                    e.event,
                    e.at.to_rfc3339(),
                    e.detail
                );
            }
        }
    }
    Ok(())
}

/// `pv2 actors reset NAME`.
///
/// # Errors
/// No daemon, unknown actor, the daemon refuses.
pub async fn reset(ctx: &Context, name: &str, format: OutputFormat) -> anyhow::Result<()> {
    if !crate::spine::ACTOR_NAMES.contains(&name) {
        bail!("{}", crate::spine::registry::unknown_actor(name));
    }
    let (d, state_dir) = daemon(ctx).await?;
    let token = client_token(&state_dir)?;
    let r = request(
        &d.listen,
        "POST",
        &format!("/actors/{name}/reset"),
        Some(&token),
        "",
        Duration::from_secs(30),
    )
    .await?;
    let v: serde_json::Value =
        serde_json::from_str(&r.body).map_err(|e| anyhow!("bad answer from the daemon: {e}"))?;
    if r.status != 200 {
        bail!("{name}: {}", v["error"].as_str().unwrap_or(&r.body));
    }
    match format {
        OutputFormat::Json => println!("{v}"),
        OutputFormat::Text if v["reset"] == true => println!(
            "{name}: DEGRADED -> RUNNING (requested by {})",
            v["requested_by"].as_str().unwrap_or("?")
        ),
        OutputFormat::Text => println!(
            "{name}: {} — not DEGRADED, nothing to reset",
            v["was"].as_str().unwrap_or("?")
        ),
    }
    Ok(())
}
