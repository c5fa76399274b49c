//! The web app (`web/`, built into `web/dist` and compiled into the relay): its files at
//! `/app/`, and `/join`, where an invite link (`https://RELAY/join#CODE`) lands. The code stays
//! in the fragment, which a browser never sends: it reaches no server log, this relay's
//! included. The app's policy lets it run its own script and WebAssembly and talk to this relay
//! alone.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The app's content security policy: its own files, its WebAssembly, its worker, and this
/// relay's socket (`'self'` covers `ws:`/`wss:` to the same host); nothing from elsewhere.
pub const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; \
     manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One file of the built app: its name, its bytes, and (for the big ones) the same bytes
/// compressed by scripts/build-web with brotli and with gzip.
struct File {
    name: &'static str,
    bytes: &'static [u8],
    brotli: Option<&'static [u8]>,
    gzip: Option<&'static [u8]>,
}

macro_rules! file {
    ($name:literal) => {
        File {
            name: $name,
            bytes: include_bytes!(concat!("../../../web/dist/", $name)),
            brotli: None,
            gzip: None,
        }
    };
    ($name:literal, compressed) => {
        File {
            name: $name,
            bytes: include_bytes!(concat!("../../../web/dist/", $name)),
            brotli: Some(include_bytes!(concat!("../../../web/dist/", $name, ".br"))),
            gzip: Some(include_bytes!(concat!("../../../web/dist/", $name, ".gz"))),
        }
    };
}

/// Every file of the built app.
const FILES: &[File] = &[
    file!("index.html"),
    file!("app.js", compressed),
    file!("worker.js", compressed),
    file!("sw.js"),
    file!("groundwork_web_bg.wasm", compressed),
    file!("style.css"),
    file!("manifest.webmanifest"),
    file!("icon.svg"),
    file!("icon-192.png"),
    file!("icon-512.png"),
    file!("apple-touch-icon.png"),
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Whether the request's `Accept-Encoding` lists `coding`.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|c| {
            let mut parts = c.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

/// Each file's entity tag, from its bytes (the same for each of its codings: `Vary` tells the
/// caches apart). Computed once.
static TAGS: std::sync::LazyLock<Vec<HeaderValue>> = std::sync::LazyLock::new(|| {
    use sha2::Digest;
    FILES
        .iter()
        .map(|f| {
            let digest = sha2::Sha256::digest(f.bytes);
            let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            // Hex digits in quotes: always a valid header value.
            HeaderValue::from_str(&format!("\"{tag}\"")).unwrap_or(HeaderValue::from_static("\"\""))
        })
        .collect()
});

fn file(name: &str, headers: &HeaderMap) -> Response {
    let Some((index, found)) = FILES.iter().enumerate().find(|(_, f)| f.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file in the app").into_response();
    };
    // Revalidation answers 304 with no body: the service worker's copy, made on the first
    // visit just after the page loaded the same files, costs no second download of the core.
    let tag = &TAGS[index];
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == tag.to_str().unwrap_or("") || t.trim() == "*");
    if fresh {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        let h = response.headers_mut();
        h.insert(header::ETAG, tag.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if found.brotli.is_some() {
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        return response;
    }
    // A phone downloads the core (5.3 MB) as 1.35 MB of brotli over https, 1.8 MB of gzip
    // otherwise (browsers ask for brotli only on secure origins).
    let (bytes, coding) = match (found.brotli, found.gzip) {
        (Some(br), _) if accepts(headers, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(headers, "gzip") => (gz, Some("gzip")),
        _ => (found.bytes, None),
    };
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    if let Some(coding) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if found.brotli.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    // The service worker keeps the offline copy; the browser's own cache must not keep an old
    // build past an upgrade of the relay: it revalidates every time, by the tag.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::ETAG, tag.clone());
    response
}

/// `/app/`: the app.
pub async fn index(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

/// `/app/FILE`: one of its files.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    file(&name, &headers)
}

/// `/app` and `/join`: to the app. A redirect keeps the fragment (the invite's code).
pub async fn to_app() -> Redirect {
    Redirect::to("/app/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn the_core_goes_out_in_the_best_coding_the_browser_takes() {
        let coding = |accept: &str| {
            file("groundwork_web_bg.wasm", &asking(accept))
                .headers()
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok().map(str::to_owned))
        };
        assert_eq!(coding("gzip, deflate, br, zstd").as_deref(), Some("br"));
        assert_eq!(coding("gzip, deflate").as_deref(), Some("gzip"));
        assert_eq!(coding("br;q=0, gzip").as_deref(), Some("gzip"));
        assert_eq!(coding("identity"), None);
        // Small files go as they are.
        let css = file("style.css", &asking("br"));
        assert!(css.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(
            file("../relay.key", &asking("")).status(),
            StatusCode::NOT_FOUND
        );
    }

    /// A browser that has a file revalidates it by its tag and gets no body back.
    #[test]
    fn a_file_the_browser_has_is_not_sent_again() {
        let first = file("groundwork_web_bg.wasm", &asking("br"));
        let tag = first.headers().get(header::ETAG).cloned();
        let Some(tag) = tag else {
            panic!("no entity tag");
        };
        let mut again = asking("br");
        again.insert(header::IF_NONE_MATCH, tag.clone());
        let second = file("groundwork_web_bg.wasm", &again);
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(second.headers().get(header::ETAG), Some(&tag));
        // Another file's tag does not match.
        let mut other = asking("br");
        other.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(file("app.js", &other).status(), StatusCode::OK);
    }

    /// A file the build makes and the relay does not embed would be missing offline (the
    /// service worker's copy names every file of the build): every one is served.
    #[test]
    fn every_file_of_the_build_is_served() -> std::io::Result<()> {
        let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
        for entry in std::fs::read_dir(dist)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".br") || name.ends_with(".gz") {
                continue;
            }
            let served = file(&name, &asking(""));
            assert_eq!(served.status(), StatusCode::OK, "{name}");
            assert_ne!(
                served.headers().get(header::CONTENT_TYPE),
                Some(&HeaderValue::from_static("application/octet-stream")),
                "{name} has a type"
            );
        }
        Ok(())
    }
}
