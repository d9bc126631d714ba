//! CPU-bound engine work off the actors' thread.
//!
//! Every actor of a spine shares one event-loop thread. An engine that fits, scores or
//! optimises inline holds that thread: no other actor moves (timeouts and heartbeats
//! included) and the second core idles. Engines hand such work to tokio's blocking pool
//! instead, so several dates of a DAG in flight (a backtest, a catch-up) compute in
//! parallel while the actors stay responsive.

/// Runs `f` on the blocking pool and returns its result; a panic inside it becomes the
/// job's error, naming `what`.
///
/// # Errors
/// `f` panicked or was cancelled.
pub async fn blocking<T, F>(what: &str, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("{what} failed off-thread: {e}"))
}
