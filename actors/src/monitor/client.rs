//! A minimal HTTP/1.1 client for the daemon's loopback API (no TLS, one request per
//! connection), so the CLI needs no HTTP client library.

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The header a client names itself in; the daemon records it with every change it asks
/// for (configurations, resets) in the audit trail and actor events.
pub const REQUESTED_BY_HEADER: &str = "X-PV2-Requested-By";

/// Who this command-line client is: `cli:USER@HOST` (from the environment and the host
/// name), so an audit row says which person on which machine asked.
pub fn client_identity() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    // Header-safe: no control characters, bounded length.
    format!("cli:{user}@{host}")
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect()
}

/// `text` percent-encoded for a URL query value (everything but unreserved characters).
pub fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the daemon writes at start so clients can find it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DaemonInfo {
    /// Process id.
    pub pid: u32,
    /// Listen address.
    pub listen: String,
}

/// The daemon's state file.
pub fn info_path(state_dir: &Path) -> PathBuf {
    state_dir.join("daemon.json")
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

/// Sends one request and reads the whole response.
///
/// # Errors
/// Connection failures, timeouts, malformed responses.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    timeout: Duration,
) -> anyhow::Result<Response> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to the daemon at {addr}"))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
            head.push_str(&format!("{REQUESTED_BY_HEADER}: {}\r\n", client_identity()));
        }
        head.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow!("malformed response from {addr}"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("malformed status line from {addr}"))?;
        Ok(Response {
            status,
            body: body.to_owned(),
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| anyhow!("the daemon at {addr} did not answer within {timeout:?}"))?
}

/// The running daemon for this state directory, if one answers its health check.
pub async fn find_daemon(state_dir: &Path) -> Option<DaemonInfo> {
    let text = std::fs::read_to_string(info_path(state_dir)).ok()?;
    let info: DaemonInfo = serde_json::from_str(&text).ok()?;
    let r = request(
        &info.listen,
        "GET",
        "/healthz",
        None,
        "",
        Duration::from_secs(2),
    )
    .await
    .ok()?;
    (r.status == 200).then_some(info)
}
