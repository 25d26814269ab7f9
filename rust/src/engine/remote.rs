//! Remote databases and embedded replicas (sqld / Turso over HTTP, the
//! Hrana protocol), on the process's tokio runtime. Statements go through
//! our Hrana client ([hrana]); the libsql crate opens and syncs replicas.
//! Replies use the same wire format as local databases, so the OCaml side
//! does not know the mode.
//!
//! Every network call is bounded by the database's timeout. The auth token
//! never enters an error: messages are scrubbed of it before they leave.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{code_in, plain_message, refine_code, Error, Kind};
use crate::engine::hrana;
use libsql_hrana::proto;
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
    /// `None` once closed; inside, a replica's libsql database (which
    /// syncs it), or `None` for a remote database (all of whose statements
    /// go through [hrana]).
    db: Mutex<Option<Option<Arc<libsql::Database>>>>,
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
        Ok(Db { db: Mutex::new(Some(None)), shared, serial: Serial::new() })
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
        Ok(Db { db: Mutex::new(Some(Some(db))), shared, serial: Serial::new() })
    }

    /// The replica's libsql database (`None`: remote); an error once closed.
    fn live(&self) -> Result<Option<Arc<libsql::Database>>, Error> {
        self.db.lock().clone().ok_or_else(|| Error::closed("database"))
    }

    /// Pulls the primary's changes into a replica: replies the frame number
    /// now applied (-1: none yet) and the frames this sync applied.
    pub fn sync(&self) -> Result<Out, Error> {
        let Some(db) = self.live()? else {
            return Err(Error::new(Kind::Misuse, "sync is for embedded replicas; this database is remote"));
        };
        let (frame, frames) = runtime().block_on(sync_once(&db, &self.shared))?;
        let mut o = Out::ok();
        o.i64(frame.map(|f| f as i64).unwrap_or(-1));
        o.i64(frames as i64);
        Ok(o)
    }

    /// See [Stats::encode]; a replica's frame is asked from libsql.
    pub fn stats(&self) -> Result<Out, Error> {
        let frame = match self.live()? {
            Some(db) => runtime().block_on(db.replication_index()).ok().flatten(),
            None => None,
        };
        Ok(self.shared.stats.encode(frame))
    }

    pub fn connect(&self, _busy_timeout_ms: i64) -> Result<Arc<Conn>, Error> {
        drop(self.live()?);
        Ok(Arc::new(Conn {
            session: Mutex::new(Session {
                closed: false,
                stream: hrana::Stream::default(),
                autocommit: true,
                changes: 0,
                last_insert_rowid: 0,
            }),
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
    /// After a write on the primary, a replica with read-your-writes
    /// syncs, so that the writer sees it.
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

/// A connection to a remote database or replica. Its statements run on a
/// server stream of its own, through our Hrana client ([hrana]): one
/// request per call (libsql's `query` costs two), declared column types
/// in every result, batches with parameters in one request, and
/// transactions that span requests. On a replica outside a transaction, a
/// read-only statement runs on the replica's file instead, and after a
/// statement on the primary that leaves the connection in autocommit mode,
/// a replica with read-your-writes syncs.
pub struct Conn {
    session: Mutex<Session>,
    /// On a replica: a read-only connection of our own to its file.
    reader: Mutex<Option<(Arc<crate::engine::local::Db>, Arc<crate::engine::local::Conn>)>>,
    shared: Arc<Shared>,
    pub serial: Arc<Serial>,
}

/// A connection's server stream, and what SQLite says of the connection
/// as of the last reply.
struct Session {
    closed: bool,
    /// The server stream (none open: the next request opens one).
    stream: hrana::Stream,
    autocommit: bool,
    changes: i64,
    last_insert_rowid: i64,
}

const NO_INFINITY: &str = "infinity cannot be sent to a remote database or replica (its protocol, JSON, has no infinity)";

fn to_value(p: Param, what: &dyn Fn() -> String) -> Result<proto::Value, Error> {
    Ok(match p {
        Param::Null => proto::Value::Null,
        Param::Integer(i) => proto::Value::Integer { value: i },
        Param::Real(f) => {
            if f.is_nan() {
                return Err(Error::new(Kind::Misuse, format!("{}: NaN cannot be stored", what())));
            }
            if f.is_infinite() {
                return Err(Error::new(Kind::Misuse, format!("{}: {NO_INFINITY}", what())));
            }
            proto::Value::Float { value: f }
        }
        Param::Text(t) => proto::Value::Text {
            value: std::str::from_utf8(t)
                .map_err(|_| Error::new(Kind::Misuse, format!("{}: Text is not valid UTF-8 (use Blob for binary data)", what())))?
                .into(),
        },
        Param::Blob(b) => proto::Value::Blob { value: bytes::Bytes::copy_from_slice(b) },
    })
}

/// A statement for the server, with its parameters (wire bytes) as the
/// protocol's values. Named ones go under their names in the SQL, and
/// `?NNN` given by name become named (see [crate::sql]).
fn step(sql: &str, ps: &[u8], want_rows: bool) -> Result<hrana::Step, Error> {
    let mut st = hrana::Step { sql: String::new(), args: Vec::new(), named: Vec::new(), want_rows };
    if ps.is_empty() {
        st.sql = sql.to_string();
        return Ok(st);
    }
    let mut r = Reader::new(ps);
    let kind = r.u8()?;
    let n = r.u32()? as usize;
    if kind == wire::PARAMS_NAMED {
        let mut named = Vec::with_capacity(n);
        for _ in 0..n {
            let name = String::from_utf8_lossy(r.bytes()?).into_owned();
            let value = to_value(r.value()?, &|| format!("parameter {name:?}"))?;
            named.push((name, value));
        }
        let (sql, named) = crate::sql::bind_names(sql, named)?;
        st.sql = sql.into_owned();
        st.named = named;
    } else {
        st.sql = sql.to_string();
        st.args.reserve(n);
        for i in 1..=n {
            st.args.push(to_value(r.value()?, &|| format!("parameter {i}"))?);
        }
    }
    Ok(st)
}

/// Refuses an infinite `Real` parameter, as [step] does, without
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
                return Err(Error::new(Kind::Misuse, format!("parameter {i}: {NO_INFINITY}")));
            }
        }
    }
    Ok(())
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

fn stmt_result(r: proto::StreamResult) -> Result<proto::StmtResult, proto::Error> {
    match r {
        proto::StreamResult::Ok { response: proto::StreamResponse::Execute(r) } => Ok(r.result),
        proto::StreamResult::Error { error } => Err(error),
        _ => Err(proto::Error { message: "unexpected reply from the server to a statement".into(), code: String::new() }),
    }
}

fn execute_req(s: hrana::Step) -> proto::StreamRequest {
    proto::StreamRequest::Execute(proto::ExecuteStreamReq { stmt: s.into_stmt() })
}

/// A statement without parameters, its rows wanted.
fn plain_step(sql: &str) -> hrana::Step {
    hrana::Step { sql: sql.to_string(), args: Vec::new(), named: Vec::new(), want_rows: true }
}

/// Asks for what SQLite's `changes()` and `last_insert_rowid()` say after
/// a script (the server reports them per statement, and only for some).
const CHANGES_SQL: &str = "SELECT changes(), last_insert_rowid()";

/// What a statement's result says of SQLite's `changes()` and
/// `last_insert_rowid()`: the server reports them for INSERT, UPDATE and
/// DELETE only (0 and none otherwise), and SQLite keeps them until the
/// next such statement.
fn note(s: &mut Session, sql: &str, r: &proto::StmtResult) {
    if let Some(id) = r.last_insert_rowid {
        s.last_insert_rowid = id;
    }
    let first = crate::sql::leading_words(sql.as_bytes(), 1);
    if r.affected_row_count > 0 || matches!(first.first().map(String::as_str), Some("INSERT" | "UPDATE" | "DELETE" | "REPLACE")) {
        s.changes = r.affected_row_count as i64;
    }
}

impl Conn {
    fn live(&self) -> Result<parking_lot::MutexGuard<'_, Session>, Error> {
        let s = self.session.lock();
        if s.closed {
            return Err(Error::closed("connection"));
        }
        Ok(s)
    }

    fn is_replica(&self) -> bool {
        self.shared.replica_path.is_some()
    }

    /// Sends `requests` in one HTTP request on this connection's stream,
    /// with a question for the autocommit state after them, and keeps the
    /// answer. A stream the server has dropped (sqld expires one idle for
    /// about 10 s, and forgets all when it restarts) is replaced: outside a
    /// transaction transparently (nothing ran), inside one with an error
    /// that says the transaction is gone.
    fn send(&self, s: &mut Session, mut requests: Vec<proto::StreamRequest>) -> Result<Vec<proto::StreamResult>, Error> {
        requests.push(proto::StreamRequest::GetAutocommit(proto::GetAutocommitStreamReq {}));
        let had_stream = s.stream.is_open();
        let hrana = &self.shared.hrana;
        let mut r = runtime().block_on(hrana.pipeline_on(&mut s.stream, &requests));
        let gone = match &r {
            Err(e) if had_stream && hrana::stream_gone(e) => Some(e.message.clone()),
            _ => None,
        };
        if let Some(said) = gone {
            s.stream = hrana::Stream::default();
            if !s.autocommit {
                s.autocommit = true;
                return Err(Error::new(
                    Kind::TransactionClosed,
                    format!(
                        "the server ended this connection's transaction: it was idle too long (sqld expires an \
                         idle stream after about 10 s) or the server restarted; it was rolled back, and the \
                         connection is usable again (the server said: {said})"
                    ),
                ));
            }
            r = runtime().block_on(hrana.pipeline_on(&mut s.stream, &requests));
        }
        let mut results = r?;
        if let Some(proto::StreamResult::Ok { response: proto::StreamResponse::GetAutocommit(a) }) = results.pop() {
            s.autocommit = a.is_autocommit;
        }
        Ok(results)
    }

    /// The server reports a constraint's primary code only, and SQLite
    /// words a PRIMARY KEY violation as "UNIQUE constraint failed: t.c":
    /// the extended code is inferred from the message (UNIQUE), then the
    /// schema tells whether those columns are the table's primary key.
    /// One more request, on the same stream, only on this error.
    fn refine_unique(&self, s: &mut Session, mut e: Error) -> Error {
        const UNIQUE: i32 = 2067;
        const PRIMARYKEY: i32 = 1555;
        if e.code != Some(UNIQUE) {
            return e;
        }
        let Some(list) = e.message.split("UNIQUE constraint failed: ").nth(1) else { return e };
        let cols: Vec<(&str, &str)> = list.trim_end().split(", ").filter_map(|c| c.split_once('.')).collect();
        let Some((table, _)) = cols.first() else { return e };
        let names = cols.iter().map(|(_, c)| *c).collect::<Vec<_>>().join(",");
        let probe = "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) AS l WHERE l.origin = 'pk' AND \
                     (SELECT group_concat(name) FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno)) = ?2) \
                     OR ((SELECT count(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1 AND EXISTS \
                     (SELECT 1 FROM pragma_table_info(?1) WHERE pk = 1 AND name = ?2 AND upper(type) = 'INTEGER'))";
        let text = |t: &str| proto::Value::Text { value: t.to_string().into() };
        let req = execute_req(hrana::Step {
            sql: probe.to_string(),
            args: vec![text(table), text(&names)],
            named: Vec::new(),
            want_rows: true,
        });
        if let Ok(mut r) = self.send(s, vec![req]) {
            if let Some(Ok(res)) = r.pop().map(stmt_result) {
                let is_pk = res.rows.first().and_then(|row| row.values.first()).is_some_and(|v| matches!(v, proto::Value::Integer { value: 1 }));
                if is_pk {
                    e.code = Some(PRIMARYKEY);
                }
            }
        }
        e
    }

    /// A statement's error, as an [Error] (refined; with its SQL).
    fn statement_error(&self, s: &mut Session, e: proto::Error, sql: &str) -> Error {
        let e = self.shared.hrana.server_error(e);
        self.refine_unique(s, e).with_sql(sql.as_bytes())
    }

    /// After a statement on the primary: a replica with read-your-writes
    /// catches up once the connection is back in autocommit mode (its
    /// writes are committed).
    fn after_write(&self, s: &Session) -> Result<(), Error> {
        if self.is_replica() && s.autocommit {
            self.shared.catch_up()?;
        }
        Ok(())
    }

    /// On a replica outside a transaction, a read-only statement, run on
    /// the replica's file; `None` for any other.
    fn local_read(&self, s: &Session, sql: &str, ps: &[u8]) -> Result<Option<Fetched>, Error> {
        let Some(path) = &self.shared.replica_path else { return Ok(None) };
        if !s.autocommit || crate::sql::controls_transaction(sql.as_bytes()) {
            return Ok(None);
        }
        // the same value rules as on the primary (infinity)
        check_finite(ps)?;
        let mut g = self.reader.lock();
        if g.is_none() {
            let db = Arc::new(crate::engine::local::Db::open(path, 2)?);
            let conn = db.connect(5000)?;
            *g = Some((db, conn));
        }
        let (_, reader) = g.as_ref().unwrap();
        Ok(reader
            .read_only_query(sql.as_bytes(), ps)?
            .map(|(names, decltypes, rows)| Fetched { names, decltypes, rows }))
    }

    /// One statement and its whole result, rows changed and inserted rowid.
    fn statement(&self, sql: &[u8], ps: &[u8]) -> Result<(Fetched, i64, Option<i64>), Error> {
        let sql = sql_text(sql)?;
        let mut s = self.live()?;
        self.shared.stats.statements(1);
        if let Some(f) = self.local_read(&s, sql, ps)? {
            return Ok((f, 0, None));
        }
        let req = execute_req(step(sql, ps, true).map_err(|e| e.with_sql(sql.as_bytes()))?);
        let reply = self.send(&mut s, vec![req]).map_err(|e| e.with_sql(sql.as_bytes()))?;
        let r = match reply.into_iter().next().map(stmt_result) {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(self.statement_error(&mut s, e, sql)),
            None => return Err(Error::new(Kind::Network, "no reply from the server to a statement")),
        };
        note(&mut s, sql, &r);
        self.after_write(&s)?;
        Ok(fetched_of_hrana(r))
    }

    pub fn execute(&self, sql: &[u8], ps: &[u8]) -> Result<Out, Error> {
        let (_, changes, _) = self.statement(sql, ps)?;
        let mut o = Out::ok();
        o.i64(changes);
        o.i64(self.live()?.last_insert_rowid);
        Ok(o)
    }

    pub fn query(&self, sql: &[u8], ps: &[u8]) -> Result<Fetched, Error> {
        self.statement(sql, ps).map(|(f, _, _)| f)
    }

    /// One statement and its whole result (see `local::Conn::run`).
    pub fn run(&self, sql: &[u8], params: &[u8]) -> Result<Out, Error> {
        let (f, changes, rowid) = self.statement(sql, params)?;
        let mut out = Out::ok();
        encode_result(&mut out, &f, changes, rowid);
        Ok(out)
    }

    /// Statements with their parameters, all or nothing, in one request:
    /// in a transaction of their own (`begin`), or in a savepoint of the
    /// open one. `tag` names a failing statement.
    fn batch_steps(
        &self,
        begin: hrana::Begin,
        steps: Vec<hrana::Step>,
        tag: &dyn Fn(usize, Error) -> Error,
    ) -> Result<Vec<proto::StmtResult>, Error> {
        let mut s = self.live()?;
        let wrap = if s.autocommit { hrana::Wrap::Begin(begin) } else { hrana::Wrap::Savepoint };
        let sqls: Vec<String> = steps.iter().map(|st| st.sql.clone()).collect();
        self.shared.stats.statements(steps.len() as u64);
        let reply = self.send(&mut s, vec![hrana::Client::batch_request(wrap, steps)])?;
        let reply = reply.into_iter().next().ok_or_else(|| Error::new(Kind::Network, "no reply to a batch"))?;
        let refs: Vec<&str> = sqls.iter().map(String::as_str).collect();
        let outcome = runtime().block_on(self.shared.hrana.batch_outcome(reply, &refs));
        let results = match outcome {
            Ok(r) => r,
            Err((k, e)) => {
                let e = self.refine_unique(&mut s, e);
                return Err(match k {
                    Some(k) => tag(k, e),
                    None => e,
                });
            }
        };
        for (r, sql) in results.iter().zip(&sqls) {
            note(&mut s, sql, r);
        }
        self.after_write(&s)?;
        Ok(results)
    }

    /// A batch of statements with parameters (see `local::Conn::batch_list`):
    /// one request. A read batch on a replica outside a transaction runs
    /// on the replica's file.
    pub fn batch_list(&self, req: &[u8]) -> Result<Out, Error> {
        let (mode, stmts) = wire::batch_request(req)?;
        let tag = |i: usize, mut e: Error| {
            e.message = format!("statement {i}: {}", e.message);
            e.with_sql(stmts[i].0)
        };
        for (i, (sql, _)) in stmts.iter().enumerate() {
            if crate::sql::ends_transaction(sql) {
                return Err(tag(i, Error::new(
                    Kind::Misuse,
                    "a batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK",
                )));
            }
        }
        let mut out = Out::ok();
        out.u32(stmts.len() as u32);
        if mode == 2 && self.is_replica() && self.live()?.autocommit {
            for (i, (sql, params)) in stmts.iter().enumerate() {
                let (f, changes, rowid) = self.statement(sql, params).map_err(|e| tag(i, e))?;
                encode_result(&mut out, &f, changes, rowid);
            }
            return Ok(out);
        }
        let mut steps = Vec::with_capacity(stmts.len());
        for (i, (sql, params)) in stmts.iter().enumerate() {
            let text = sql_text(sql).map_err(|e| tag(i, e))?;
            steps.push(step(text, params, true).map_err(|e| tag(i, e))?);
        }
        let begin = if mode == 1 { hrana::Begin::Immediate } else { hrana::Begin::Deferred };
        for r in self.batch_steps(begin, steps, &tag)? {
            let (f, changes, rowid) = fetched_of_hrana(r);
            encode_result(&mut out, &f, changes, rowid);
        }
        Ok(out)
    }

    /// A script (`atomic`: all or nothing), split into its statements (see
    /// [crate::sql::split]) and sent in one request, as on a local
    /// file: it stops at the first error, whose message names the
    /// statement. An atomic script runs in a transaction of its own (a
    /// savepoint inside an open one) and cannot contain BEGIN, COMMIT or
    /// ROLLBACK; a plain script that opened a transaction and failed has
    /// it rolled back, in the same request.
    pub fn batch(&self, sql: &[u8], atomic: bool) -> Result<Out, Error> {
        let text = sql_text(sql)?;
        let pieces = crate::sql::split(text);
        let tag = |i: usize, mut e: Error| {
            e.message = format!("statement {i}: {}", e.message);
            e.with_sql(pieces[i].as_bytes())
        };
        if atomic {
            if let Some(i) = pieces.iter().position(|p| crate::sql::ends_transaction(p.as_bytes())) {
                return Err(tag(i, Error::new(
                    Kind::Misuse,
                    "an atomic batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK; use a script",
                )));
            }
            if !pieces.is_empty() {
                let steps = pieces.iter().map(|p| hrana::Step { want_rows: false, ..plain_step(p) }).collect();
                self.batch_steps(hrana::Begin::Deferred, steps, &tag)?;
            }
        } else if !pieces.is_empty() {
            self.script(&pieces, &tag)?;
        }
        let s = self.live()?;
        let mut o = Out::ok();
        o.i64(s.changes);
        o.i64(s.last_insert_rowid);
        Ok(o)
    }

    /// The statements of a script, each only if the one before succeeded,
    /// then SQLite's `changes()` and `last_insert_rowid()`: one request.
    fn script(&self, pieces: &[&str], tag: &dyn Fn(usize, Error) -> Error) -> Result<(), Error> {
        use proto::BatchCond as C;
        let n = pieces.len();
        let mut s = self.live()?;
        let was_autocommit = s.autocommit;
        let mut steps: Vec<(Option<C>, String)> = Vec::with_capacity(n + 1);
        for (i, p) in pieces.iter().enumerate() {
            steps.push(((i > 0).then(|| C::Ok { step: i as u32 - 1 }), p.to_string()));
        }
        if was_autocommit {
            // it opened a transaction and failed: roll that back
            let failed = C::Not { cond: Box::new(C::Ok { step: n as u32 - 1 }) };
            let open = C::Not { cond: Box::new(C::IsAutocommit {}) };
            steps.push((Some(C::And(proto::BatchCondList { conds: vec![failed, open] })), "ROLLBACK".into()));
        }
        self.shared.stats.statements(n as u64);
        let requests = vec![hrana::Client::batch_request_of(steps), execute_req(plain_step(CHANGES_SQL))];
        let mut reply = self.send(&mut s, requests)?.into_iter();
        let batch = reply.next();
        if let Some(Ok(r)) = reply.next().map(stmt_result) {
            if let Some([proto::Value::Integer { value: c }, proto::Value::Integer { value: id }]) =
                r.rows.first().map(|row| &row.values[..])
            {
                s.changes = *c;
                s.last_insert_rowid = *id;
            }
        }
        let failure = match batch {
            Some(proto::StreamResult::Ok { response: proto::StreamResponse::Batch(b) }) => {
                b.result.step_errors.into_iter().take(n).enumerate().find_map(|(i, e)| e.map(|e| (Some(i), e)))
            }
            Some(proto::StreamResult::Error { error }) => Some((None, error)),
            _ => return Err(Error::new(Kind::Network, "unexpected reply from the server to a script")),
        };
        let Some((index, error)) = failure else {
            self.after_write(&s)?;
            return Ok(());
        };
        let e = self.shared.hrana.server_error(error.clone());
        let e = self.refine_unique(&mut s, e);
        if index.is_none() && error.code == "SQL_PARSE_ERROR" {
            // sqld parses the whole request first: nothing ran. As on a
            // local file, the statements before the unparsable one run.
            let k = runtime().block_on(self.shared.hrana.first_unparsable(pieces));
            drop(s);
            if let Some(k) = k {
                if k > 0 {
                    self.script(&pieces[..k], tag)?;
                }
                return Err(tag(k, e));
            }
            return Err(e);
        }
        let _ = self.after_write(&s);
        Err(match index {
            Some(i) => tag(i, e),
            None => e,
        })
    }

    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        Ok(self.live()?.last_insert_rowid)
    }

    pub fn changes(&self) -> Result<i64, Error> {
        Ok(self.live()?.changes)
    }

    pub fn is_autocommit(&self) -> Result<bool, Error> {
        Ok(self.live()?.autocommit)
    }

    /// Closes the connection; its server stream is closed in the
    /// background (which rolls back a transaction left open), so closing
    /// never waits for a server that does not answer.
    pub fn close(&self) {
        let mut s = self.session.lock();
        s.closed = true;
        let mut stream = std::mem::take(&mut s.stream);
        if stream.is_open() {
            let hrana = self.shared.hrana.clone();
            runtime().spawn(async move {
                let _ = hrana.pipeline_on(&mut stream, &[proto::StreamRequest::Close(proto::CloseStreamReq {})]).await;
            });
        }
        self.reader.lock().take();
    }

    pub fn prepare(self: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        Stmt::new(self, sql)
    }

    /// A remote server has no local lock to wait for.
    pub fn set_busy_timeout(&self, _ms: i64) -> Result<(), Error> {
        self.live().map(drop)
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
        drop(conn.live()?);
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

    /// All parameter sets, all or nothing, in one request (see
    /// [Conn::batch_list]).
    pub fn execute_many(&self, sets: Vec<u8>) -> Result<Out, Error> {
        drop(self.live()?);
        let mut r = Reader::new(&sets);
        let n = r.u32()? as usize;
        let sql = sql_text(&self.sql)?;
        let tag = |k: usize, mut e: Error| {
            e.message = format!("parameter set {k}: {}", e.message);
            e.with_sql(sql.as_bytes())
        };
        let mut steps = Vec::with_capacity(n);
        for k in 0..n {
            steps.push(step(sql, r.bytes()?, false).map_err(|e| tag(k, e))?);
        }
        let results = self.conn.batch_steps(hrana::Begin::Immediate, steps, &tag).map_err(|e| e.with_sql(sql.as_bytes()))?;
        let total: u64 = results.iter().map(|r| r.affected_row_count).sum();
        let mut o = Out::ok();
        o.i64(total as i64);
        o.i64(self.conn.last_insert_rowid()?);
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

    /// Counted in the SQL as SQLite counts (see [crate::sql]).
    pub fn parameter_count(&self) -> Result<i64, Error> {
        drop(self.live()?);
        Ok(crate::sql::parameter_count(sql_text(&self.sql)?) as i64)
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
