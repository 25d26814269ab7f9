//! Remote databases (sqld / Turso over HTTP, the Hrana protocol) through the
//! libsql crate, on the process's tokio runtime. Replies use the same wire
//! format as local databases, so the OCaml side does not know the mode.
//!
//! Every network call is bounded by the database's timeout. The auth token
//! never enters an error: messages are scrubbed of it before they leave.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{Error, Kind};
use crate::hrana;
use crate::executor::{runtime, Serial};
use crate::stats::{Mode, Stats};
use crate::wire::{self, Out, Param, Reader};

fn scrub(msg: String, token: &str) -> String {
    if token.len() >= 4 {
        msg.replace(token, "<redacted>")
    } else {
        msg
    }
}

/// Classifies a libsql error. Server-side SQL errors carry SQLite's code
/// name in their text (e.g. SQLITE_CONSTRAINT_UNIQUE).
fn convert(e: libsql::Error, token: &str) -> Error {
    use libsql::Error as E;
    let (kind, code, msg) = match e {
        E::RemoteSqliteFailure(code, ext, msg) => {
            let code = if ext != 0 { ext } else { code };
            (crate::error::kind_of_sqlite_code(code), Some(code), msg)
        }
        E::SqliteFailure(code, msg) => (crate::error::kind_of_sqlite_code(code), Some(code), msg),
        E::ConnectionFailed(msg) => (Kind::Network, None, msg),
        E::Misuse(msg) => (Kind::Misuse, None, msg),
        e @ E::SyncNotSupported(_) => (Kind::Misuse, None, e.to_string()),
        // libsql parses the SQL before sending it
        e @ (E::Sqlite3SyntaxError(..) | E::Sqlite3ParserError(_) | E::Sqlite3UnsupportedStatement) => {
            (Kind::Sql, Some(1), e.to_string())
        }
        other => {
            let msg = other.to_string();
            if let Some(code) = code_in(&msg) {
                let code = refine_code(code, &msg);
                let kind = crate::error::kind_of_sqlite_code(code);
                return Error { kind, code: Some(code), message: scrub(plain_message(msg), token), sql: None };
            }
            if msg.contains("constraint failed") {
                let code = refine_code(19, &msg);
                return Error { kind: Kind::Constraint, code: Some(code), message: scrub(plain_message(msg), token), sql: None };
            }
            let kind = if msg.contains("SQLITE_CONSTRAINT") {
                Kind::Constraint
            } else if msg.contains("SQLITE_BUSY") || msg.contains("SQLITE_LOCKED") {
                Kind::Busy
            } else if msg.contains("401") || msg.contains("403") || msg.to_lowercase().contains("unauthorized") {
                Kind::Auth
            } else if msg.contains("SQLITE_") || msg.contains("SQL") {
                Kind::Sql
            } else {
                Kind::Network
            };
            (kind, None, msg)
        }
    };
    let code = code.map(|c| refine_code(c, &msg));
    Error { kind, code, message: scrub(plain_message(msg), token), sql: None }
}

/// The SQLite result code named in a server error (`code: "SQLITE_..."`).
fn code_in(msg: &str) -> Option<i32> {
    let start = msg.find("code: \"SQLITE_")? + "code: \"".len();
    let name = &msg[start..start + msg[start..].find('"')?];
    sqlite_code_by_name(name)
}

/// SQLite's own message, as a local database gives it: without the
/// wrapping of libsql's Hrana errors (`Hrana: \`stream error: \`Error {
/// message: "SQLite error: ...", code: "..." }\`\``).
pub fn plain_message(msg: String) -> String {
    let inner = match (msg.find("message: \""), msg.rfind("\", code: \"")) {
        (Some(a), Some(b)) if a + 10 <= b => msg[a + 10..b].replace("\\\"", "\""),
        _ => msg,
    };
    match inner.find("SQLite error: ") {
        Some(i) => inner[i + 14..].trim_end_matches('`').to_string(),
        None => inner,
    }
}

/// A server often reports only the primary code of a constraint error
/// (`SQLITE_CONSTRAINT`); SQLite's message says which constraint it was.
/// (A PRIMARY KEY conflict on a rowid table reads as UNIQUE.)
pub fn refine_code(code: i32, msg: &str) -> i32 {
    if code != 19 {
        return code;
    }
    const BY_MESSAGE: &[(&str, i32)] = &[
        ("UNIQUE constraint failed", 2067),
        ("NOT NULL constraint failed", 1299),
        ("CHECK constraint failed", 275),
        ("FOREIGN KEY constraint failed", 787),
    ];
    BY_MESSAGE.iter().find(|(m, _)| msg.contains(m)).map(|(_, c)| *c).unwrap_or(code)
}

