//! The relay's web pages, on its own port beside `/v1/sync`: the campaign dashboard for staff
//! (`/campaign`, `/api/v1/`), the public meetings map (`/map`, `/map/meetings.ics`) and the
//! one stylesheet. Server-rendered HTML, no script, nothing fetched from anywhere else.
//!
//! Staff sign in with a one-time link their device asks for ([`session`]); every staff page
//! and API route checks the session, and its device's staff role, on each request. Every
//! request that changes something (signing in or out) must come from the relay's own pages
//! ([`protect`]).

mod app;
pub mod data;
pub mod ics;
pub mod map;
pub mod pages;
pub mod protect;
pub mod public;
pub use public::{PublicQuery, public_days};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use groundwork_core::campaign::OfficialFilter;
use groundwork_core::schema::vocab::{Office, Position};
use groundwork_core::time::now_ms;
use serde::Deserialize;

use crate::db::{Db, DbError, Engine, Sql};
use crate::session;
use crate::store::StoreError;
use data::{Filter, Sort, Status};

/// The session cookie's name.
const COOKIE: &str = "gw_session";
/// The matrix page's heading.
pub const MATRIX_HEADING: &str = "Every official, rule by rule";
/// Officials per matrix page.
pub const PER_PAGE: usize = 200;
const STYLE: &str = include_str!("../../static/style.css");

/// What the pages need: a connection of their own to the relay's database (the hub thread
/// keeps its own; SQLite's WAL, or PostgreSQL, lets both work at once), and whether cookies
/// must be Secure.
#[derive(Clone)]
pub struct Web {
    db: Arc<Mutex<Conn>>,
    secure: bool,
    /// The sync URL the front page names ([`Web::with_sync_url`]).
    sync_url: Arc<str>,
}

/// The pages' connection (`None` only while it is being dropped). PostgreSQL's client closes
/// its connection by blocking on a runtime of its own, which tokio refuses on its worker
/// threads, where the last handle to the pages may go: it is dropped on a thread of its own.
struct Conn(Option<Db>);

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(db) = self.0.take()
            && db.engine() == Engine::Postgres
        {
            let closing = std::thread::Builder::new()
                .name("groundwork-web-close".into())
                .spawn(move || drop(db));
            if let Ok(thread) = closing {
                let _ = thread.join();
            }
        }
    }
}

impl Web {
    /// Opens the pages' connection to the relay's database at `location` (`relay.db` in a
    /// data directory, or PostgreSQL). `secure`: the relay serves TLS, so the session cookie
    /// is marked Secure.
    pub fn open(location: &crate::store::Location, secure: bool) -> Result<Self, StoreError> {
        // Connected on a thread of its own: PostgreSQL's client blocks on a runtime of its
        // own to connect, which tokio refuses on a thread already running one (the relay
        // opens its pages from async code). Queries later run on tokio's blocking threads.
        let db = std::thread::scope(|s| {
            s.spawn(|| crate::store::RelayStore::web_connection(location))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        Ok(Web {
            db: Arc::new(Mutex::new(Conn(Some(db)))),
            secure,
            sync_url: Arc::from(""),
        })
    }

    /// The sync URL devices dial, which the front page (`/`) names.
    pub fn with_sync_url(mut self, url: &str) -> Self {
        self.sync_url = Arc::from(url);
        self
    }

    /// Runs `work` on the connection, off the async runtime.
    async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, Response> {
        let db = self.db.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut conn = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match conn.0.as_mut() {
                Some(db) => work(db),
                None => Err(DbError::Type("the pages' connection is closed".into())),
            }
        })
        .await;
        match done {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a dashboard query failed");
                Err(problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the relay's database failed",
                ))
            }
            Err(_) => Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the query stopped",
            )),
        }
    }

    /// The staff device signed in on this request, or the response to send instead (the
    /// sign-in page for pages, a JSON error for the API).
    async fn staff(&self, headers: &HeaderMap, api: bool) -> Result<String, Response> {
        let Some(token) = cookie(headers) else {
            return Err(signed_out(api, None));
        };
        let found = self
            .db(move |c| session::session_device(c, &token, now_ms()))
            .await?;
        found.ok_or_else(|| {
            signed_out(
                api,
                Some("Your session ended (signed out, expired, or the staff role was revoked)."),
            )
        })
    }
}

