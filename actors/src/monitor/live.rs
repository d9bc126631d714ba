//! `GET /events`: the live feed as server-sent events — run and job state, actor events,
//! alerts — so the dashboard redraws when something changes instead of polling. Each SSE
//! message's `event:` is the kind (`run`, `job`, `actor`, `alert`) and its `data:` the JSON
//! of [`Live`]; a comment every 15 s keeps proxies from closing an idle stream, and a client
//! that fell behind gets a `lagged` event saying how many it missed (it should reload).

use super::http::ApiState;
use super::telemetry::Live;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often an idle stream gets a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One SSE message.
fn message(e: &Live) -> String {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".to_owned());
    format!("event: {}\ndata: {data}\n\n", e.kind())
}

pub(super) async fn events(state: web::Data<ApiState>) -> HttpResponse {
    let rx = state.spine.events.telemetry().subscribe();
    let stream = futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if first {
            let hello = "retry: 2000\nevent: hello\ndata: {}\n\n".to_owned();
            return Some((Ok::<_, Infallible>(Bytes::from(hello)), (rx, false)));
        }
        let text = tokio::select! {
            r = rx.recv() => match r {
                Ok(e) => message(&e),
                Err(RecvError::Lagged(n)) => format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n"),
                Err(RecvError::Closed) => return None,
            },
            () = tokio::time::sleep(KEEP_ALIVE) => ": keep-alive\n\n".to_owned(),
        };
        Some((Ok(Bytes::from(text)), (rx, false)))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_named_by_kind_with_json_data() {
        let e = Live::Actor {
            actor: "portfolio".into(),
            event: "restarted".into(),
            detail: "after a panic".into(),
            at: chrono::DateTime::parse_from_rfc3339("2024-01-02T21:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        };
        let m = message(&e);
        assert!(m.starts_with("event: actor\ndata: {"), "{m}");
        assert!(m.ends_with("}\n\n"));
        let data: serde_json::Value =
            serde_json::from_str(m.lines().nth(1).unwrap().strip_prefix("data: ").unwrap())
                .unwrap();
        assert_eq!(data["type"], "actor");
        assert_eq!(data["actor"], "portfolio");
    }
}
