//! What guards the relay's HTTP side besides sessions: the same-origin rule for every request
//! that changes something (login CSRF, forced sign-out), the optional bearer token on
//! `/metrics`, and Strict-Transport-Security when the relay serves TLS.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Why a request that changes something was refused as coming from another site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrossSite {
    /// The browser says the request came from another site (`Sec-Fetch-Site`).
    #[error(
        "refused a cross-site request: the browser says it came from another site \
         (Sec-Fetch-Site: {0}); sign in and out from the relay's own pages"
    )]
    FetchSite(String),
    /// The page that sent it is not on this relay (`Origin`).
    #[error(
        "refused a cross-origin request: it came from a page on {origin}, not on this relay \
         ({expected}); sign in and out from the relay's own pages"
    )]
    Origin {
        /// The request's `Origin`.
        origin: String,
        /// The relay's own origin, from the request's `Host`.
        expected: String,
    },
    /// It names an `Origin` but no `Host` to compare it with.
    #[error("refused a request with an Origin but no Host header to compare it with")]
    NoHost,
}

/// The same-origin rule, as OWASP's Fetch Metadata guidance with its fallback: a browser's
/// `Sec-Fetch-Site` must be `same-origin` or `none` (typed in, a bookmark), and an `Origin`,
/// when present, must be this relay's own (`Host`, with https when `secure`). A request with
/// neither passes: every current browser sends `Sec-Fetch-Site` on every request and
/// `Origin` on every POST, so it comes from a tool (curl, a script), which holds no browser's
/// session cookie for another site to ride on. A relay serving plain HTTP also takes
/// `https://` and its `Host`: that is the same relay behind a TLS-terminating proxy, and a
/// page there is the relay's own, never another site's.
pub fn same_origin_check(
    headers: &HeaderMap,
    authority: Option<&str>,
    secure: bool,
) -> Result<(), CrossSite> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("(not text)").trim();
        // Unknown values are refused too: a browser that sends the header says where the
        // request came from, and only these two mean "from here".
        if !matches!(site, "same-origin" | "none") {
            return Err(CrossSite::FetchSite(site.to_owned()));
        }
    }
    for origin in headers.get_all(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)").trim();
        let Some(authority) = authority else {
            return Err(CrossSite::NoHost);
        };
        let expected = canonical(if secure { "https" } else { "http" }, authority);
        // `null` (a sandboxed frame, a redirect from elsewhere, a page under `no-referrer`)
        // has no "://" and never matches.
        let given = origin
            .split_once("://")
            .map(|(scheme, host)| canonical(&scheme.to_ascii_lowercase(), host));
        let own = given.as_deref() == Some(expected.as_str())
            || (!secure && given == Some(canonical("https", authority)));
        if !own {
            return Err(CrossSite::Origin {
                origin: origin.to_owned(),
                expected,
            });
        }
    }
    Ok(())
}

/// `scheme://host[:port]` as browsers serialise an origin: the host in lower case, the
/// scheme's default port left out (a `Host: relay:443` and `Origin: https://relay` agree).
fn canonical(scheme: &str, host_port: &str) -> String {
    let host_port = host_port.to_ascii_lowercase();
    let default = if scheme == "https" { "443" } else { "80" };
    // The port follows the last ':' (an IPv6 literal's own colons are inside its brackets,
    // so `[::1]` ends in "1]", never a port).
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port == default => host,
        _ => host_port.as_str(),
    };
    format!("{scheme}://{host}")
}