/// The routes, with the security headers on every response and the same-origin rule on every
/// request that is not a GET (or HEAD).
pub fn router(web: Web) -> Router {
    let secure = web.secure;
    Router::new()
        .route("/", get(home))
        .route("/campaign", get(overview))
        .route("/campaign/", get(overview))
        .route("/campaign/login", get(login_page).post(login))
        .route("/campaign/logout", post(logout))
        .route("/campaign/officials", get(officials))
        .route("/campaign/officials.csv", get(officials_csv))
        .route("/campaign/map", get(staff_map))
        .route("/campaign/county/{fips}", get(county))
        .route("/campaign/official/{*key}", get(official))
        .route("/api/v1/overview", get(api_overview))
        .route("/api/v1/officials", get(api_officials))
        .route("/api/v1/officials/{*key}", get(api_official))
        .route("/api/v1/counties", get(api_counties))
        .route("/map", get(public::map))
        .route("/map/meetings.ics", get(public::ics))
        .route("/static/style.css", get(style))
        .route("/app", get(app::to_app))
        .route("/join", get(app::to_app))
        .route("/app/", get(app::index))
        .route("/app/{name}", get(app::asset))
        // Layered on the router, not on each POST route, so a new form cannot forget it.
        .layer(axum::middleware::from_fn_with_state(
            secure,
            protect::same_origin,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web)
}

/// A strict policy: nothing but this relay's own stylesheet, no script at all, no framing (the
/// app at `/app/` runs its own script and WebAssembly, and nothing else: [`app::POLICY`]).
async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let private = path.starts_with("/campaign") || path.starts_with("/api/");
    let policy = if path.starts_with("/app/") {
        app::POLICY
    } else {
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    };
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` even
    // on the relay's own forms, which the same-origin rule ([`protect`]) must refuse. Other
    // sites still get no referrer, so a sign-in link's code never leaves the relay.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if private {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The relay's front page: links to the public map and the dashboard, and the sync URL. A
/// WebSocket dialled here (a relay URL without its path) is told 404, as before the page
/// existed, so a device can say which path to add.
async fn home(State(web): State<Web>, headers: HeaderMap) -> Response {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return problem(
            StatusCode::NOT_FOUND,
            &format!(
                "no sync endpoint here: devices dial {}",
                groundwork_core::relay::SYNC_PATH
            ),
        );
    }
    html(
        StatusCode::OK,
        pages::Home {
            sync_url: web.sync_url.to_string(),
        },
    )
}

fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering the page failed",
            )
        }
    }
}

fn problem(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

fn json(value: &impl serde::Serialize) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).unwrap_or_default(),
    )
        .into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

/// Anyone not signed in gets the sign-in page (or a JSON 401), never data; a stale cookie is
/// cleared.
fn signed_out(api: bool, why: Option<&str>) -> Response {
    let mut response = if api {
        json_error(
            StatusCode::UNAUTHORIZED,
            why.unwrap_or("sign in: groundwork dashboard login"),
        )
    } else {
        html(
            StatusCode::UNAUTHORIZED,
            pages::Login {
                code: None,
                problem: why.map(str::to_owned),
            },
        )
    };
    if why.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}=; Path=/; Max-Age=0"))
    {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

// --- signing in and out ---

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn login_page(Query(q): Query<CodeQuery>) -> Response {
    html(
        StatusCode::OK,
        pages::Login {
            code: q.code.filter(|c| !c.is_empty()),
            problem: None,
        },
    )
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn login(State(web): State<Web>, Form(form): Form<CodeForm>) -> Response {
    let code = form.code;
    let redeemed = match web
        .db(move |c| session::redeem_link(c, &code, now_ms()))
        .await
    {
        Ok(r) => r,
        Err(response) => return response,
    };
    match redeemed {
        Ok((token, _expires_at)) => {
            let max_age = session::SESSION_TTL_MS / 1000;
            let secure = if web.secure { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
            );
            tracing::info!("a staff browser signed in");
            let mut response = Redirect::to("/campaign").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(refused) => {
            tracing::info!(%refused, "a sign-in link was refused");
            html(
                StatusCode::UNAUTHORIZED,
                pages::Login {
                    code: None,
                    problem: Some(refused.to_string()),
                },
            )
        }
    }
}

/// Ends the browser's session. Without a live session it writes nothing: the store is only
/// read, and the browser is sent to the sign-in page as after any sign-out.
async fn logout(State(web): State<Web>, headers: HeaderMap) -> Response {
    let token = cookie(&headers);
    let had_cookie = token.is_some();
    if let Some(token) = token
        && let Err(response) = web
            .db(move |c| {
                let now = now_ms();
                if session::session_device(c, &token, now)?.is_some() {
                    session::end_session(c, &token, now)?;
                }
                Ok(())
            })
            .await
    {
        return response;
    }
    let mut response = Redirect::to("/campaign/login").into_response();
    if had_cookie && let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}=; Path=/; Max-Age=0")) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

// --- staff pages ---

async fn overview(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Err(r) = web.staff(&headers, false).await {
        return r;
    }
    let o = match web.db(|c| data::overview(c)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut figures = vec![
        ("Groups sharing".to_owned(), o.groups),
        ("Officials asked".to_owned(), o.officials),
    ];
    for status in ["requested", "scheduled", "held"] {
        let f = o
            .meetings
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, f)| *f)
            .unwrap_or_default();
        figures.push((format!("Meetings {status}"), f));
    }
    for (value, words) in pages::positions() {
        let f = o
            .responses
            .iter()
            .find(|(p, _)| p == value)
            .map(|(_, f)| *f)
            .unwrap_or_default();
        figures.push((format!("Answers: {}", words.to_lowercase()), f));
    }
    figures.push(("Doors knocked".to_owned(), o.doors));
    figures.push(("Conversations".to_owned(), o.conversations));
    html(
        StatusCode::OK,
        pages::Overview {
            here: "overview",
            figures,
        },
    )
}

/// The matrix's query string: every part optional, empty meaning "all".
#[derive(Deserialize, Default, Debug, Clone)]
pub struct MatrixQuery {
    /// A state's USPS code.
    pub state: Option<String>,
    /// An office (`sheriff`, ...).
    pub office: Option<String>,
    /// A position (`opposes`, ...).
    pub position: Option<String>,
    /// `place`, `support`, `groups` or `name`.
    pub sort: Option<String>,
    /// The page, from 1.
    pub page: Option<String>,
}

/// A query read: the filter, the order, the page, and the query string to link with.
#[derive(Clone, Debug)]
pub struct Chosen {
    filter: Filter,
    sort: Sort,
    page: usize,
    query: String,
}

impl Chosen {
    /// The staff query's filter (the CSV and the API list every official it matches).
    fn official_filter(&self) -> OfficialFilter {
        OfficialFilter {
            state: self.filter.state.clone(),
            office: self.filter.office,
            position: self.filter.position,
        }
    }
}

/// Why a page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The database failed.
    #[error("the relay's database failed: {0}")]
    Db(#[from] DbError),
    /// The template failed.
    #[error("rendering the page failed: {0}")]
    Render(#[from] askama::Error),
}

/// A query parameter's value, trimmed; `None` when missing or empty (the forms send every
/// field, empty meaning "all").
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A `state` filter (the staff matrix's and the public map's): a state's USPS code in any
/// case, upper-cased; `None` for all states; or why it is not one.
pub fn state_filter(raw: &Option<String>) -> Result<Option<String>, String> {
    let Some(state) = given(raw).map(str::to_uppercase) else {
        return Ok(None);
    };
    if !(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(format!("state {state:?} is not a two-letter code like CA"));
    }
    // The county directory names every state and territory the campaign can reach.
    if !groundwork_core::places::counties()
        .iter()
        .any(|c| c.state == state)
    {
        return Err(format!(
            "state {state:?} is not a US state's or territory's code"
        ));
    }
    Ok(Some(state))
}

/// A `county` filter: a county's 5-digit FIPS code from the county directory; `None` for
/// all counties; or why it is not one.
pub fn county_filter(raw: &Option<String>) -> Result<Option<String>, String> {
    given(raw)
        .map(|fips| {
            groundwork_core::places::county(fips)
                .map(|c| c.fips.to_owned())
                .map_err(|e| e.to_string())
        })
        .transpose()
}

/// Reads the matrix's query, or says which part is wrong.
pub fn chosen(q: &MatrixQuery) -> Result<Chosen, String> {
    let state = state_filter(&q.state)?;
    let office = given(&q.office)
        .map(|o| o.parse::<Office>().map_err(|e| e.to_string()))
        .transpose()?;
    let position = given(&q.position)
        .map(|p| p.parse::<Position>().map_err(|e| e.to_string()))
        .transpose()?;
    let sort = match given(&q.sort) {
        None => Sort::Place,
        Some(s) => Sort::parse(s)
            .ok_or_else(|| format!("sort {s:?} is not one of place, support, groups, name"))?,
    };
    let page = match given(&q.page) {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| format!("page {p:?} is not a page number (1, 2, ...)"))?,
    };
    let query = format!(
        "state={}&office={}&position={}&sort={}",
        pages::encode(state.as_deref().unwrap_or("")),
        office.map_or("", |o| o.as_str()),
        position.map_or("", |p| p.as_str()),
        sort.as_str()
    );
    Ok(Chosen {
        filter: Filter {
            state,
            county: None,
            office,
            position,
        },
        sort,
        page,
        query,
    })
}

async fn officials(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<MatrixQuery>,
) -> Response {
    if let Err(r) = web.staff(&headers, false).await {
        return r;
    }
    let chosen = match chosen(&q) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e),
    };
    matrix_page(
        &web,
        chosen,
        MATRIX_HEADING.into(),
        "/campaign/officials".into(),
    )
    .await
}

async fn county(
    State(web): State<Web>,
    headers: HeaderMap,
    UrlPath(fips): UrlPath<String>,
    Query(q): Query<MatrixQuery>,
) -> Response {
    if let Err(r) = web.staff(&headers, false).await {
        return r;
    }
    let place = match groundwork_core::places::county(&fips) {
        Ok(p) => p,
        Err(e) => return problem(StatusCode::NOT_FOUND, &e.to_string()),
    };
    let mut chosen = match chosen(&q) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e),
    };
    chosen.filter.state = None;
    chosen.filter.county = Some(fips.clone());
    matrix_page(
        &web,
        chosen,
        format!("{place}: the officials groups ask"),
        format!("/campaign/county/{fips}"),
    )
    .await
}

async fn matrix_page(web: &Web, chosen: Chosen, heading: String, action: String) -> Response {
    let made = web
        .db(move |c| Ok(matrix_html(c, chosen, heading, action)))
        .await;
    page_response(made)
}

/// A rendered page as a response.
fn page_response(made: Result<Result<String, PageError>, Response>) -> Response {
    match made {
        Ok(Ok(body)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "making a page failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "making the page failed")
        }
        Err(r) => r,
    }
}

/// The matrix page's HTML (every official's, or one county's).
pub fn matrix_html(
    c: &mut dyn Sql,
    chosen: Chosen,
    heading: String,
    action: String,
) -> Result<String, PageError> {
    let page = data::matrix(c, &chosen.filter, chosen.sort, chosen.page, PER_PAGE)?;
    let states = states(c)?;
    let show_state = chosen.filter.county.is_none();
    Ok(pages::Officials {
        here: "officials",
        heading,
        action,
        show_state,
        states,
        offices: pages::offices(),
        positions: pages::positions(),
        sorts: vec![
            ("place", "By place"),
            ("support", "Most rules supported"),
            ("groups", "Most groups asking"),
            ("name", "By name"),
        ],
        selected_state: chosen.filter.state.clone().unwrap_or_default(),
        selected_office: chosen.filter.office.map_or("", |o| o.as_str()),
        selected_position: chosen.filter.position.map_or("", |p| p.as_str()),
        selected_sort: chosen.sort.as_str(),
        query: chosen.query,
        rules: groundwork_core::rules::RULES,
        page,
    }
    .render()?)
}

/// The states that have officials, for the filter, in byte order (sorted here, not by
/// PostgreSQL's collation).
fn states(c: &mut dyn Sql) -> Result<Vec<String>, DbError> {
    let mut states = c
        .query("SELECT DISTINCT state FROM campaign_officials", &[])?
        .into_iter()
        .map(|r| r.get(0))
        .collect::<Result<Vec<String>, _>>()?;
    states.sort();
    Ok(states)
}

async fn officials_csv(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<MatrixQuery>,
) -> Response {
    if let Err(r) = web.staff(&headers, false).await {
        return r;
    }
    let chosen = match chosen(&q) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e),
    };
    let filter = chosen.official_filter();
    let found = match web
        .db(move |c| crate::campaign::officials(c, &filter))
        .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut body = Vec::new();
    if let Err(e) = groundwork_core::campaign::write_matrix_csv(&found, &mut body) {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"freedom-cities-officials.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

async fn staff_map(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Err(r) = web.staff(&headers, false).await {
        return r;
    }
    page_response(web.db(|c| Ok(map_html(c))).await)
}

/// The staff map page's HTML: every county coloured by status, with a legend and a list.
pub fn map_html(c: &mut dyn Sql) -> Result<String, PageError> {
    let counties = data::counties(c)?;
    let mut shades = HashMap::new();
    let mut counts: HashMap<Status, usize> = HashMap::new();
    for c in &counties {
        *counts.entry(c.status).or_default() += 1;
        shades.insert(
            c.fips.clone(),
            map::Shade {
                class: c.status.class(),
                title: format!(
                    "{}: {} ({} {})",
                    c.name,
                    c.status.words(),
                    c.officials,
                    if c.officials == 1 {
                        "official"
                    } else {
                        "officials"
                    }
                ),
                href: Some(format!("/campaign/county/{}", c.fips)),
            },
        );
    }
    let drawn = counties.iter().filter(|c| map::has_shape(&c.fips)).count();
    counts.insert(Status::NotAsked, map::county_count().saturating_sub(drawn));
    let legend = Status::ALL
        .iter()
        .map(|s| (s.class(), s.words(), counts.get(s).copied().unwrap_or(0)))
        .collect();
    Ok(pages::Map {
        here: "map",
        svg: map::svg(
            "Counties of the United States, coloured by where the campaign stands",
            &shades,
        ),
        legend,
        counties,
    }
    .render()?)
}

async fn official(
    State(web): State<Web>,
    headers: HeaderMap,
    UrlPath(key): UrlPath<String>,
) -> Response {
    if let Err(r) = web.staff(&headers, false).await {
        return r;
    }
    let lookup = key.clone();
    match web.db(move |c| crate::campaign::official(c, &lookup)).await {
        Ok(Some(d)) => html(
            StatusCode::OK,
            pages::Official {
                here: "officials",
                d,
            },
        ),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            &format!("no sharing group asks an official {key:?}"),
        ),
        Err(r) => r,
    }
}

// --- the API: the same data as JSON ---

async fn api_overview(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Err(r) = web.staff(&headers, true).await {
        return r;
    }
    match web.db(|c| data::overview(c)).await {
        Ok(o) => json(&o),
        Err(r) => r,
    }
}

async fn api_officials(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<MatrixQuery>,
) -> Response {
    if let Err(r) = web.staff(&headers, true).await {
        return r;
    }
    let chosen = match chosen(&q) {
        Ok(c) => c,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    let filter = chosen.official_filter();
    match web
        .db(move |c| crate::campaign::officials(c, &filter))
        .await
    {
        Ok(found) => json(&found),
        Err(r) => r,
    }
}

async fn api_official(
    State(web): State<Web>,
    headers: HeaderMap,
    UrlPath(key): UrlPath<String>,
) -> Response {
    if let Err(r) = web.staff(&headers, true).await {
        return r;
    }
    let lookup = key.clone();
    match web.db(move |c| crate::campaign::official(c, &lookup)).await {
        Ok(Some(d)) => json(&d),
        Ok(None) => json_error(
            StatusCode::NOT_FOUND,
            &format!("no sharing group asks an official {key:?}"),
        ),
        Err(r) => r,
    }
}

async fn api_counties(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Err(r) = web.staff(&headers, true).await {
        return r;
    }
    match web.db(|c| data::counties(c)).await {
        Ok(c) => json(&c),
        Err(r) => r,
    }
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}