/// `SQLITE_CONSTRAINT_UNIQUE` → 2067, for the codes a server reports.
pub fn sqlite_code_by_name(name: &str) -> Option<i32> {
    const CODES: &[(&str, i32)] = &[
        ("SQLITE_ERROR", 1), ("SQLITE_UNKNOWN", 1), ("SQLITE_INTERNAL", 2), ("SQLITE_PERM", 3), ("SQLITE_ABORT", 4),
        ("SQLITE_BUSY", 5), ("SQLITE_LOCKED", 6), ("SQLITE_NOMEM", 7), ("SQLITE_READONLY", 8),
        ("SQLITE_INTERRUPT", 9), ("SQLITE_IOERR", 10), ("SQLITE_CORRUPT", 11), ("SQLITE_FULL", 13),
        ("SQLITE_CANTOPEN", 14), ("SQLITE_SCHEMA", 17), ("SQLITE_TOOBIG", 18),
        ("SQLITE_CONSTRAINT", 19), ("SQLITE_MISMATCH", 20), ("SQLITE_MISUSE", 21), ("SQLITE_AUTH", 23),
        ("SQLITE_RANGE", 25), ("SQLITE_CONSTRAINT_CHECK", 275), ("SQLITE_CONSTRAINT_FOREIGNKEY", 787),
        ("SQLITE_CONSTRAINT_NOTNULL", 1299), ("SQLITE_CONSTRAINT_PRIMARYKEY", 1555),
        ("SQLITE_CONSTRAINT_UNIQUE", 2067),
    ];
    CODES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

struct Shared {
    /// The bound on a whole sync (many requests when far behind).
    sync_timeout: Duration,
    /// Batches with parameters in one request.
    hrana: Arc<hrana::Client>,
    /// The replica's database, to catch up after such a batch.
    replica: Mutex<Option<std::sync::Weak<libsql::Database>>>,
    read_your_writes: bool,
    /// A replica's file, read directly (see [Conn::query]).
    replica_path: Option<String>,
    token: String,
    timeout: Duration,
    stats: Stats,
    /// The primary's HTTP URL (to ask why a replica's handshake failed).
    url: String,
}

impl Shared {
    /// Runs a future on the runtime, bounded by the timeout.
    fn block_on<T, F>(&self, what: &str, f: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, libsql::Error>>,
    {
        match runtime().block_on(async { tokio::time::timeout(self.timeout, f).await }) {
            Ok(r) => r.map_err(|e| convert(e, &self.token)),
            Err(_) => Err(Error::new(
                Kind::Timeout,
                format!("{what}: no answer from the server within {:?}", self.timeout),
            )),
        }
    }
}

/// The HTTP URL of a database URL, and the token the URL carries:
/// - `libsql://host` is HTTPS, or HTTP with `?tls=0` (which needs a port:
///   there is no default port for plain HTTP to a Turso host);
/// - `https://`, `http://` are kept; `wss://`, `ws://` mean the same host
///   over HTTPS and HTTP (this library speaks Hrana over HTTP);
/// - query parameters: `tls=0|1` (libsql:// only) and `authToken`; any
///   other is a `Config` error that names it.
/// Errors never quote the URL's query (it may hold the token).
pub fn http_url(url: &str) -> Result<(String, Option<String>), Error> {
    let config = |m: String| Error::new(Kind::Config, m);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        config("a remote database URL starts with libsql://, https://, http://, wss:// or ws://".into())
    })?;
    let scheme = scheme.to_ascii_lowercase();
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let base = base.split('#').next().unwrap_or("");
    if base.is_empty() || base.starts_with('/') {
        return Err(config(format!("the {scheme}:// URL has no host")));
    }
    let mut tls: Option<bool> = None;
    let mut token = None;
    for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "tls" => {
                tls = Some(match v {
                    "1" => true,
                    "0" => false,
                    _ => return Err(config(format!("unsupported value {v:?} for the URL parameter tls (0 or 1)"))),
                })
            }
            "authToken" => token = Some(v.to_string()),
            _ => {
                return Err(config(format!(
                    "unknown URL parameter {k:?} (supported: tls, authToken)"
                )))
            }
        }
    }
    let host_port = base.split('/').next().unwrap_or("");
    let has_port = host_port.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let http = match scheme.as_str() {
        "libsql" => match tls {
            Some(false) if !has_port => {
                return Err(config("a libsql:// URL with tls=0 needs a port (for example libsql://localhost:8080?tls=0)".into()))
            }
            Some(false) => "http",
            _ => "https",
        },
        "https" | "wss" | "http" | "ws" if tls.is_some() => {
            return Err(config(format!("the URL parameter tls is for libsql:// URLs; {scheme}:// already says it")))
        }
        "https" | "wss" => "https",
        "http" | "ws" => "http",
        other => {
            return Err(config(format!(
                "unsupported URL scheme {other:?}: use libsql://, https://, http://, wss:// or ws:// (or a file path for a local database)"
            )))
        }
    };
    Ok((format!("{http}://{}", base.trim_end_matches('/')), token))
}

pub struct Db {
    db: Mutex<Option<Arc<libsql::Database>>>,
    replica: bool,
    shared: Arc<Shared>,
    pub serial: Arc<Serial>,
}

impl Db {
    pub fn open(url: &str, token: &str, timeout_ms: i64) -> Result<Db, Error> {
        let (url, url_token) = http_url(url)?;
        let token = if token.is_empty() { url_token.as_deref().unwrap_or("") } else { token };
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        let shared = Arc::new(Shared {
            sync_timeout: timeout,
            hrana: hrana::Client::new(&url, token, timeout)?,
            replica: Mutex::new(None),
            read_your_writes: false,
            replica_path: None,
            token: token.to_string(),
            timeout,
            stats: Stats::new(Mode::Remote),
            url: url.clone(),
        });
        let db = shared.block_on("open", async {
            libsql::Builder::new_remote(url, token.to_string()).build().await
        })?;
        Ok(Db { db: Mutex::new(Some(Arc::new(db))), replica: false, shared, serial: Serial::new() })
    }

