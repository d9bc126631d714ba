//! `pv2 config show|history|apply ENGINE` and `pv2 config init DIR`.

use crate::clock::SystemClock;
use crate::context::Context;
use crate::monitor::client::{client_identity, find_daemon, query_value, request};
use crate::monitor::token::client_token;
use crate::spine::registry::apply_offline;
use anyhow::{Context as _, anyhow, bail};
use prometheus::store::ConfigStore;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `pv2 config init DIR`: the built-in defaults written out to edit.
///
/// # Errors
/// A file of the set already exists under `dir` (nothing is overwritten), or a write fails.
pub fn init(dir: &Path) -> anyhow::Result<()> {
    let written = prometheus::config::builtin::write_to(dir)
        .with_context(|| format!("writing the default configuration to {}", dir.display()))?;
    println!(
        "wrote {} files to {}; use it with --config {} or PV2_CONFIG={}",
        written.len(),
        dir.display(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

fn known(engine: &str) -> anyhow::Result<()> {
    if crate::spine::ACTOR_NAMES.contains(&engine) {
        Ok(())
    } else {
        bail!(
            "unknown engine `{engine}`; engines: {}",
            crate::spine::ACTOR_NAMES.join(", ")
        )
    }
}

/// The canonical JSON body as TOML for people.
fn as_toml(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| toml::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_owned())
}

/// `pv2 config show ENGINE`.
///
/// # Errors
/// Unknown engine, storage failures.
pub async fn show(ctx: &Context, engine: &str) -> anyhow::Result<()> {
    known(engine)?;
    let stores = ctx.open_stores().await?;
    match stores.runtime.active_config(engine).await? {
        Some(c) => {
            println!(
                "# {engine}: active config {} (version {}, by {} at {})",
                c.config_id,
                c.version,
                c.created_by,
                c.created_at.to_rfc3339()
            );
            print!("{}", as_toml(&c.body));
        }
        None => {
            println!(
                "# {engine}: no config activated yet; the first daemon or run start activates config/engines/{engine}.toml"
            );
            if let Some((text, _)) = ctx.source.read(&format!("engines/{engine}.toml"))? {
                print!("{text}");
            }
        }
    }
    stores.close().await;
    Ok(())
}

/// `pv2 config history ENGINE`.
///
/// # Errors
/// Unknown engine, storage failures.
pub async fn history(ctx: &Context, engine: &str) -> anyhow::Result<()> {
    known(engine)?;
    let stores = ctx.open_stores().await?;
    let active = stores
        .runtime
        .active_config(engine)
        .await?
        .map(|c| c.config_id);
    println!("versions of {engine}:");
    for v in stores.runtime.config_versions(engine).await? {
        let mark = if Some(&v.config_id) == active.as_ref() {
            "*"
        } else {
            " "
        };
        println!(
            " {mark} v{:<3} {}  {}  by {}",
            v.version,
            v.config_id,
            v.created_at.to_rfc3339(),
            v.created_by
        );
    }
    println!("changes:");
    for c in stores.runtime.config_changes(engine).await? {
        let ids = format!(
            "{} -> {}",
            c.old_config_id.as_ref().map_or("-", |i| i.as_str()),
            c.new_config_id.as_ref().map_or("-", |i| i.as_str())
        );
        println!(
            "   #{:<4} {}  {:<9} {ids}  by {}  {}",
            c.change_id,
            c.at.to_rfc3339(),
            c.action,
            c.actor,
            c.reason
        );
    }
    stores.close().await;
    Ok(())
}

/// What the running daemon answered to a configuration it applied.
pub(super) struct DaemonApplied {
    /// The config now active.
    pub config_id: String,
    /// Whether it replaced another.
    pub changed: bool,
    /// The daemon's process id.
    pub pid: u32,
}

/// POSTs `body` to `path` on the running daemon with the control token: `None` when no
/// daemon runs, else its pid and its JSON answer (`Err`: why it refused).
///
/// # Errors
/// The daemon cannot be reached or answers nonsense.
pub(super) async fn post_to_daemon(
    ctx: &Context,
    path: &str,
    body: &str,
) -> anyhow::Result<Option<(u32, Result<serde_json::Value, String>)>> {
    let state_dir = PathBuf::from(&ctx.app.daemon.state_dir);
    let Some(daemon) = find_daemon(&state_dir).await else {
        return Ok(None);
    };
    let token = client_token(&state_dir)?;
    let r = request(
        &daemon.listen,
        "POST",
        path,
        Some(&token),
        body,
        Duration::from_secs(60),
    )
    .await?;
    let v: serde_json::Value =
        serde_json::from_str(&r.body).map_err(|e| anyhow!("bad answer from the daemon: {e}"))?;
    let answer = if r.status == 200 {
        Ok(v)
    } else {
        Err(v["error"].as_str().unwrap_or(&r.body).to_owned())
    };
    Ok(Some((daemon.pid, answer)))
}

/// Sends `body` (TOML, or a stored version's JSON) for `engine` to the running daemon's
/// `ApplyConfig` path: `None` when no daemon runs, else its answer (`Err`: why it refused).
///
/// # Errors
/// The daemon cannot be reached or answers nonsense.
pub(super) async fn apply_in_daemon(
    ctx: &Context,
    engine: &str,
    body: &str,
    loosen_limits: Option<&str>,
) -> anyhow::Result<Option<Result<DaemonApplied, String>>> {
    let path = match loosen_limits {
        Some(why) => format!("/config/{engine}?loosen_limits={}", query_value(why)),
        None => format!("/config/{engine}"),
    };
    let Some((pid, answer)) = post_to_daemon(ctx, &path, body).await? else {
        return Ok(None);
    };
    Ok(Some(answer.map(|v| DaemonApplied {
        config_id: v["config_id"].as_str().unwrap_or("?").to_owned(),
        changed: v["changed"].as_bool() == Some(true),
        pid,
    })))
}

/// `pv2 config apply ENGINE FILE [--loosen-limits REASON]`: to the running daemon (hot,
/// same process) or, when none runs, straight to the store. A config that loosens a hard
/// limit needs a person's reason, which the audit row keeps.
///
/// # Errors
/// Unknown engine, unreadable file, rejected config (every reason), daemon or storage failure.
pub async fn apply(
    ctx: &Context,
    engine: &str,
    file: &Path,
    loosen_limits: Option<&str>,
) -> anyhow::Result<()> {
    known(engine)?;
    let body =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let state = |changed: bool| {
        if changed {
            "now active"
        } else {
            "already active"
        }
    };
    match apply_in_daemon(ctx, engine, &body, loosen_limits).await? {
        Some(Err(e)) => bail!("{engine}: {e}"),
        Some(Ok(a)) => println!(
            "{engine}: {} {} in the running daemon (pid {})",
            a.config_id,
            state(a.changed),
            a.pid
        ),
        None => {
            let stores = ctx.open_stores().await?;
            let res = apply_offline(
                engine,
                &body,
                &stores.runtime,
                &client_identity(),
                loosen_limits,
                &SystemClock,
            )
            .await;
            stores.close().await;
            let a = res.map_err(|e| anyhow!("{engine}: {e}"))?;
            println!(
                "{engine}: {} {} (no daemon running; used from the next start)",
                a.config_id,
                state(a.changed)
            );
        }
    }
    Ok(())
}
