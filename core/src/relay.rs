//! What a relay address is: a `ws://` or `wss://` URL, checked before it is dialled or signed
//! into an invite; the sync endpoint a Groundwork relay serves; and a relay's audience, the
//! one form of its address that connection proofs sign and devices compare.

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

/// The web address of the relay at `url` (a sync URL such as `wss://host/v1/sync`):
/// `https://host` for `wss`, `http://host:port` for `ws`. Its pages and its app live there.
pub fn web_origin(url: &str) -> Result<String> {
    let aud = audience(url)?;
    Ok(match aud.strip_prefix("wss://") {
        Some(rest) => format!("https://{rest}"),
        None => format!("http://{}", aud.strip_prefix("ws://").unwrap_or(&aud)),
    })
}

/// A relay's audience: the origin a device dials, `ws://host[:port]` or `wss://host[:port]`,
/// with the host in lower case, the scheme's default port (80, 443) left out, and no user,
/// path or query. Every connection proof signs the audience of the relay it was made for, and
/// a relay accepts only its own (`--public-url`), so a proof that a device gave another server
/// by mistake opens nothing here. Two addresses of one relay (`ws://h:7878` and
/// `ws://h:7878/v1/sync`) have one audience, which is also how a device tells whether a
/// `--relay` is the relay it already syncs with.
///
/// A web address (`http://`, `https://`) is taken as the same origin's WebSocket (`ws://`,
/// `wss://`): operators name their relay by the address people see.
pub fn audience(url: &str) -> Result<String> {
    let bad = |reason: String| Error::Invalid {
        what: "relay URL",
        reason,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(format!("{url:?} has no scheme: write ws://HOST:PORT")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(bad(format!(
                "{url:?}: the scheme must be ws or wss, not {other:?}"
            )));
        }
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // A user name and password (`user:pw@host`) are not part of where the relay is.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // An IPv6 literal is bracketed, and its colons are not a port's.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad(format!("{url:?}: an unclosed [ in the host")))?;
            (format!("[{host}]"), after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (host_port.to_owned(), None),
        },
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty() || host == "[]" {
        return Err(bad(format!("{url:?} names no host")));
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '%' | '&' | '=' | '+' | '\\'))
    {
        return Err(bad(format!(
            "{url:?}: the host {host:?} is not a host name"
        )));
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| bad(format!("{url:?}: the port {p:?} is not a number")))?,
        ),
    };
    let default = if scheme == "ws" { 80 } else { 443 };
    Ok(match port {
        Some(p) if p != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
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
    fn one_relay_has_one_audience_whatever_the_form_of_its_address() -> Result<()> {
        for (url, aud) in [
            ("ws://127.0.0.1:7878/v1/sync", "ws://127.0.0.1:7878"),
            ("ws://127.0.0.1:7878", "ws://127.0.0.1:7878"),
            (
                "WS://Relay.Example.ORG:80/v1/sync?x=1",
                "ws://relay.example.org",
            ),
            (
                "wss://relay.example.org:443/v1/sync",
                "wss://relay.example.org",
            ),
            ("https://relay.example.org", "wss://relay.example.org"),
            (
                "http://relay.example.org:8080/",
                "ws://relay.example.org:8080",
            ),
            (
                "wss://user:pw@relay.example.org/v1/sync",
                "wss://relay.example.org",
            ),
            ("ws://[::1]:7878/v1/sync", "ws://[::1]:7878"),
            ("ws://[::1]/v1/sync", "ws://[::1]"),
        ] {
            assert_eq!(audience(url)?, aud, "{url}");
        }
        // Another port, scheme or host is another relay.
        assert_ne!(audience("ws://h:1")?, audience("ws://h:2")?);
        assert_ne!(audience("ws://h")?, audience("wss://h")?);
        for bad in [
            "h:1",
            "ftp://h",
            "ws://:80",
            "ws://h:port",
            "ws://[::1",
            "ws://a&b=c",
        ] {
            assert!(audience(bad).is_err(), "{bad}");
        }
        Ok(())
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