    /// An embedded replica: a local file at `path` that reads locally and
    /// syncs from the primary at `url`. Options (wire bytes): i64 sync
    /// interval in ms (0: none), i64 timeout in ms, u8 read-your-writes,
    /// i64 sync timeout in ms.
    pub fn open_replica(path: &str, url: &str, token: &str, opts: &[u8]) -> Result<Db, Error> {
        let mut r = Reader::new(opts);
        let (sync_ms, timeout_ms, ryw, sync_timeout_ms) = (r.i64()?, r.i64()?, r.u8()? != 0, r.i64()?);
        let (url, url_token) = http_url(url)?;
        let token = if token.is_empty() { url_token.as_deref().unwrap_or("") } else { token };
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        let shared = Arc::new(Shared {
            sync_timeout: Duration::from_millis(sync_timeout_ms.max(1) as u64),
            hrana: hrana::Client::new(&url, token, timeout)?,
            replica: Mutex::new(None),
            read_your_writes: ryw,
            replica_path: Some(path.to_string()),
            token: token.to_string(),
            timeout,
            stats: Stats::new(Mode::Replica),
            url: url.clone(),
        });
        let existed = std::path::Path::new(path).exists();
        let b = libsql::Builder::new_remote_replica(path, url, token.to_string()).read_your_writes(ryw);
        let db = Arc::new(shared.block_on("open the replica", b.build())?);
        *shared.replica.lock() = Some(Arc::downgrade(&db));
        // A first sync: the replica starts in step, and a wrong token or URL
        // shows now. With the primary unreachable, a replica that has a file
        // already opens anyway (it serves what it has; the stats keep the
        // error) and catches up at the next sync.
        if let Err(e) = runtime().block_on(sync_once(&db, &shared)) {
            if !(existed && matches!(e.kind, Kind::Network | Kind::Timeout)) {
                return Err(e);
            }
        }
        if sync_ms > 0 {
            periodic_sync(Arc::downgrade(&db), shared.clone(), Duration::from_millis(sync_ms as u64));
        }
        Ok(Db { db: Mutex::new(Some(db)), replica: true, shared, serial: Serial::new() })
    }

    fn live(&self) -> Result<Arc<libsql::Database>, Error> {
        self.db.lock().clone().ok_or_else(|| Error::closed("database"))
    }

    /// Pulls the primary's changes into a replica: replies the frame number
    /// now applied (-1: none yet) and the frames this sync applied.
    pub fn sync(&self) -> Result<Out, Error> {
        let db = self.live()?;
        if !self.replica {
            return Err(Error::new(Kind::Misuse, "sync is for embedded replicas; this database is remote"));
        }
        let (frame, frames) = runtime().block_on(sync_once(&db, &self.shared))?;
        let mut o = Out::ok();
        o.i64(frame.map(|f| f as i64).unwrap_or(-1));
        o.i64(frames as i64);
        Ok(o)
    }

    /// See [Stats::encode]; a replica's frame is asked from libsql.
    pub fn stats(&self) -> Result<Out, Error> {
        let db = self.live()?;
        let frame = if self.replica {
            runtime().block_on(db.replication_index()).ok().flatten()
        } else {
            None
        };
        Ok(self.shared.stats.encode(frame))
    }

    pub fn connect(&self, _busy_timeout_ms: i64) -> Result<Arc<Conn>, Error> {
        let db = self.live()?;
        let conn = db.connect().map_err(|e| convert(e, &self.shared.token))?;
        Ok(Arc::new(Conn {
            db: db.clone(),
            conn: Mutex::new(Some(conn)),
            baton: Mutex::new(None),
            reader: Mutex::new(None),
            shared: self.shared.clone(),
            serial: Serial::new(),
        }))
    }

    pub fn close(&self) {
        self.db.lock().take();
    }
}

impl Shared {
    /// After a write that bypassed libsql (a [hrana] batch), a replica with
    /// read-your-writes syncs, so that the writer sees it.
    fn catch_up(&self) -> Result<(), Error> {
        if !self.read_your_writes {
            return Ok(());
        }
        let db = self.replica.lock().as_ref().and_then(|w| w.upgrade());
        match db {
            Some(db) => runtime().block_on(sync_once(&db, self)).map(|_| ()),
            None => Ok(()),
        }
    }
}

/// One sync, bounded by the timeout, recorded in the stats.
async fn sync_once(db: &libsql::Database, shared: &Shared) -> Result<(Option<u64>, u64), Error> {
    let started = std::time::SystemTime::now();
    let t0 = std::time::Instant::now();
    let r = match tokio::time::timeout(shared.sync_timeout, db.sync()).await {
        Ok(Ok(r)) => Ok((r.frame_no(), r.frames_synced() as u64)),
        Ok(Err(e)) => {
            let mut e = convert(e, &shared.token);
            if e.kind == Kind::Sql {
                e.kind = Kind::Sync;
            }
            if e.message.contains("handshake") {
                e = why_no_handshake(shared, e).await;
            }
            Err(e)
        }
        Err(_) => Err(Error::new(
            Kind::Timeout,
            format!("sync: not done within {:?} (the sync timeout)", shared.sync_timeout),
        )),
    };
    shared.stats.sync_done(started, t0.elapsed(), r.as_ref().map(|x| *x).map_err(|e| e.message.as_str()));
    r
}