/// Middleware: every request but GET, HEAD, OPTIONS and TRACE must pass
/// [`same_origin_check`], or is answered 403 with the reason before any handler runs. On the
/// whole web router, so a new form cannot forget it. The state says whether the relay serves
/// TLS (its origin is then https).
pub async fn same_origin(State(secure): State<bool>, request: Request, next: Next) -> Response {
    if !request.method().is_safe() {
        let authority = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        if let Err(refused) = same_origin_check(request.headers(), authority, secure) {
            tracing::info!(%refused, path = request.uri().path(), "refused a cross-site request");
            return (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{refused}\n"),
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// A bearer token a route requires, kept as its SHA-256 digest: a guess is hashed and the two
/// digests compared in full whatever their first difference, so the time an answer takes
/// says nothing of the token (at most of the digest, which does not help find it).
#[derive(Clone)]
pub struct BearerToken([u8; 32]);

impl BearerToken {
    /// The token a request must present.
    pub fn new(token: &str) -> Self {
        BearerToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `headers` carry `Authorization: Bearer TOKEN` with this token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        digest
            .iter()
            .zip(self.0.iter())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
    }
}

/// Never the token, not even its digest, in a log line.
impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// Middleware: the route answers only a request with the token (401 otherwise, with the
/// reason and `WWW-Authenticate: Bearer`).
pub async fn require_bearer(
    State(token): State<Arc<BearerToken>>,
    request: Request,
    next: Next,
) -> Response {
    if token.admits(request.headers()) {
        return next.run(request).await;
    }
    let why = if request.headers().contains_key(header::AUTHORIZATION) {
        "wrong token: this relay's metrics need Authorization: Bearer with its --metrics-token"
    } else {
        "this relay's metrics are private: send Authorization: Bearer with its --metrics-token"
    };
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::WWW_AUTHENTICATE, "Bearer"),
        ],
        format!("{why}\n"),
    )
        .into_response()
}

/// Middleware for a relay serving TLS: every response tells browsers to come back only over
/// https for a year, so a network attacker cannot strip TLS from a later visit.
pub async fn strict_transport(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    fn check(pairs: &[(&'static str, &'static str)], host: &str, secure: bool) -> bool {
        same_origin_check(&headers(pairs), Some(host), secure).is_ok()
    }

    #[test]
    fn the_same_origin_rule() {
        let host = "relay.example:7878";
        // Tools send neither header.
        assert!(check(&[], host, false));
        // The relay's own pages.
        assert!(check(
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://relay.example:7878")
            ],
            host,
            false
        ));
        assert!(check(&[("sec-fetch-site", "none")], host, false));
        assert!(check(
            &[("origin", "http://RELAY.example:7878")],
            "relay.EXAMPLE:7878",
            false
        ));
        // Default ports on either side.
        assert!(check(
            &[("origin", "https://relay.example")],
            "relay.example:443",
            true
        ));
        assert!(check(
            &[("origin", "http://relay.example:80")],
            "relay.example",
            false
        ));
        assert!(check(
            &[("origin", "http://[::1]:7878")],
            "[::1]:7878",
            false
        ));
        // Another site, another port (same site, other origin), another scheme.
        for site in ["cross-site", "same-site", "something-new"] {
            let refused =
                same_origin_check(&headers(&[("sec-fetch-site", site)]), Some(host), false);
            assert_eq!(refused, Err(CrossSite::FetchSite(site.into())));
        }
        assert!(!check(&[("origin", "http://evil.example")], host, false));
        assert!(!check(
            &[("origin", "http://relay.example:7879")],
            host,
            false
        ));
        assert!(!check(
            &[("origin", "http://relay.example:7878")],
            host,
            true
        ));
        // Behind a TLS-terminating proxy the relay serves plain HTTP to the proxy, and the
        // browser's page is https on the same host.
        assert!(check(
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://relay.example")
            ],
            "relay.example",
            false
        ));
        assert!(!check(
            &[("origin", "https://relay.example.evil")],
            "relay.example",
            false
        ));
        assert!(!check(&[("origin", "null")], host, false));
        assert!(!check(
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://evil.example")
            ],
            host,
            false
        ));
        assert!(!check(
            &[
                ("origin", "http://relay.example:7878"),
                ("origin", "http://evil.example")
            ],
            host,
            false
        ));
        assert_eq!(
            same_origin_check(&headers(&[("origin", "http://a")]), None, false),
            Err(CrossSite::NoHost)
        );
        // A port that merely ends like the default one is kept.
        assert_eq!(canonical("http", "relay:8080"), "http://relay:8080");
        assert_eq!(canonical("http", "relay:80"), "http://relay");
        assert_eq!(canonical("https", "[::1]:443"), "https://[::1]");
    }

    #[test]
    fn the_bearer_token() {
        let token = BearerToken::new("s3cret");
        assert!(token.admits(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(token.admits(&headers(&[("authorization", "bearer  s3cret ")])));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3crett",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            assert!(
                !token.admits(&headers(&[("authorization", wrong)])),
                "{wrong}"
            );
        }
        assert!(!token.admits(&HeaderMap::new()));
        assert_eq!(format!("{token:?}"), "BearerToken(..)");
    }
}
