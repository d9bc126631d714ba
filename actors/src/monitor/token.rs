//! The control token that authorises state-changing API calls.

use anyhow::Context as _;
use rand::RngCore;
use std::path::{Path, PathBuf};

/// Environment variable holding the token (it then is never written to disk).
pub const TOKEN_ENV: &str = "PV2_CONTROL_TOKEN";

/// The file the daemon writes a generated token to.
pub fn token_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.token")
}

/// The daemon's token: `PV2_CONTROL_TOKEN` when set, else a fresh random one written to
/// `<state_dir>/control.token` with mode 0600.
///
/// # Errors
/// The state directory or file cannot be written.
pub fn daemon_token(state_dir: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::env::var(TOKEN_ENV)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let path = token_path(state_dir);
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// The token a client should present: `PV2_CONTROL_TOKEN`, else the daemon's file.
///
/// # Errors
/// Neither is available.
pub fn client_token(state_dir: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::env::var(TOKEN_ENV)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    let path = token_path(state_dir);
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_owned())
        .with_context(|| {
            format!(
                "no control token: set {TOKEN_ENV} or make {} readable",
                path.display()
            )
        })
}

/// Compares tokens in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
