//! `pv2 drill chaos`: the supervision fire drill on scratch copies of the databases (see
//! [`crate::drill`]), printed as a matrix.

use crate::cli::{ChaosArgs, OutputFormat};
use crate::context::Context;
use crate::drill::{ChaosReport, ChaosRequest, FaultSelection, Verdict, chaos};
use anyhow::bail;
use prometheus::domain::MarketId;
use std::path::PathBuf;

/// Where scratch copies go by default: beside a SQLite historical database (same disk,
/// fast copies), else the system's temporary directory.
fn default_scratch(ctx: &Context) -> PathBuf {
    let name = format!("pv2-drill-{}", std::process::id());
    ctx.app
        .storage
        .historical_db
        .strip_prefix("sqlite://")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(|d| d.join(&name)))
        .unwrap_or_else(|| std::env::temp_dir().join(name))
}

/// Runs `pv2 drill chaos`.
///
/// # Errors
/// The drill cannot run, or a faulted chain did not come out identical.
pub async fn chaos_command(
    ctx: &Context,
    args: &ChaosArgs,
    faults: Option<&str>,
) -> anyhow::Result<()> {
    let scratch = args.scratch.clone().unwrap_or_else(|| default_scratch(ctx));
    let req = ChaosRequest {
        market: MarketId::new(&args.market),
        date: args.date,
        faults: FaultSelection::parse(faults.unwrap_or("all"))?,
        scratch: scratch.clone(),
    };
    if args.format == OutputFormat::Text {
        eprintln!(
            "drilling {} {}: a clean run, then one run per fault, each on a fresh copy in {}",
            req.market,
            req.date,
            scratch.display()
        );
    }
    let report = chaos(ctx, &req).await;
    // Scratch copies are removed as the drill goes; the directory too when it made it.
    if args.scratch.is_none() {
        let _ = std::fs::remove_dir(&scratch);
    }
    let report = report?;
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print_matrix(&report),
    }
    if !report.all_identical() {
        bail!("a faulted chain did not come out identical to the clean run");
    }
    Ok(())
}

fn print_matrix(r: &ChaosReport) {
    println!(
        "chaos drill of {} {}: chain {} ({} actors)",
        r.market,
        r.date,
        r.chain.join(" → "),
        r.actors.len()
    );
    println!(
        "{:<28} {:>5} {:>8} {:>7} {:>9} {:>7}  result",
        "fault", "runs", "restarts", "retries", "abandoned", "time"
    );
    let line = |fault: &str, run: &crate::drill::ScenarioRun, result: String| {
        println!(
            "{fault:<28} {:>5} {:>8} {:>7} {:>9} {:>6.1}s  {result}",
            run.runs.len(),
            run.restarts,
            run.retries,
            run.abandoned,
            run.seconds
        );
    };
    line(
        "(none: clean reference)",
        &r.clean.run,
        format!("{} SUCCEEDED", r.clean.run.runs.len()),
    );
    for row in &r.rows {
        let result = match (&row.verdict, &row.run.error) {
            (_, Some(e)) => format!("could not run: {e}"),
            (Some(Verdict::Identical), _) => "identical".to_owned(),
            (Some(Verdict::RunsDiffer { faulted, .. }), _) => {
                format!("runs ended differently: {}", faulted.join(", "))
            }
            (
                Some(Verdict::Differs {
                    table,
                    database,
                    at,
                    clean,
                    faulted,
                }),
                _,
            ) => format!(
                "DIFFERS in {database}.{table} at {at}: clean {} / faulted {}",
                clean.as_deref().unwrap_or("(none)"),
                faulted.as_deref().unwrap_or("(none)")
            ),
            (None, None) => "not compared".to_owned(),
        };
        line(row.fault.as_deref().unwrap_or("?"), &row.run, result);
    }
    let same = r
        .rows
        .iter()
        .filter(|x| x.verdict == Some(Verdict::Identical))
        .count();
    println!(
        "{same} of {} faulted chains identical to the clean run (timeouts calibrated to {}× the clean durations, at least 2 s)",
        r.rows.len(),
        6
    );
}
