//! The two SQL engines the relay's store runs on, behind one small interface: embedded SQLite
//! (SQLCipher, the default) and PostgreSQL (several relay nodes on one database).
//!
//! Why one interface and not two implementations of the store: the relay's tables and queries
//! (documents, access, the campaign index, the dashboard's reads) are written once, in the SQL
//! both engines share, so the two stores cannot drift apart; only what truly differs (opening,
//! the schema's types, quotas, file compaction, the change log) is written per engine.
//!
//! The shared dialect: parameters are `$1`, `$2`, ... (PostgreSQL's; rewritten to SQLite's
//! `?1`, `?2` here); integers are 64-bit (`BIGINT` in PostgreSQL's schema); an aggregate whose
//! PostgreSQL type is not an integer (`SUM` is `NUMERIC` there) is `CAST(... AS BIGINT)`;
//! upserts are `INSERT ... ON CONFLICT`; "latest per key" is a window function, never
//! SQLite's bare columns beside `MAX`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One value going into or coming out of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (64-bit in both engines).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (SQLite's BLOB, PostgreSQL's BYTEA).
    Blob(Vec<u8>),
}

/// A query failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no, or could not be reached.
    #[error("{}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    /// A column held something other than what the code reads from it.
    #[error("column {column}: expected {expected}, found {found}")]
    Decode {
        /// The column's index in the row.
        column: usize,
        /// What the code reads.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// A parameter or a result column of a type this layer does not carry.
    #[error("{0}")]
    Type(String),
}

/// PostgreSQL's own words: the server's message, detail and hint where it sent them (the
/// client's `Display` says only "db error"), else the client's reason.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut out = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                out.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = db.hint() {
                out.push_str(&format!("; hint: {hint}"));
            }
            out
        }
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl DbError {
    /// Whether the storage is full: SQLite's "database or disk is full" (the disk, or the
    /// operator's quota), PostgreSQL's `disk_full` (53100).
    pub fn is_full(&self) -> bool {
        match self {
            DbError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            DbError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::DISK_FULL)
                    || e.code() == Some(&postgres::error::SqlState::OUT_OF_MEMORY)
            }
            _ => false,
        }
    }

    /// Whether the database could not be reached (PostgreSQL's connection is gone or was
    /// refused): the relay stops acknowledging until it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Postgres(e) => {
                e.is_closed()
                    || e.code().is_none()
                    || e.code().is_some_and(|c| {
                        c.code().starts_with("08") // connection exceptions
                            || *c == postgres::error::SqlState::ADMIN_SHUTDOWN
                            || *c == postgres::error::SqlState::CRASH_SHUTDOWN
                            || *c == postgres::error::SqlState::CANNOT_CONNECT_NOW
                    })
            }
            _ => false,
        }
    }

    /// Whether the transaction was rolled back for meeting another (PostgreSQL's deadlock
    /// `40P01` or serialization failure `40001`): trying it again is safe and may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
                    || e.code() == Some(&postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
            }
            _ => false,
        }
    }

    /// Whether a unique key or primary key refused a row (`23505` / SQLite's constraint).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// A value a query takes as a parameter.
pub trait ToValue {
    /// The value.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u8, u16, i16);
impl ToValue for u64 {
    fn to_value(&self) -> Value {
        // Counts and times; none comes near i64::MAX.
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// A type a result column is read as.
pub trait FromValue: Sized {
    /// Reads column `column`'s value.
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError>;
}

fn decode(value: &Value, column: usize, expected: &'static str) -> DbError {
    DbError::Decode {
        column,
        expected,
        found: match value {
            Value::Null => "NULL".into(),
            Value::Int(_) => "an integer".into(),
            Value::Real(_) => "a real".into(),
            Value::Text(_) => "text".into(),
            Value::Blob(_) => "bytes".into(),
        },
    }
}

impl FromValue for Value {
    fn from_value(value: &Value, _: usize) -> Result<Self, DbError> {
        Ok(value.clone())
    }
}
impl FromValue for String {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            v => Err(decode(v, column, "text")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            v => Err(decode(v, column, "bytes")),
        }
    }
}
impl FromValue for i64 {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Int(i) => Ok(*i),
            v => Err(decode(v, column, "an integer")),
        }
    }
}
impl FromValue for f64 {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            v => Err(decode(v, column, "a number")),
        }
    }
}
impl FromValue for bool {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Int(i) => Ok(*i != 0),
            v => Err(decode(v, column, "a boolean")),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
                match value {
                    Value::Int(i) => <$t>::try_from(*i).map_err(|_| DbError::Decode {
                        column,
                        expected: stringify!($t),
                        found: i.to_string(),
                    }),
                    v => Err(decode(v, column, "an integer")),
                }
            }
        }
    )*};
}
int_from_value!(u64, u32, i32, u8, u16, usize);
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v, column).map(Some),
        }
    }
}