/// libsql retries a failed replication handshake and then reports a
/// timeout, whatever the cause. One Hrana request with the same URL and
/// token tells a refused token (an `Auth` error) from a server that cannot
/// be reached.
async fn why_no_handshake(shared: &Shared, e: Error) -> Error {
    let probe = async {
        let db = libsql::Builder::new_remote(shared.url.clone(), shared.token.clone()).build().await?;
        db.connect()?.execute("SELECT 1", ()).await
    };
    match tokio::time::timeout(shared.timeout, probe).await {
        Ok(Err(p)) => {
            let p = convert(p, &shared.token);
            if p.kind == Kind::Auth {
                return Error::new(
                    Kind::Auth,
                    format!("the primary refused the auth token (replication handshake failed): {}", p.message),
                );
            }
            e
        }
        _ => e,
    }
}

/// Syncs every `every` until the database is closed (this task holds it
/// only while a sync runs). Failures are kept in the stats; the next tick
/// tries again.
fn periodic_sync(db: std::sync::Weak<libsql::Database>, shared: Arc<Shared>, every: Duration) {
    runtime().spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(db) = db.upgrade() else { break };
            let _ = sync_once(&db, &shared).await;
        }
    });
}

pub struct Conn {
    /// To replace the connection when the server has dropped its stream.
    db: Arc<libsql::Database>,
    conn: Mutex<Option<libsql::Connection>>,
    /// The server stream of our own queries (see [Conn::query]).
    baton: Mutex<Option<String>>,
    /// On a replica: a read-only connection of our own to its file.
    reader: Mutex<Option<(Arc<crate::local::Db>, Arc<crate::local::Conn>)>>,
    shared: Arc<Shared>,
    pub serial: Arc<Serial>,
}

fn to_value(p: Param, what: &dyn Fn() -> String) -> Result<libsql::Value, Error> {
    Ok(match p {
        Param::Null => libsql::Value::Null,
        Param::Integer(i) => libsql::Value::Integer(i),
        Param::Real(f) => {
            if f.is_nan() {
                return Err(Error::new(Kind::Misuse, format!("{}: NaN cannot be stored", what())));
            }
            if f.is_infinite() {
                return Err(Error::new(
                    Kind::Misuse,
                    format!("{}: infinity cannot be sent to a remote database or replica (its protocol, JSON, has no infinity)", what()),
                ));
            }
            libsql::Value::Real(f)
        }
        Param::Text(t) => libsql::Value::Text(
            String::from_utf8(t.to_vec()).map_err(|_| {
                Error::new(Kind::Misuse, format!("{}: Text is not valid UTF-8 (use Blob for binary data)", what()))
            })?,
        ),
        Param::Blob(b) => libsql::Value::Blob(b.to_vec()),
    })
}

/// Parameters for the libsql crate. A bare name gets the `:` prefix.
fn params(buf: &[u8]) -> Result<libsql::params::Params, Error> {
    if buf.is_empty() {
        return Ok(libsql::params::Params::None);
    }
    let mut r = Reader::new(buf);
    let kind = r.u8()?;
    let n = r.u32()? as usize;
    match kind {
        wire::PARAMS_POSITIONAL => {
            let mut v = Vec::with_capacity(n);
            for i in 1..=n {
                v.push(to_value(r.value()?, &|| format!("parameter {i}"))?);
            }
            Ok(libsql::params::Params::Positional(v))
        }
        wire::PARAMS_NAMED => {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let name = String::from_utf8_lossy(r.bytes()?).into_owned();
                let value = to_value(r.value()?, &|| format!("parameter {name:?}"))?;
                let name = match name.chars().next() {
                    Some(':' | '@' | '$' | '?') => name,
                    _ => format!(":{name}"),
                };
                v.push((name, value));
            }
            Ok(libsql::params::Params::Named(v))
        }
        _ => Ok(libsql::params::Params::None),
    }
}

fn hrana_value(v: libsql::Value) -> libsql_hrana::proto::Value {
    use libsql_hrana::proto::Value as V;
    match v {
        libsql::Value::Null => V::Null,
        libsql::Value::Integer(i) => V::Integer { value: i },
        libsql::Value::Real(f) => V::Float { value: f },
        libsql::Value::Text(t) => V::Text { value: t.into() },
        libsql::Value::Blob(b) => V::Blob { value: b.into() },
    }
}

/// Refuses an infinite `Real` parameter, as [params] does, without
/// converting the others (the replica read path binds them itself).
fn check_finite(buf: &[u8]) -> Result<(), Error> {
    if buf.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(buf);
    let kind = r.u8()?;
    for i in 1..=r.u32()? {
        if kind == wire::PARAMS_NAMED {
            r.bytes()?;
        }
        if let Param::Real(f) = r.value()? {
            if f.is_infinite() {
                return Err(Error::new(
                    Kind::Misuse,
                    format!("parameter {i}: infinity cannot be sent to a remote database or replica (its protocol, JSON, has no infinity)"),
                ));
            }
        }
    }
    Ok(())
}

/// Parameters for a Hrana statement: those of [params] (same checks, same
/// `:` for a bare name), as the protocol's values.
fn hrana_params(buf: &[u8]) -> Result<(Vec<libsql_hrana::proto::Value>, Vec<(String, libsql_hrana::proto::Value)>), Error> {
    Ok(match params(buf)? {
        libsql::params::Params::Positional(v) => (v.into_iter().map(hrana_value).collect(), Vec::new()),
        libsql::params::Params::Named(v) => (Vec::new(), v.into_iter().map(|(n, x)| (n, hrana_value(x))).collect()),
        libsql::params::Params::None => (Vec::new(), Vec::new()),
    })
}

