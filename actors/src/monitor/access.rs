//! Who may read and who may change: reads need the read token when one is set (the
//! control token reads too); every mutation needs the control token. Both travel in an
//! `Authorization: Bearer …` header, never a cookie, so a page on another site cannot make
//! a logged-in browser act (no CSRF). A listener anyone can reach must have a read token.

use super::token::tokens_match;
use actix_web::HttpRequest;
use std::net::SocketAddr;

/// Environment variable that sets the read token (over `daemon.read_token`).
pub const READ_TOKEN_ENV: &str = "PV2_READ_TOKEN";

/// The tokens the API checks.
#[derive(Clone, Debug)]
pub struct Access {
    /// Mutations need it (and it reads).
    pub control: String,
    /// Reads need it (or the control token) when set.
    pub read: Option<String>,
}

/// The read token in force: `PV2_READ_TOKEN`, else the config's; `None` when both are empty.
pub fn read_token(configured: &str) -> Option<String> {
    std::env::var(READ_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| Some(configured.to_owned()).filter(|t| !t.trim().is_empty()))
        .map(|t| t.trim().to_owned())
}

/// Refuses a listener on a non-loopback address when reads are open.
///
/// # Errors
/// `listen` is not an address, or is reachable from other hosts while no read token is set.
pub fn check_listener(listen: &str, read: Option<&str>) -> Result<(), String> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| format!("`{listen}` is not an address ({e}); use IP:PORT"))?;
    if !addr.ip().is_loopback() && read.is_none() {
        return Err(format!(
            "refusing to listen on {listen}: it is reachable from other hosts and reads need no token; \
             set daemon.read_token (or {READ_TOKEN_ENV}) or listen on 127.0.0.1"
        ));
    }
    Ok(())
}

/// The bearer token of a request, if it has one.
fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl Access {
    /// Whether the request carries the control token.
    pub fn may_change(&self, req: &HttpRequest) -> bool {
        bearer(req).is_some_and(|t| tokens_match(t, &self.control))
    }

    /// Whether the request may read: no read token is set, or it carries it (or the
    /// control token).
    pub fn may_read(&self, req: &HttpRequest) -> bool {
        match &self.read {
            None => true,
            Some(read) => {
                bearer(req).is_some_and(|t| tokens_match(t, read) || tokens_match(t, &self.control))
            }
        }
    }
}

/// Paths anyone who reaches the listener may fetch: liveness, and the dashboard's own page
/// and assets (they hold no data; the page asks for the token and sends it with each read).
pub fn is_public(path: &str) -> bool {
    path == "/healthz" || path == "/" || path.starts_with("/assets/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_listener_needs_a_read_token() {
        assert!(check_listener("127.0.0.1:8760", None).is_ok());
        assert!(check_listener("[::1]:8760", None).is_ok());
        let e = check_listener("0.0.0.0:8760", None).unwrap_err();
        assert!(e.contains("read_token"), "{e}");
        assert!(check_listener("0.0.0.0:8760", Some("a-long-read-token-here")).is_ok());
        assert!(check_listener("localhost", None).is_err());
    }

    #[test]
    fn reads_take_either_token_and_changes_only_the_control_token() {
        let a = Access {
            control: "control-token-0123456789".into(),
            read: Some("read-token-0123456789".into()),
        };
        let req = |t: Option<&str>| {
            let mut r = actix_web::test::TestRequest::default();
            if let Some(t) = t {
                r = r.insert_header(("Authorization", format!("Bearer {t}")));
            }
            r.to_http_request()
        };
        assert!(!a.may_read(&req(None)));
        assert!(!a.may_read(&req(Some("wrong"))));
        assert!(a.may_read(&req(Some("read-token-0123456789"))));
        assert!(a.may_read(&req(Some("control-token-0123456789"))));
        assert!(!a.may_change(&req(Some("read-token-0123456789"))));
        assert!(a.may_change(&req(Some("control-token-0123456789"))));
        let open = Access {
            read: None,
            ..a.clone()
        };
        assert!(open.may_read(&req(None)));
        assert!(!open.may_change(&req(None)));
    }

    #[test]
    fn only_liveness_and_the_page_itself_are_public() {
        for p in ["/healthz", "/", "/assets/app.js"] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/readyz",
            "/metrics",
            "/api/overview",
            "/events",
            "/openapi.json",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }
}
