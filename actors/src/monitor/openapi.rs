//! The API's contract: every route with its method, parameters, who may call it and what it
//! answers, served as an OpenAPI 3.0 document at `/openapi.json`. The contract tests walk
//! this same table, so a route documented here and not served (or served with other rules)
//! fails them.

use serde_json::{Map, Value, json};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone who reaches the listener.
    Public,
    /// The read token when one is set (or the control token).
    Read,
    /// The control token.
    Control,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum In {
    /// A `{name}` segment of the path.
    Path,
    /// `?name=`.
    Query,
}

/// One parameter: name, place, whether required, what it is.
pub type Param = (&'static str, In, bool, &'static str);

/// One route of the API.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path, `{name}` for path parameters.
    pub path: &'static str,
    /// What it is for.
    pub summary: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// Its parameters.
    pub params: &'static [Param],
    /// The JSON type of a successful answer (`object`, `array`) or a media type.
    pub answers: &'static str,
}

const AS_OF: Param = (
    "as_of",
    In::Query,
    false,
    "Show what the system knew at the end of this date (YYYY-MM-DD; default today).",
);

/// Every route the daemon serves.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/healthz",
        summary: "Liveness: the process answers.",
        auth: Auth::Public,
        params: &[],
        answers: "text/plain",
    },
    Route {
        method: "GET",
        path: "/",
        summary: "The dashboard (HTML; reads go to the routes below with the token it is given).",
        auth: Auth::Public,
        params: &[],
        answers: "text/html",
    },
    Route {
        method: "GET",
        path: "/assets/{file}",
        summary: "The dashboard's scripts, styles and chart library.",
        auth: Auth::Public,
        params: &[(
            "file",
            In::Path,
            true,
            "app.js, app.css or lightweight-charts.js",
        )],
        answers: "application/javascript",
    },
    Route {
        method: "GET",
        path: "/readyz",
        summary: "Readiness: accepting runs, database reachable, no market's data overdue; says why not (503).",
        auth: Auth::Read,
        params: &[],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/metrics",
        summary: "Prometheus metrics (text exposition format, names prefixed pv2_).",
        auth: Auth::Read,
        params: &[],
        answers: "text/plain",
    },
    Route {
        method: "GET",
        path: "/events",
        summary: "Server-sent events: run, job, actor and alert updates as they happen.",
        auth: Auth::Read,
        params: &[],
        answers: "text/event-stream",
    },
    Route {
        method: "GET",
        path: "/alerts",
        summary: "Open alerts, oldest first.",
        auth: Auth::Read,
        params: &[],
        answers: "array",
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        summary: "This document.",
        auth: Auth::Read,
        params: &[],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/actors",
        summary: "Every actor's supervision state.",
        auth: Auth::Read,
        params: &[],
        answers: "array",
    },
    Route {
        method: "GET",
        path: "/runs",
        summary: "The latest DAG runs, newest first.",
        auth: Auth::Read,
        params: &[("last", In::Query, false, "How many (default 20).")],
        answers: "array",
    },
    Route {
        method: "POST",
        path: "/runs",
        summary: "Activate a DAG run: body {market, date, dag?, rerun?, wait?}.",
        auth: Auth::Control,
        params: &[],
        answers: "object",
    },
    Route {
        method: "POST",
        path: "/config/{engine}",
        summary: "Validate, store and apply an engine config (TOML body) to the running engine.",
        auth: Auth::Control,
        params: &[
            ("engine", In::Path, true, "Engine name."),
            (
                "loosen_limits",
                In::Query,
                false,
                "A person's reason for loosening a hard limit (audited); without it such a config is rejected.",
            ),
        ],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/trading",
        summary: "The kill switch: the trading mode in force and its latest changes.",
        auth: Auth::Read,
        params: &[],
        answers: "object",
    },
    Route {
        method: "POST",
        path: "/trading/{action}",
        summary: "Set the kill switch (halt, reduce-only, flatten, resume); the text body is the reason. Persisted and audited.",
        auth: Auth::Control,
        params: &[(
            "action",
            In::Path,
            true,
            "halt | reduce-only | flatten | resume",
        )],
        answers: "object",
    },
    Route {
        method: "POST",
        path: "/actors/{name}/reset",
        summary: "Bring a DEGRADED actor back into service.",
        auth: Auth::Control,
        params: &[("name", In::Path, true, "Actor name.")],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/api/markets",
        summary: "Configured markets and their latest priced session.",
        auth: Auth::Read,
        params: &[],
        answers: "array",
    },
    Route {
        method: "GET",
        path: "/api/overview",
        summary: "Per market: regime, the latest target's risk against its limits, paper P&L; open alerts; actors.",
        auth: Auth::Read,
        params: &[AS_OF],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/api/table/{what}",
        summary: "An engine's outputs over a range of sessions (what `pv2 show WHAT --from --to` prints).",
        auth: Auth::Read,
        params: &[
            (
                "what",
                In::Path,
                true,
                "regime, stability, fragility, scenarios, scores, universe, portfolio or risk.",
            ),
            ("market", In::Query, true, "Market id."),
            ("to", In::Query, false, "Last session (default today)."),
            (
                "from",
                In::Query,
                false,
                "First session (default `sessions` before `to`).",
            ),
            (
                "sessions",
                In::Query,
                false,
                "Sessions back when `from` is not given (default 250).",
            ),
            (
                "top",
                In::Query,
                false,
                "Instruments per date (default 25).",
            ),
            (
                "config_id",
                In::Query,
                false,
                "Rows of this engine config (default: the one its scheduled runs used on `to`, else the active one).",
            ),
            (
                "id",
                In::Query,
                false,
                "Strategy, universe or portfolio id (default: the config's).",
            ),
            (
                "count_by",
                In::Query,
                false,
                "Instead of the rows: how many rows per date have each value of this column.",
            ),
        ],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/api/pipeline",
        summary: "A day's DAG runs with every job attempt, each job's usual latency, and the next activations.",
        auth: Auth::Read,
        params: &[
            ("market", In::Query, true, "Market id."),
            ("date", In::Query, false, "Session (default today)."),
        ],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/api/backtests",
        summary: "The latest backtests with their metrics.",
        auth: Auth::Read,
        params: &[("last", In::Query, false, "How many (default 50).")],
        answers: "array",
    },
    Route {
        method: "GET",
        path: "/api/backtests/{id}",
        summary: "One backtest: metrics (by regime too) and its daily equity, benchmark and drawdown.",
        auth: Auth::Read,
        params: &[("id", In::Path, true, "Backtest id.")],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/api/configs/{engine}",
        summary: "An engine's config versions and audited changes known by `as_of`.",
        auth: Auth::Read,
        params: &[("engine", In::Path, true, "Engine name."), AS_OF],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/kronos/proposals",
        summary: "Kronos's proposals, newest first.",
        auth: Auth::Read,
        params: &[(
            "state",
            In::Query,
            false,
            "Only this state (PROPOSED, PASSED, SHADOW, PROMOTED…).",
        )],
        answers: "array",
    },
    Route {
        method: "GET",
        path: "/kronos/proposals/{id}",
        summary: "One proposal with its gate results.",
        auth: Auth::Read,
        params: &[("id", In::Path, true, "Proposal id.")],
        answers: "object",
    },
    Route {
        method: "POST",
        path: "/kronos/proposals/{id}/{action}",
        summary: "approve, reject, revert or shadow a proposal (body: the reason).",
        auth: Auth::Control,
        params: &[
            ("id", In::Path, true, "Proposal id."),
            (
                "action",
                In::Path,
                true,
                "approve, reject, revert or shadow.",
            ),
        ],
        answers: "object",
    },
    Route {
        method: "GET",
        path: "/kronos/experiments",
        summary: "Kronos's experiment queue and results.",
        auth: Auth::Read,
        params: &[],
        answers: "array",
    },
    Route {
        method: "GET",
        path: "/kronos/audit",
        summary: "Kronos's audit trail, and whether promotions are frozen (by whom, why).",
        auth: Auth::Read,
        params: &[],
        answers: "object",
    },
    Route {
        method: "POST",
        path: "/kronos/{what}",
        summary: "freeze or unfreeze promotions.",
        auth: Auth::Control,
        params: &[("what", In::Path, true, "freeze or unfreeze.")],
        answers: "object",
    },
];

