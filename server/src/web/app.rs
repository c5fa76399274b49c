//! The web app (`web/`, built into `web/dist` and compiled into the relay): its files at
//! `/app/`, and `/join`, where an invite link (`https://RELAY/join#CODE`) lands. The code stays
//! in the fragment, which a browser never sends: it reaches no server log, this relay's
//! included. The app's policy lets it run its own script and WebAssembly and talk to this relay
//! alone.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The app's content security policy: its own files, its WebAssembly, its worker, and this
/// relay's socket (`'self'` covers `ws:`/`wss:` to the same host); nothing from elsewhere.
pub const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; \
     manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every file of the built app: its name and its bytes.
const FILES: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../../../web/dist/index.html")),
    ("app.js", include_bytes!("../../../web/dist/app.js")),
    ("worker.js", include_bytes!("../../../web/dist/worker.js")),
    ("sw.js", include_bytes!("../../../web/dist/sw.js")),
    (
        "groundwork_web_bg.wasm",
        include_bytes!("../../../web/dist/groundwork_web_bg.wasm"),
    ),
    ("style.css", include_bytes!("../../../web/dist/style.css")),
    (
        "manifest.webmanifest",
        include_bytes!("../../../web/dist/manifest.webmanifest"),
    ),
    ("icon.svg", include_bytes!("../../../web/dist/icon.svg")),
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn file(name: &str) -> Response {
    let Some((_, bytes)) = FILES.iter().find(|(n, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file in the app").into_response();
    };
    let mut response = (*bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    // The service worker keeps the offline copy; the browser's own cache must not keep an old
    // build past an upgrade of the relay.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `/app/`: the app.
pub async fn index() -> Response {
    file("index.html")
}

/// `/app/FILE`: one of its files.
pub async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

/// `/app` and `/join`: to the app. A redirect keeps the fragment (the invite's code).
pub async fn to_app() -> Redirect {
    Redirect::to("/app/")
}
