//! What a relay address is: a `ws://` or `wss://` URL, checked before it is dialled or signed
//! into an invite, and the sync endpoint a Groundwork relay serves.

use crate::error::{Error, Result};

/// The path of a Groundwork relay's sync endpoint.
pub const SYNC_PATH: &str = "/v1/sync";

/// Checks that `url` is a WebSocket URL with a host: `ws://HOST[:PORT][/PATH]` or `wss://...`.
/// The error says what to write instead, since people paste web addresses.
pub fn check(url: &str) -> Result<()> {
    let bad = |reason: String| Error::Invalid {
        what: "relay URL",
        reason,
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        bad(format!(
            "{url:?} has no scheme: write ws://HOST:PORT{SYNC_PATH}"
        ))
    })?;
    match scheme {
        "ws" | "wss" => {}
        "http" | "https" => {
            let ws = if scheme == "http" { "ws" } else { "wss" };
            return Err(bad(format!(
                "{url:?} is a web address; a relay is dialled as {ws}://{rest}"
            )));
        }
        other => {
            return Err(bad(format!(
                "{url:?}: the scheme must be ws or wss, not {other:?}"
            )));
        }
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(bad(format!("{url:?} names no host")));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(format!(
            "{url:?} contains spaces or control characters"
        )));
    }
    Ok(())
}

/// Checks a relay URL to be signed into an invite: a relay URL (see [`check`]) with no
/// credentials in it and no query, since an invite is handed around.
pub fn check_for_invite(url: &str) -> Result<()> {
    check(url)?;
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(Error::Invalid {
            what: "relay URL",
            reason: "an invite's relay URL must not carry a user name or password".into(),
        });
    }
    if url.contains(['?', '#']) {
        return Err(Error::Invalid {
            what: "relay URL",
            reason: "an invite's relay URL must not carry a query (a token, say)".into(),
        });
    }
    Ok(())
}

/// Whether `url` names only a host (no path, or `/`): where a Groundwork relay has no sync
/// endpoint, though a plain automerge-repo server may.
pub fn has_no_path(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match rest.find('/') {
        None => true,
        Some(i) => &rest[i..] == "/",
    }
}

/// The same relay's sync endpoint, for the hint when a path-less URL finds nothing.
pub fn with_sync_path(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    format!("{}{SYNC_PATH}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_are_checked_with_a_hint() {
        for good in [
            "ws://127.0.0.1:7878/v1/sync",
            "wss://relay.example.org/v1/sync",
            "ws://host:7878",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        let hint = |url: &str| check(url).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(hint("http://host:7878/v1/sync").contains("ws://host:7878/v1/sync"));
        assert!(hint("https://host/v1/sync").contains("wss://host/v1/sync"));
        assert!(hint("host:7878").contains("no scheme"));
        assert!(hint("ws:///v1/sync").contains("no host"));
        assert!(hint("ftp://host").contains("scheme must be ws or wss"));
        assert!(hint("ws://host/a b").contains("spaces"));
        assert!(check_for_invite("wss://relay.example.org/v1/sync").is_ok());
        assert!(check_for_invite("wss://user:pw@relay.example.org/v1/sync").is_err());
        assert!(check_for_invite("wss://relay.example.org/v1/sync?token=t").is_err());
    }

    #[test]
    fn a_path_less_url_gets_the_sync_path_in_the_hint() {
        assert!(has_no_path("ws://host:7878"));
        assert!(has_no_path("ws://host:7878/"));
        assert!(has_no_path("ws://host:7878?token=x"));
        assert!(!has_no_path("ws://host:7878/v1/sync"));
        assert_eq!(with_sync_path("ws://host:7878/"), "ws://host:7878/v1/sync");
        assert_eq!(with_sync_path("ws://host:7878"), "ws://host:7878/v1/sync");
    }
}