fn response_schema(answers: &str) -> Value {
    match answers {
        "object" | "array" => json!({"application/json": {"schema": {"type": answers}}}),
        media => json!({ media: {"schema": {"type": "string"}} }),
    }
}

/// The OpenAPI 3.0 document of [`ROUTES`].
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|(name, place, required, what)| {
                json!({
                    "name": name,
                    "in": if *place == In::Path { "path" } else { "query" },
                    "required": required,
                    "description": what,
                    "schema": {"type": "string"},
                })
            })
            .collect();
        let security = match r.auth {
            Auth::Public => json!([]),
            Auth::Read => json!([{"readToken": []}, {"controlToken": []}]),
            Auth::Control => json!([{"controlToken": []}]),
        };
        let mut responses = json!({
            "200": {"description": "OK", "content": response_schema(r.answers)},
        });
        if r.auth != Auth::Public {
            responses["401"] = json!({"description": "Missing or wrong token."});
        }
        let op = json!({
            "summary": r.summary,
            "operationId": format!("{} {}", r.method, r.path),
            "parameters": params,
            "security": security,
            "responses": responses,
        });
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Prometheus v2 daemon API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The daemon's dashboard, monitoring and control API. Reads need the read token when one is set; every mutation needs the control token. Both go in `Authorization: Bearer …`.",
        },
        "components": {"securitySchemes": {
            "readToken": {"type": "http", "scheme": "bearer", "description": "daemon.read_token or PV2_READ_TOKEN"},
            "controlToken": {"type": "http", "scheme": "bearer", "description": "PV2_CONTROL_TOKEN or <state_dir>/control.token"},
        }},
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once_with_its_path_parameters() {
        let doc = document();
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            let op = &doc["paths"][r.path][r.method.to_lowercase()];
            assert!(op.is_object(), "{} {}", r.method, r.path);
            // Every {name} of the path is a declared path parameter, and only those.
            let in_path: Vec<&str> = r
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: Vec<&str> = r
                .params
                .iter()
                .filter(|p| p.1 == In::Path)
                .map(|p| p.0)
                .collect();
            assert_eq!(in_path, declared, "{}", r.path);
            assert_eq!(
                op["responses"]["401"].is_object(),
                r.auth != Auth::Public,
                "{}",
                r.path
            );
        }
        assert_eq!(doc["openapi"], "3.0.3");
    }
}