fn encode_value(v: &libsql::Value, out: &mut Out) {
    match v {
        libsql::Value::Null => out.u8(wire::TAG_NULL),
        libsql::Value::Integer(i) => {
            out.u8(wire::TAG_INTEGER);
            out.i64(*i)
        }
        libsql::Value::Real(f) => {
            out.u8(wire::TAG_REAL);
            out.i64(f.to_bits() as i64)
        }
        libsql::Value::Text(s) => {
            out.u8(wire::TAG_TEXT);
            out.bytes(s.as_bytes())
        }
        libsql::Value::Blob(b) => {
            out.u8(wire::TAG_BLOB);
            out.bytes(b)
        }
    }
}

/// A remote result: fetched whole, then handed out in chunks.
pub struct Fetched {
    pub names: Vec<String>,
    pub decltypes: Vec<Option<String>>,
    pub rows: Vec<Vec<libsql::Value>>,
}

fn from_hrana(v: libsql_hrana::proto::Value) -> libsql::Value {
    use libsql_hrana::proto::Value as V;
    match v {
        V::None | V::Null => libsql::Value::Null,
        V::Integer { value } => libsql::Value::Integer(value),
        V::Float { value } => libsql::Value::Real(value),
        V::Text { value } => libsql::Value::Text(value.to_string()),
        V::Blob { value } => libsql::Value::Blob(value.to_vec()),
    }
}

/// Appends one statement's result in the layout of `local::encode_result`.
fn encode_result(out: &mut Out, f: &Fetched, changes: i64, rowid: Option<i64>) {
    out.u32(f.names.len() as u32);
    for (n, d) in f.names.iter().zip(&f.decltypes) {
        out.bytes(n.as_bytes());
        out.bytes(d.as_deref().unwrap_or("").as_bytes());
    }
    out.u32(f.rows.len() as u32);
    for row in &f.rows {
        for v in row {
            encode_value(v, out);
        }
    }
    out.i64(changes);
    out.u8(rowid.is_some() as u8);
    out.i64(rowid.unwrap_or(0));
}

fn fetched_of_hrana(r: libsql_hrana::proto::StmtResult) -> (Fetched, i64, Option<i64>) {
    let f = Fetched {
        names: r.cols.iter().map(|c| c.name.clone().unwrap_or_default()).collect(),
        decltypes: r.cols.into_iter().map(|c| c.decltype).collect(),
        rows: r.rows.into_iter().map(|row| row.values.into_iter().map(from_hrana).collect()).collect(),
    };
    (f, r.affected_row_count as i64, r.last_insert_rowid)
}

/// SQL as text: valid UTF-8 and without NUL bytes (which would cut it).
fn sql_text(sql: &[u8]) -> Result<&str, Error> {
    let text = std::str::from_utf8(sql).map_err(|_| Error::new(Kind::Misuse, "SQL is not valid UTF-8"))?;
    match sql.iter().position(|b| *b == 0) {
        Some(i) => Err(Error::new(Kind::Misuse, format!("SQL contains a NUL byte at offset {i}"))),
        None => Ok(text),
    }
}

/// Whether a statement begins or ends a transaction (those go through
/// libsql, which tracks the transaction's stream).
fn controls_transaction(sql: &str) -> bool {
    let word: String = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == ';')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(word.as_str(), "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE")
}

impl Conn {
    /// sqld drops a stream idle for about 10 s, and with it an open
    /// transaction; libsql keeps using the dead stream, so every later call
    /// would fail. Then: a fresh connection, and an error that says what
    /// happened.
    fn recover(&self, e: Error) -> Error {
        if !e.message.contains("STREAM_EXPIRED") {
            return e;
        }
        match self.db.connect() {
            Ok(fresh) => {
                let mut g = self.conn.lock();
                if g.is_some() {
                    *g = Some(fresh);
                }
            }
            Err(_) => return e,
        }
        *self.baton.lock() = None;
        Error {
            kind: Kind::TransactionClosed,
            code: None,
            message: "the server ended this connection's transaction: it was idle too long (sqld expires \
                      an idle stream after about 10 s); it was rolled back, and the connection is usable again"
                .to_string(),
            sql: e.sql,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&libsql::Connection) -> Result<T, Error>) -> Result<T, Error> {
        let g = self.conn.lock();
        let c = g.as_ref().ok_or_else(|| Error::closed("connection"))?;
        f(c)
    }

    pub fn execute(&self, sql: &[u8], ps: &[u8]) -> Result<Out, Error> {
        self.execute_inner(sql, ps).map_err(|e| self.recover(e))
    }

    fn execute_inner(&self, sql: &[u8], ps: &[u8]) -> Result<Out, Error> {
        let sql = sql_text(sql)?;
        let p = params(ps)?;
        self.with(|c| {
            self.shared.stats.statements(1);
            let n = self.shared.block_on("execute", c.execute(sql, p)).map_err(|e| e.with_sql(sql.as_bytes()))?;
            let mut o = Out::ok();
            o.i64(n as i64);
            o.i64(c.last_insert_rowid());
            Ok(o)
        })
    }

    /// A query. On a remote database outside a transaction: one request
    /// of our own (libsql's `query` costs two: describe, then execute),
    /// which also brings the declared column types. Inside a transaction
    /// (the stream's baton is libsql's) and on a replica (reads are
    /// local): through libsql.
    pub fn query(&self, sql: &[u8], ps: &[u8]) -> Result<Fetched, Error> {
        self.query_inner(sql, ps).map_err(|e| self.recover(e))
    }