/// One result row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row(Vec<Value>);

impl Row {
    /// Column `i`, read as `T` (an error naming the column if it holds something else).
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        match self.0.get(i) {
            Some(v) => T::from_value(v, i),
            None => Err(DbError::Type(format!(
                "column {i} asked of a row of {}",
                self.0.len()
            ))),
        }
    }

    /// Every column.
    pub fn values(&self) -> &[Value] {
        &self.0
    }
}

/// What the store's code asks of either engine, inside a transaction or not.
pub trait Sql {
    /// Runs a statement; the rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, DbError>;
    /// Runs a query; every row.
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError>;
    /// Runs a query; its first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
    /// Whether a query returns any row.
    fn exists(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<bool, DbError> {
        Ok(self.query_opt(sql, params)?.is_some())
    }
    /// Which engine this is (for the few statements that differ).
    fn engine(&self) -> Engine;
}

/// The engine under a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite (SQLCipher).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// `$1`-style parameters as SQLite's `?1`. A `$` followed by a digit is never anything else in
/// the relay's SQL (no string literal holds one).
fn sqlite_sql(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out.into()
}

fn to_sqlite(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
    }
}

fn sqlite_row(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut values = Vec::with_capacity(columns);
    for i in 0..columns {
        values.push(match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        });
    }
    Ok(Row(values))
}

fn sqlite_execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn ToValue],
) -> Result<u64, DbError> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(sql))?;
    let n = stmt.execute(rusqlite::params_from_iter(
        params.iter().map(|p| to_sqlite(p.to_value())),
    ))?;
    Ok(n as u64)
}

fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn ToValue],
) -> Result<Vec<Row>, DbError> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(sql))?;
    let columns = stmt.column_count();
    let rows = stmt.query_map(
        rusqlite::params_from_iter(params.iter().map(|p| to_sqlite(p.to_value()))),
        |r| sqlite_row(r, columns),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Sql for rusqlite::Connection {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, DbError> {
        sqlite_execute(self, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        sqlite_query(self, sql, params)
    }
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
}

impl Sql for rusqlite::Transaction<'_> {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, DbError> {
        sqlite_execute(self, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        sqlite_query(self, sql, params)
    }
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
}

/// A PostgreSQL connection with its prepared statements (prepared once per connection: a
/// statement's text is parsed and planned by the server once, then only bound).
pub struct Postgres {
    client: postgres::Client,
    url: String,
    statements: HashMap<String, postgres::Statement>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

/// Connects with `url` (a `postgres://` URL or libpq's key=value form). Over TCP the
/// connection is TLS as `sslmode` asks (libpq's default, `prefer`: TLS when the server offers
/// it), the server's certificate checked against the web's roots and, where the URL names one
/// as libpq does (`sslrootcert=FILE`), the operator's own CA: a managed database's. Any TLS
/// here checks the certificate and the host name, so libpq's `verify-ca` and `verify-full`
/// mean `require`. Over a Unix socket there is no TLS.
pub fn pg_connect(url: &str) -> Result<postgres::Client, DbError> {
    let (conninfo, root) = tls_options(url);
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = &root {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| DbError::Type(format!("sslrootcert {file}: {e}")))?;
        if certs.is_empty() {
            return Err(DbError::Type(format!(
                "sslrootcert {file}: no PEM certificate in it"
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| DbError::Type(format!("sslrootcert {file}: {e}")))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| DbError::Type(format!("TLS to the database: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
    Ok(postgres::Client::connect(&conninfo, tls)?)
}

/// Takes libpq's TLS options the client does not know out of a connection string: the CA file
/// (`sslrootcert`, removed) and the verifying `sslmode`s (made `require`, which verifies here).
fn tls_options(url: &str) -> (String, Option<String>) {
    let verify = |mode: &str| matches!(mode, "verify-ca" | "verify-full");
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None);
        };
        let mut root = None;
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sslrootcert", file)) => root = Some(file.to_owned()),
                Some(("sslmode", mode)) if verify(mode) => kept.push("sslmode=require".into()),
                _ => kept.push(pair.to_owned()),
            }
        }
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (url, root);
    }
    let mut root = None;
    let mut kept = Vec::new();
    for pair in url.split_whitespace() {
        match pair.split_once('=') {
            Some(("sslrootcert", file)) => root = Some(file.to_owned()),
            Some(("sslmode", mode)) if verify(mode) => kept.push("sslmode=require".to_owned()),
            _ => kept.push(pair.to_owned()),
        }
    }
    (kept.join(" "), root)
}

impl Postgres {
    /// Connects to the database at `url`.
    pub fn connect(url: &str) -> Result<Self, DbError> {
        Ok(Self {
            client: pg_connect(url)?,
            url: url.to_owned(),
            statements: HashMap::new(),
        })
    }

    /// Connects again if the connection is known to be lost (the server restarted, the link
    /// dropped): the next statement then runs on a fresh session, its statements prepared anew.
    pub fn reconnect_if_closed(&mut self) -> Result<(), DbError> {
        if self.client.is_closed() {
            self.reconnect()?;
        }
        Ok(())
    }

    fn reconnect(&mut self) -> Result<(), DbError> {
        self.client = pg_connect(&self.url)?;
        self.statements.clear();
        Ok(())
    }

    /// Runs `work`, once more on a new connection if the first try found the old one dead. A
    /// lost connection is often only learnt by using it, so without this the first statement
    /// after the server came back would always fail. Only for work that is safe to repeat:
    /// reads, and a transaction's BEGIN (nothing of the transaction was sent yet).
    fn retrying<T>(
        &mut self,
        mut work: impl FnMut(&mut Self) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.reconnect_if_closed()?;
        match work(self) {
            Err(e) if e.is_unavailable() => {
                tracing::info!(error = %e, "the database connection was lost; connecting again");
                self.reconnect()?;
                work(self)
            }
            done => done,
        }
    }

    /// The client itself, for what this layer does not carry (COPY, LISTEN, advisory locks).
    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    /// Runs `work` in one transaction, committed when it returns `Ok` (rolled back
    /// otherwise). The transaction is plain BEGIN and COMMIT on this connection, so that a
    /// dead connection found by BEGIN is replaced before any of the work is sent.
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        self.retrying(|pg| Ok(pg.client.batch_execute("BEGIN")?))?;
        let mut tx = PgTx {
            client: &mut self.client,
            statements: &mut self.statements,
        };
        match work(&mut tx) {
            Ok(out) => {
                self.client.batch_execute("COMMIT").map_err(DbError::from)?;
                Ok(out)
            }
            Err(e) => {
                // The work's error is the one to report; a failed ROLLBACK means the
                // connection is gone, and the server rolls back on its own then.
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn pg_statement<'s>(
    client: &mut impl postgres::GenericClient,
    statements: &'s mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<&'s postgres::Statement, DbError> {
    if !statements.contains_key(sql) {
        let stmt = client.prepare(sql)?;
        statements.insert(sql.to_owned(), stmt);
    }
    statements
        .get(sql)
        .ok_or_else(|| DbError::Type("a prepared statement went missing".into()))
}

/// Binds our values to the types the server inferred for the statement's parameters.
fn pg_params(
    stmt: &postgres::Statement,
    params: &[&dyn ToValue],
) -> Result<Vec<Box<dyn postgres::types::ToSql + Sync>>, DbError> {
    use postgres::types::Type;
    let types = stmt.params();
    if types.len() != params.len() {
        return Err(DbError::Type(format!(
            "the statement takes {} parameters, given {}",
            types.len(),
            params.len()
        )));
    }
    let mut out: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::with_capacity(params.len());
    for (i, (ty, p)) in types.iter().zip(params).enumerate() {
        let v = p.to_value();
        let wrong = || {
            DbError::Type(format!(
                "parameter ${}: {v:?} does not fit {}",
                i + 1,
                ty.name()
            ))
        };
        out.push(match (&v, ty) {
            (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
            (Value::Null, t) if *t == Type::INT4 => Box::new(None::<i32>),
            (Value::Null, t) if *t == Type::INT2 => Box::new(None::<i16>),
            (Value::Null, t) if *t == Type::BOOL => Box::new(None::<bool>),
            (Value::Null, t) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
            (Value::Null, t) if *t == Type::FLOAT8 => Box::new(None::<f64>),
            (Value::Null, _) => Box::new(None::<String>),
            (Value::Int(n), t) if *t == Type::INT8 => Box::new(*n),
            (Value::Int(n), t) if *t == Type::INT4 => {
                Box::new(i32::try_from(*n).map_err(|_| wrong())?)
            }
            (Value::Int(n), t) if *t == Type::INT2 => {
                Box::new(i16::try_from(*n).map_err(|_| wrong())?)
            }
            (Value::Int(n), t) if *t == Type::BOOL => Box::new(*n != 0),
            (Value::Int(n), t) if *t == Type::FLOAT8 => Box::new(*n as f64),
            (Value::Int(n), t) if *t == Type::TEXT || *t == Type::VARCHAR => {
                Box::new(n.to_string())
            }
            (Value::Real(f), t) if *t == Type::FLOAT8 => Box::new(*f),
            (Value::Text(s), t)
                if *t == Type::TEXT
                    || *t == Type::VARCHAR
                    || *t == Type::BPCHAR
                    || *t == Type::NAME
                    || *t == Type::UNKNOWN =>
            {
                Box::new(s.clone())
            }
            (Value::Blob(b), t) if *t == Type::BYTEA => Box::new(b.clone()),
            _ => return Err(wrong()),
        });
    }
    Ok(out)
}

fn pg_row(row: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let v = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map(|n| Value::Int(n.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?
                .map(|n| Value::Int(n.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?
                .map(|b| Value::Int(b.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)?
                .map(|f| Value::Real(f.into()))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else if *ty == Type::TEXT
            || *ty == Type::VARCHAR
            || *ty == Type::BPCHAR
            || *ty == Type::NAME
        {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else {
            return Err(DbError::Type(format!(
                "column {} ({i}) is {}, which the relay does not read (cast it)",
                column.name(),
                ty.name()
            )));
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

fn pg_execute(
    client: &mut impl postgres::GenericClient,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[&dyn ToValue],
) -> Result<u64, DbError> {
    let stmt = pg_statement(client, statements, sql)?.clone();
    let bound = pg_params(&stmt, params)?;
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = bound.iter().map(|b| &**b).collect();
    Ok(client.execute(&stmt, &refs)?)
}

fn pg_query(
    client: &mut impl postgres::GenericClient,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[&dyn ToValue],
) -> Result<Vec<Row>, DbError> {
    let stmt = pg_statement(client, statements, sql)?.clone();
    let bound = pg_params(&stmt, params)?;
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = bound.iter().map(|b| &**b).collect();
    client.query(&stmt, &refs)?.iter().map(pg_row).collect()
}

impl Sql for Postgres {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, DbError> {
        self.reconnect_if_closed()?;
        pg_execute(&mut self.client, &mut self.statements, sql, params)
    }
    /// Reads are repeated once on a fresh connection if the old one turns out dead.
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        self.retrying(|pg| pg_query(&mut pg.client, &mut pg.statements, sql, params))
    }
    fn engine(&self) -> Engine {
        Engine::Postgres
    }
}

/// A PostgreSQL connection inside BEGIN, sharing its prepared statements.
struct PgTx<'a> {
    client: &'a mut postgres::Client,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

impl Sql for PgTx<'_> {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, DbError> {
        pg_execute(self.client, self.statements, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        pg_query(self.client, self.statements, sql, params)
    }
    fn engine(&self) -> Engine {
        Engine::Postgres
    }
}

/// A connection to either engine: what the store, the hub and the web pages hold.
#[derive(Debug)]
pub enum Db {
    /// The embedded store's file.
    Sqlite {
        /// The connection.
        conn: rusqlite::Connection,
        /// The file, for error messages.
        path: PathBuf,
    },
    /// A PostgreSQL database (boxed: its client is several times a SQLite connection's size).
    Postgres(Box<Postgres>),
}

impl Db {
    /// Runs `work` in one transaction, committed when it returns `Ok` (rolled back otherwise).
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite { conn, .. } => {
                let mut tx = conn.transaction().map_err(DbError::from)?;
                let out = work(&mut tx)?;
                tx.commit().map_err(DbError::from)?;
                Ok(out)
            }
            Db::Postgres(pg) => pg.transaction(work),
        }
    }

    /// Where this database is, for messages: the SQLite file, or PostgreSQL's URL without
    /// its password.
    pub fn describe(&self) -> String {
        match self {
            Db::Sqlite { path, .. } => path.display().to_string(),
            Db::Postgres(pg) => redact(&pg.url),
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite { path, .. } => Some(path),
            Db::Postgres(_) => None,
        }
    }
}

impl Sql for Db {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite { conn, .. } => Sql::execute(conn, sql, params),
            Db::Postgres(pg) => pg.execute(sql, params),
        }
    }
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite { conn, .. } => Sql::query(conn, sql, params),
            Db::Postgres(pg) => pg.query(sql, params),
        }
    }
    fn engine(&self) -> Engine {
        match self {
            Db::Sqlite { .. } => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }
}

/// A database URL with its password replaced, fit for logs and errors.
pub fn redact(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    // key=value form: drop password=...
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_parameters_become_sqlites() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $1 AND c = $12 OR $2 IS NULL"),
            "SELECT a FROM t WHERE b = ?1 AND c = ?12 OR ?2 IS NULL"
        );
        assert_eq!(sqlite_sql("SELECT 'cost: $'"), "SELECT 'cost: $'");
    }

    #[test]
    fn libpqs_tls_options_are_read() {
        assert_eq!(
            tls_options("postgres://r@db:5432/g?sslmode=verify-full&sslrootcert=/ca.pem"),
            (
                "postgres://r@db:5432/g?sslmode=require".to_owned(),
                Some("/ca.pem".to_owned())
            )
        );
        assert_eq!(
            tls_options("host=db sslrootcert=/ca.pem sslmode=verify-ca dbname=g"),
            (
                "host=db sslmode=require dbname=g".to_owned(),
                Some("/ca.pem".to_owned())
            )
        );
        assert_eq!(
            tls_options("postgres://r@db/g?sslrootcert=/ca.pem"),
            ("postgres://r@db/g".to_owned(), Some("/ca.pem".to_owned()))
        );
        assert_eq!(
            tls_options("postgres:///g"),
            ("postgres:///g".to_owned(), None)
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://relay:hunter2@db.example:5432/groundwork"),
            "postgres://relay:***@db.example:5432/groundwork"
        );
        assert_eq!(
            redact("host=/tmp user=relay password=hunter2 dbname=g"),
            "host=/tmp user=relay password=*** dbname=g"
        );
        assert_eq!(redact("postgres:///groundwork"), "postgres:///groundwork");
    }

    #[test]
    fn sqlite_round_trips_every_value() -> Result<(), DbError> {
        let mut conn = rusqlite::Connection::open_in_memory()?;
        Sql::execute(
            &mut conn,
            "CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)",
            &[],
        )?;
        Sql::execute(
            &mut conn,
            "INSERT INTO t (i, s, b, n) VALUES ($1, $2, $3, $4)",
            &[&7i64, &"seven", &vec![7u8], &None::<String>],
        )?;
        let row = Sql::query_opt(
            &mut conn,
            "SELECT i, s, b, n FROM t WHERE s = $1",
            &[&"seven"],
        )?
        .ok_or_else(|| DbError::Type("no row".into()))?;
        assert_eq!(row.get::<i64>(0)?, 7);
        assert_eq!(row.get::<String>(1)?, "seven");
        assert_eq!(row.get::<Vec<u8>>(2)?, vec![7]);
        assert_eq!(row.get::<Option<String>>(3)?, None);
        let wrong = row.get::<i64>(1).err().map(|e| e.to_string());
        assert_eq!(
            wrong.as_deref(),
            Some("column 1: expected an integer, found text")
        );
        Ok(())
    }
}
