//! The dashboard's own files, served at `/` and `/assets/`: the page, its script and styles
//! are compiled into the binary (it works wherever the binary runs, offline); the chart
//! library — TradingView's `lightweight-charts`, made for financial time series — comes from
//! the npm registry through `scripts/fetch-ui` and is read from `ui/node_modules`. Without
//! it the page still shows every table and says how to get the charts.

use actix_web::{HttpResponse, web};
use std::path::{Path, PathBuf};

const INDEX: &str = include_str!("../../../ui/index.html");
const APP_JS: &str = include_str!("../../../ui/app.js");
const APP_CSS: &str = include_str!("../../../ui/app.css");

/// The chart library's file under a UI directory.
const CHARTS: &str =
    "node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js";

/// Environment variable naming the UI directory (the one holding `node_modules`).
pub const UI_DIR_ENV: &str = "PV2_UI_DIR";

/// Where the chart library is looked for, in order: `PV2_UI_DIR`, `ui/` beside the config
/// directory, `ui/` under the working directory, and the source tree this binary was built
/// from. The first that has the file wins.
pub fn ui_dirs(config_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(d) = std::env::var(UI_DIR_ENV)
        && !d.trim().is_empty()
    {
        out.push(PathBuf::from(d));
    }
    if let Some(c) = config_dir.and_then(Path::parent) {
        out.push(c.join("ui"));
    }
    out.push(PathBuf::from("ui"));
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui"));
    out
}

/// The chart library's path, if one of `dirs` has it.
pub fn chart_library(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(CHARTS)).find(|p| p.is_file())
}

pub(super) async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(INDEX)
}

pub(super) async fn asset(
    file: web::Path<String>,
    charts: web::Data<Option<PathBuf>>,
) -> HttpResponse {
    let js = "application/javascript; charset=utf-8";
    match file.as_str() {
        "app.js" => HttpResponse::Ok().content_type(js).body(APP_JS),
        "app.css" => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .body(APP_CSS),
        "lightweight-charts.js" => match charts.as_ref().as_ref().map(std::fs::read) {
            Some(Ok(bytes)) => HttpResponse::Ok()
                .content_type(js)
                .insert_header(("Cache-Control", "max-age=3600"))
                .body(bytes),
            // The page checks for the library and says how to install it.
            _ => HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("the chart library is not installed; run scripts/fetch-ui (npm), or set PV2_UI_DIR to a directory holding node_modules/lightweight-charts"),
        },
        other => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("no asset `{other}`")),
    }
}