    fn query_inner(&self, sql: &[u8], ps: &[u8]) -> Result<Fetched, Error> {
        let sql = sql_text(sql)?;
        let is_replica = self.shared.replica.lock().is_some();
        if !is_replica && !controls_transaction(sql) && self.with(|c| Ok(c.is_autocommit()))? {
            return self.own_query(sql, ps).map(|(f, _, _)| f);
        }
        if let Some(path) = &self.shared.replica_path {
            if !controls_transaction(sql) && self.with(|c| Ok(c.is_autocommit()))? {
                // the same value rules as the other remote paths (infinity)
                check_finite(ps)?;
                let mut g = self.reader.lock();
                if g.is_none() {
                    let db = Arc::new(crate::local::Db::open(path, 2)?);
                    let conn = db.connect(5000)?;
                    *g = Some((db, conn));
                }
                let (_, reader) = g.as_ref().unwrap();
                if let Some((names, decltypes, rows)) = reader.read_only_query(sql.as_bytes(), ps)? {
                    self.shared.stats.statements(1);
                    return Ok(Fetched { names, decltypes, rows });
                }
            }
        }
        let p = params(ps)?;
        self.with(|c| {
            let shared = &self.shared;
            shared.stats.statements(1);
            shared
                .block_on("query", async {
                    let mut rows = c.query(sql, p).await?;
                    let n = rows.column_count();
                    let names = (0..n).map(|i| rows.column_name(i).unwrap_or("").to_string()).collect();
                    let mut all = Vec::new();
                    while let Some(row) = rows.next().await? {
                        let mut vs = Vec::with_capacity(n as usize);
                        for i in 0..n {
                            vs.push(row.get_value(i)?);
                        }
                        all.push(vs);
                    }
                    Ok(Fetched { names, decltypes: vec![None; n as usize], rows: all })
                })
                .map_err(|e| e.with_sql(sql.as_bytes()))
        })
    }

    /// Runs `f` inside the savepoint `name` of the open transaction:
    /// released when it succeeds, rolled back to when it fails.
    fn in_savepoint(&self, name: &str, f: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
        self.execute(format!("SAVEPOINT {name}").as_bytes(), b"")?;
        match f() {
            Ok(()) => self.execute(format!("RELEASE {name}").as_bytes(), b"").map(drop),
            Err(e) => {
                let _ = self.execute(format!("ROLLBACK TO {name}").as_bytes(), b"");
                let _ = self.execute(format!("RELEASE {name}").as_bytes(), b"");
                Err(e)
            }
        }
    }

    /// One statement in one request on this connection's own server
    /// stream (see [hrana::Client::execute]).
    fn own_query(&self, sql: &str, ps: &[u8]) -> Result<(Fetched, i64, Option<i64>), Error> {
        let (args, named) = hrana_params(ps)?;
        self.shared.stats.statements(1);
        let mut baton = self.baton.lock();
        let step = hrana::Step { sql: sql.to_string(), args, named, want_rows: true };
        let r = runtime()
            .block_on(self.shared.hrana.execute(&mut baton, step))
            .map_err(|e| e.with_sql(sql.as_bytes()))?;
        Ok(fetched_of_hrana(r))
    }

    /// One statement through libsql (inside a transaction, or on a
    /// replica), with its changes and inserted rowid.
    fn run_via_libsql(&self, sql: &[u8], params: &[u8]) -> Result<(Fetched, i64, Option<i64>), Error> {
        let (total_before, rowid_before) = self.with(|c| Ok((c.total_changes(), c.last_insert_rowid())))?;
        let f = self.query(sql, params)?;
        self.with(|c| {
            let changed = c.total_changes() != total_before;
            let changes = if changed { c.changes() as i64 } else { 0 };
            let rowid = c.last_insert_rowid();
            let first = crate::local::leading_words(sql, 1);
            let inserted = rowid != rowid_before
                || (changes > 0 && matches!(first.first().map(String::as_str), Some("INSERT" | "REPLACE")));
            Ok((f, changes, if inserted { Some(rowid) } else { None }))
        })
    }

    /// One statement and its whole result (see `local::Conn::run`).
    pub fn run(&self, sql: &[u8], params: &[u8]) -> Result<Out, Error> {
        let is_replica = self.shared.replica.lock().is_some();
        let text = sql_text(sql)?;
        let (f, changes, rowid) = if !is_replica && !controls_transaction(text) && self.with(|c| Ok(c.is_autocommit()))? {
            self.own_query(text, params)?
        } else {
            self.run_via_libsql(sql, params)?
        };
        let mut out = Out::ok();
        encode_result(&mut out, &f, changes, rowid);
        Ok(out)
    }

    /// A batch of statements with parameters (see `local::Conn::batch_list`).
    /// Outside a transaction: one request, then a replica catches up. A read
    /// batch on a replica runs locally. Inside a transaction: statement by
    /// statement, under a savepoint.
    pub fn batch_list(&self, req: &[u8]) -> Result<Out, Error> {
        let (mode, stmts) = wire::batch_request(req)?;
        let is_replica = self.shared.replica.lock().is_some();
        let in_tx = !self.with(|c| Ok(c.is_autocommit()))?;
        let mut out = Out::ok();
        out.u32(stmts.len() as u32);
        let tag = |i: usize, sql: &[u8], mut e: Error| {
            e.message = format!("statement {i}: {}", e.message);
            e.with_sql(sql)
        };
        for (i, (sql, _)) in stmts.iter().enumerate() {
            if crate::local::ends_transaction(sql) {
                return Err(tag(i, sql, Error::new(
                    Kind::Misuse,
                    "a batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK",
                )));
            }
        }
        if !in_tx && !(is_replica && mode == 2) {
            let mut steps = Vec::with_capacity(stmts.len());
            for (i, (sql, params)) in stmts.iter().enumerate() {
                let text = sql_text(sql).map_err(|e| tag(i, sql, e))?;
                let (args, named) = hrana_params(params).map_err(|e| tag(i, sql, e))?;
                steps.push(hrana::Step { sql: text.to_string(), args, named, want_rows: true });
            }
            self.shared.stats.statements(stmts.len() as u64);
            let begin = match mode {
                1 => hrana::Begin::Immediate,
                _ => hrana::Begin::Deferred,
            };
            let results = runtime().block_on(self.shared.hrana.batch(begin, steps)).map_err(|(k, e)| match k {
                Some(k) => tag(k, stmts[k].0, e),
                None => e,
            })?;
            for r in results {
                let (f, changes, rowid) = fetched_of_hrana(r);
                encode_result(&mut out, &f, changes, rowid);
            }
            if mode != 2 {
                self.shared.catch_up()?;
            }
            return Ok(out);
        }
        let mut run_all = || {
            for (i, (sql, params)) in stmts.iter().enumerate() {
                let (f, changes, rowid) = self.run_via_libsql(sql, params).map_err(|e| tag(i, sql, e))?;
                encode_result(&mut out, &f, changes, rowid);
            }
            Ok(())
        };
        if in_tx && !(is_replica && mode == 2) {
            self.in_savepoint("turso_batch", run_all)?;
        } else {
            run_all()?;
        }
        Ok(out)
    }

    pub fn batch(&self, sql: &[u8], atomic: bool) -> Result<Out, Error> {
        self.batch_inner(sql, atomic).map_err(|e| self.recover(e))
    }

    fn batch_inner(&self, sql: &[u8], atomic: bool) -> Result<Out, Error> {
        let sql = std::str::from_utf8(sql).map_err(|_| Error::new(Kind::Misuse, "SQL is not valid UTF-8"))?;
        let was_autocommit = self.with(|c| Ok(c.is_autocommit()))?;
        // A script on a replica: libsql's replica goes on after a failed
        // statement; a Hrana sequence stops at it, as SQLite does.
        if !atomic && was_autocommit && self.shared.replica_path.is_some() {
            self.shared.stats.statements(1);
            let r = runtime().block_on(self.shared.hrana.sequence(sql));
            let _ = self.shared.catch_up();
            let autocommit = r.map_err(|e| e.with_sql(sql.as_bytes()))?;
            if !autocommit {
                return Err(Error::new(
                    Kind::Misuse,
                    "a script on a replica cannot leave a transaction open (it was rolled back): \
                     end it in the script, or use Tx",
                )
                .with_sql(sql.as_bytes()));
            }
            let mut o = Out::ok();
            o.i64(0);
            o.i64(self.with(|c| Ok(c.last_insert_rowid()))?);
            return Ok(o);
        }
        self.with(|c| {
            let r = if atomic {
                self.shared.block_on("batch", c.execute_transactional_batch(sql))
            } else {
                self.shared.block_on("script", c.execute_batch(sql))
            };
            let mut rows = match r {
                Ok(rows) => rows,
                Err(e) => {
                    // a script that opened a transaction and failed: roll it
                    // back rather than leave it open (as on a local file)
                    if !atomic && was_autocommit && !c.is_autocommit() {
                        let _ = self.shared.block_on("rollback", c.execute("ROLLBACK", ()));
                    }
                    // what ran before the error is on the primary: a
                    // replica catches up, for read-your-writes
                    if !atomic {
                        let _ = self.shared.catch_up();
                    }
                    return Err(e.with_sql(sql.as_bytes()));
                }
            };
            let mut ran = 0;
            while rows.next_stmt_row().is_some() {
                ran += 1;
            }
            self.shared.stats.statements(ran);
            let mut o = Out::ok();
            o.i64(c.changes() as i64);
            o.i64(c.last_insert_rowid());
            Ok(o)
        })
    }

    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        self.with(|c| Ok(c.last_insert_rowid()))
    }

    pub fn changes(&self) -> Result<i64, Error> {
        self.with(|c| Ok(c.changes() as i64))
    }

    pub fn is_autocommit(&self) -> Result<bool, Error> {
        self.with(|c| Ok(c.is_autocommit()))
    }

    pub fn close(&self) {
        self.conn.lock().take();
        self.reader.lock().take();
    }

    pub fn prepare(self: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        Stmt::new(self, sql)
    }

    /// A remote server has no local lock to wait for.
    pub fn set_busy_timeout(&self, _ms: i64) -> Result<(), Error> {
        self.with(|_| Ok(()))
    }
}

/// A prepared statement on a remote connection: its SQL, run again on each
/// execution (the server caches the preparation), and the result being read.
pub struct Stmt {
    pub conn: Arc<Conn>,
    sql: Vec<u8>,
    state: Mutex<StmtState>,
}

struct StmtState {
    closed: bool,
    generation: u64,
    header_sent: bool,
    result: Option<(Fetched, usize)>,
}

impl Stmt {
    pub fn new(conn: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        conn.with(|_| Ok(()))?;
        Ok(Arc::new(Stmt {
            conn: conn.clone(),
            sql: sql.to_vec(),
            state: Mutex::new(StmtState { closed: false, generation: 0, header_sent: false, result: None }),
        }))
    }

    fn live(&self) -> Result<parking_lot::MutexGuard<'_, StmtState>, Error> {
        let s = self.state.lock();
        if s.closed {
            return Err(Error::closed("statement"));
        }
        Ok(s)
    }

    pub fn execute(&self, params: Vec<u8>) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        s.result = None;
        drop(s);
        self.conn.execute(&self.sql, &params)
    }

    /// All parameter sets, all or nothing. Outside a transaction: one
    /// request (see [hrana]); then a replica catches up, for
    /// read-your-writes. Inside one: a savepoint, one request per set.
    pub fn execute_many(&self, sets: Vec<u8>) -> Result<Out, Error> {
        drop(self.live()?);
        let mut r = Reader::new(&sets);
        let n = r.u32()? as usize;
        let in_tx = !self.conn.is_autocommit()?;
        let sql = std::str::from_utf8(&self.sql).map_err(|_| Error::new(Kind::Misuse, "SQL is not valid UTF-8"))?;
        let tag = |k: usize, mut e: Error| {
            e.message = format!("parameter set {k}: {}", e.message);
            e.with_sql(sql.as_bytes())
        };
        if !in_tx {
            let mut steps = Vec::with_capacity(n);
            for k in 0..n {
                let (args, named) = hrana_params(r.bytes()?).map_err(|e| tag(k, e))?;
                steps.push(hrana::Step { sql: sql.to_string(), args, named, want_rows: false });
            }
            let shared = &self.conn.shared;
            shared.stats.statements(n as u64);
            let results = runtime()
                .block_on(shared.hrana.batch(hrana::Begin::Immediate, steps))
                .map_err(|(k, e)| match k {
                    Some(k) => tag(k, e),
                    None => e.with_sql(sql.as_bytes()),
                })?;
            let total: u64 = results.iter().map(|r| r.affected_row_count).sum();
            let last = results.last().and_then(|r| r.last_insert_rowid).unwrap_or(0);
            shared.catch_up()?;
            let mut o = Out::ok();
            o.i64(total as i64);
            o.i64(last);
            return Ok(o);
        }
        let mut total = 0i64;
        let mut last = 0i64;
        self.conn.in_savepoint("turso_many", || {
            for k in 0..n {
                let set = r.bytes()?;
                let o = self.conn.execute(&self.sql, set).map_err(|e| tag(k, e))?;
                total += i64::from_le_bytes(o.buf[1..9].try_into().unwrap());
                last = i64::from_le_bytes(o.buf[9..17].try_into().unwrap());
                wire::give_buf(o.buf);
            }
            Ok(())
        })?;
        let mut o = Out::ok();
        o.i64(total);
        o.i64(last);
        Ok(o)
    }

    pub fn query(&self, params: Vec<u8>, max_rows: usize, want_header: bool) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        s.result = None;
        let generation = s.generation;
        drop(s);
        let res = self.conn.query(&self.sql, &params)?;
        let mut s = self.live()?;
        if s.generation != generation {
            return Err(Error::new(Kind::Misuse, "this result set was invalidated: its statement was executed again"));
        }
        let mut out = Out::ok();
        out.i64(generation as i64);
        if want_header || !s.header_sent {
            s.header_sent = true;
            out.u8(1);
            out.u32(res.names.len() as u32);
            for (n, d) in res.names.iter().zip(&res.decltypes) {
                out.bytes(n.as_bytes());
                out.bytes(d.as_deref().unwrap_or("").as_bytes());
            }
        } else {
            out.u8(0);
        }
        s.result = Some((res, 0));
        fill(&mut s, &mut out, max_rows);
        Ok(out)
    }

    pub fn fetch(&self, generation: u64, max_rows: usize) -> Result<Out, Error> {
        let mut s = self.live()?;
        if s.generation != generation {
            return Err(Error::new(Kind::Misuse, "this result set was invalidated: its statement was executed again"));
        }
        let mut out = Out::ok();
        fill(&mut s, &mut out, max_rows);
        Ok(out)
    }

    pub fn parameter_count(&self) -> Result<i64, Error> {
        drop(self.live()?);
        Err(Error::new(Kind::Misuse, "parameter_count is not available on a remote database"))
    }

    pub fn serial(&self) -> &Arc<Serial> {
        &self.conn.serial
    }

    pub fn reset(&self, generation: Option<u64>) -> Result<(), Error> {
        let mut s = self.live()?;
        if generation.is_none_or(|g| g == s.generation) {
            s.result = None;
            s.generation += 1;
        }
        Ok(())
    }

    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        s.result = None;
    }
}

/// A chunk from the buffered result (see `local::fill_chunk` for the
/// layout). `max_rows == 0`: the first row only.
fn fill(s: &mut StmtState, out: &mut Out, max_rows: usize) {
    let single = max_rows == 0;
    let limit = max_rows.max(1);
    let count_at = out.buf.len();
    out.u32(0);
    let mut n = 0u32;
    let mut done = true;
    if let Some((res, pos)) = s.result.as_mut() {
        while *pos < res.rows.len() && (n as usize) < limit {
            for v in &res.rows[*pos] {
                encode_value(v, out);
            }
            *pos += 1;
            n += 1;
        }
        done = single || *pos >= res.rows.len();
    }
    if done {
        s.result = None;
    }
    out.patch_u32(count_at, n);
    out.u8(done as u8);
}
