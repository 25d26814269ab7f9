//! Embedded replicas: a local file that libsql opens and keeps in step
//! with a primary (sqld or Turso) by syncing. A replica is read locally and
//! written remotely, so it composes the two other engines' parts, and this
//! is the one engine allowed to depend on them: outside a transaction a
//! read-only statement runs on a read-only `local` connection to the file
//! (exact values, no network), and every other statement goes to the
//! primary over a Hrana session ([hrana::session]), as on a remote
//! database. The session hears of both through [Hooks]; after writes are
//! committed, a replica with read-your-writes syncs so that the writer sees
//! them. Nothing depends on this module but `ffi`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::engine::hrana::session::{self, Hooks};
use crate::engine::hrana::{self, Fetched};
use crate::engine::local;
use crate::error::{code_in, plain_message, refine_code, Error, Kind};
use crate::executor::{runtime, Serial};
use crate::stats::{Mode, Stats};
use crate::wire::{Out, Reader};

/// A replica's connections and statements are the session's, with this
/// engine's [Hooks].
pub type Conn = session::Conn;
pub type Stmt = session::Stmt;

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

/// What a replica's database and its connections share: how to sync.
struct Shared {
    /// The bound on a whole sync (many requests when far behind).
    sync_timeout: Duration,
    /// libsql's database, which syncs the file: built at open, or, when the
    /// primary could not be reached then, by the first sync that reaches
    /// it. `None` also once closed (and `closed` is set).
    libsql: tokio::sync::Mutex<Option<Arc<libsql::Database>>>,
    /// Held for the length of a sync: see [Shared::sync].
    syncing: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    path: String,
    read_your_writes: bool,
    token: String,
    timeout: Duration,
    stats: Arc<Stats>,
    /// The primary's HTTP URL.
    url: String,
    /// The replica's file is encrypted with it (libsql's sync writes it
    /// encrypted; our reads open it keyed).
    encryption_key: Option<Vec<u8>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // in a fork's child, libsql's connection to the file is the
        // parent's: not closed (see crate::fork)
        if crate::fork::forked() {
            if let Some(db) = self.libsql.get_mut().take() {
                std::mem::forget(db);
            }
        }
    }
}

impl Shared {
    /// libsql's database, built now if it was not at open. Building asks
    /// the primary (a handshake), so it is bounded by the timeout.
    async fn database(&self) -> Result<Arc<libsql::Database>, Error> {
        let mut g = self.libsql.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::closed("database"));
        }
        if let Some(db) = g.as_ref() {
            return Ok(db.clone());
        }
        let mut b = libsql::Builder::new_remote_replica(self.path.clone(), self.url.clone(), self.token.clone())
            .read_your_writes(self.read_your_writes);
        if let Some(k) = &self.encryption_key {
            // libsql drops the encryption config when it picks its sync
            // protocol v2 (Turso's platform answering /info), and would
            // write the file in the clear: v1 keeps it.
            b = b
                .encryption_config(libsql::EncryptionConfig::new(libsql::Cipher::Aes256Cbc, bytes::Bytes::from(k.clone())))
                .sync_protocol(libsql::SyncProtocol::V1);
        }
        let db = match tokio::time::timeout(self.timeout, b.build()).await {
            Ok(r) => Arc::new(r.map_err(|e| convert(e, &self.token))?),
            Err(_) => {
                return Err(Error::new(
                    Kind::Timeout,
                    format!("open the replica: no answer from the primary within {:?}", self.timeout),
                ))
            }
        };
        *g = Some(db.clone());
        Ok(db)
    }

    /// One sync (building libsql's database first if need be), recorded in
    /// the stats. Syncs take turns (one waiting for another is not one
    /// making no progress), and none starts once the database is closed.
    async fn sync(&self) -> Result<(Option<u64>, u64), Error> {
        let _turn = self.syncing.lock().await;
        let started = std::time::SystemTime::now();
        let t0 = std::time::Instant::now();
        let r = match self.database().await {
            Ok(db) => sync_once(db, self).await,
            Err(e) => Err(e),
        };
        self.stats.sync_done(started, t0.elapsed(), r.as_ref().map(|x| *x).map_err(|e| e.message.as_str()));
        r
    }

    /// After a write on the primary, a replica with read-your-writes
    /// syncs, so that the writer sees it.
    fn catch_up(&self) -> Result<(), Error> {
        if !self.read_your_writes || self.closed.load(Ordering::SeqCst) {
            return Ok(());
        }
        runtime().block_on(self.sync()).map(|_| ())
    }
}

pub struct Db {
    /// The primary's client, for the statements that go there.
    client: Arc<hrana::Client>,
    shared: Arc<Shared>,
    pub serial: Arc<Serial>,
}

impl Db {
    /// A local file at `path` that reads locally and syncs from the primary
    /// at `url`. Options (wire bytes): i64 sync interval in ms (0: none),
    /// i64 timeout in ms, u8 read-your-writes, i64 sync timeout in ms, i64
    /// largest reply in bytes, bytes encryption key (empty: none).
    ///
    /// One request asks the primary first: a refused token is an `Auth`
    /// error at once (libsql's own handshake retries for seconds before it
    /// says anything), and a primary that cannot be reached is known
    /// within the timeout. Then, with a file already there, the replica
    /// opens anyway and serves what it has: its first sync is the next one
    /// (periodic, `Db.sync`, or after a write). Without a file there is
    /// nothing to serve, and the error is returned.
    pub fn open(path: &str, url: &str, token: &str, opts: &[u8]) -> Result<Db, Error> {
        let mut r = Reader::new(opts);
        let (sync_ms, timeout_ms, ryw, sync_timeout_ms) = (r.i64()?, r.i64()?, r.u8()? != 0, r.i64()?);
        let max_reply = r.i64()?;
        let key = r.bytes()?.to_vec();
        let encryption_key = (!key.is_empty()).then_some(key);
        let (url, url_token) = hrana::http_url(url)?;
        let token = if token.is_empty() { url_token.as_deref().unwrap_or("") } else { token };
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        let stats = Arc::new(Stats::new(Mode::Replica));
        let client = hrana::Client::new(&url, token, timeout, max_reply.max(1) as usize, stats.clone())?;
        let shared = Arc::new(Shared {
            sync_timeout: Duration::from_millis(sync_timeout_ms.max(1) as u64),
            libsql: tokio::sync::Mutex::new(None),
            syncing: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            path: path.to_string(),
            read_your_writes: ryw,
            token: token.to_string(),
            timeout,
            stats,
            url: url.clone(),
            encryption_key: encryption_key.clone(),
        });
        let existed = std::path::Path::new(path).exists();
        // a replica file already there: a wrong or missing key is said
        // now, before any sync (libsql would only say "not a database")
        if existed {
            local::Db::open(path, local::OPEN_READ_ONLY, encryption_key)?;
        }
        let offline_ok = |e: &Error| existed && matches!(e.kind, Kind::Network | Kind::Timeout);
        let started = std::time::SystemTime::now();
        let t0 = std::time::Instant::now();
        match runtime().block_on(client.probe()) {
            Ok(()) => {
                // A first sync: the replica starts in step.
                if let Err(e) = runtime().block_on(shared.sync()) {
                    if !offline_ok(&e) {
                        return Err(e);
                    }
                }
            }
            Err(e) if offline_ok(&e) => {
                shared.stats.sync_done(started, t0.elapsed(), Err(e.message.as_str()));
            }
            Err(e) => return Err(e),
        }
        if sync_ms > 0 {
            periodic_sync(Arc::downgrade(&shared), Duration::from_millis(sync_ms as u64));
        }
        Ok(Db { client, shared, serial: Serial::new() })
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.shared.closed.load(Ordering::SeqCst) {
            Err(Error::closed("database"))
        } else {
            Ok(())
        }
    }

    /// Pulls the primary's changes: replies the frame number now applied
    /// (-1: none yet) and the frames this sync applied.
    pub fn sync(&self) -> Result<Out, Error> {
        self.check_open()?;
        let (frame, frames) = runtime().block_on(self.shared.sync())?;
        let mut o = Out::ok();
        o.i64(frame.map(|f| f as i64).unwrap_or(-1));
        o.i64(frames as i64);
        Ok(o)
    }

    /// See [Stats::encode]; the frame is asked from libsql (none while the
    /// replica has not reached its primary since it was opened).
    pub fn stats(&self) -> Result<Out, Error> {
        self.check_open()?;
        let db = runtime().block_on(self.shared.libsql.lock()).clone();
        // bounded: libsql answers only between syncs (the stats then show
        // the last sync's frame)
        let frame = match db {
            Some(db) => runtime()
                .block_on(async { tokio::time::timeout(Duration::from_millis(100), db.replication_index()).await })
                .ok()
                .and_then(|r| r.ok())
                .flatten(),
            None => None,
        };
        Ok(self.shared.stats.encode(frame))
    }

    /// A session on the primary with this replica's [Reads]; the reader
    /// opens on the connection's first local read.
    pub fn connect(&self, _busy_timeout_ms: i64) -> Result<Arc<Conn>, Error> {
        self.check_open()?;
        let reads = Reads { path: self.shared.path.clone(), reader: Mutex::new(None), shared: self.shared.clone() };
        Ok(Conn::new(self.client.clone(), self.shared.stats.clone(), Some(Box::new(reads))))
    }

    /// Waits for a sync in flight (bounded by its timeouts), so that
    /// nothing writes the file once this returns.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        runtime().block_on(async {
            let _turn = self.shared.syncing.lock().await;
            self.shared.libsql.lock().await.take();
        });
    }
}

/// A connection's hooks: a read-only connection of our own to the
/// replica's file (reading it past libsql keeps TEXT exact: libsql's rows
/// cut it at a NUL byte and panic on invalid UTF-8), and the catch-up after
/// its writes.
struct Reads {
    path: String,
    reader: Mutex<Option<(Arc<local::Db>, Arc<local::Conn>)>>,
    shared: Arc<Shared>,
}

impl Hooks for Reads {
    /// A statement SQLite calls read-only, run on the file; transaction
    /// control is not one (the transaction is the primary's).
    fn read(&self, sql: &str, ps: &[u8]) -> Result<Option<Fetched>, Error> {
        if crate::sql::controls_transaction(sql.as_bytes()) {
            return Ok(None);
        }
        // the same value rules as on the primary (infinity)
        hrana::check_finite(ps)?;
        let mut g = self.reader.lock();
        if g.is_none() {
            let db = Arc::new(local::Db::open(&self.path, local::OPEN_READ_ONLY, self.shared.encryption_key.clone())?);
            let conn = db.connect(5000)?;
            *g = Some((db, conn));
        }
        let (_, reader) = g.as_ref().unwrap();
        Ok(reader
            .read_only_query(sql.as_bytes(), ps)?
            .map(|(names, decltypes, rows)| Fetched { names, decltypes, rows }))
    }

    fn committed(&self) -> Result<(), Error> {
        self.shared.catch_up()
    }

    fn close(&self) {
        self.reader.lock().take();
    }
}

/// One sync of libsql's database. It may run to the sync timeout while it
/// makes progress (the replica's frame index moves: a replica far behind
/// catches up in many requests), but one that makes none for the timeout
/// fails then: a primary that accepts connections and never answers must
/// not hold a caller for the whole sync timeout.
async fn sync_once(db: Arc<libsql::Database>, shared: &Shared) -> Result<(Option<u64>, u64), Error> {
    // Progress is what reaches the replica's files: frames are written to
    // its WAL (then checkpointed into the file). libsql's own frame index
    // cannot be asked meanwhile: its replicator lock is held for the whole
    // sync.
    let files = |path: &str| {
        let stamp = |p: String| std::fs::metadata(p).ok().map(|m| (m.len(), m.modified().ok()));
        (stamp(format!("{path}-wal")), stamp(path.to_string()))
    };
    let t0 = std::time::Instant::now();
    let mut last = files(&shared.path);
    let mut moved_at = t0;
    let check_every = (shared.timeout / 8).clamp(Duration::from_millis(10), Duration::from_millis(250));
    // its own task: polled by the runtime while this one looks at the index
    let syncing = db.clone();
    let mut task = runtime().spawn(async move { syncing.sync().await });
    let r = loop {
        match tokio::time::timeout(check_every, &mut task).await {
            Ok(Ok(r)) => break r,
            Ok(Err(_)) => return Err(Error::new(Kind::Internal, "sync: the task failed (a panic in libsql)")),
            Err(_) => {
                let now = files(&shared.path);
                if now != last {
                    last = now;
                    moved_at = std::time::Instant::now();
                } else if moved_at.elapsed() >= shared.timeout {
                    task.abort();
                    return Err(Error::new(
                        Kind::Timeout,
                        format!("sync: no progress from the primary within {:?} (the timeout)", shared.timeout),
                    ));
                }
                if t0.elapsed() >= shared.sync_timeout {
                    task.abort();
                    return Err(Error::new(
                        Kind::Timeout,
                        format!("sync: not done within {:?} (the sync timeout)", shared.sync_timeout),
                    ));
                }
            }
        }
    };
    match r {
        Ok(r) => Ok((r.frame_no(), r.frames_synced() as u64)),
        Err(e) => {
            let mut e = convert(e, &shared.token);
            if e.kind == Kind::Sql {
                e.kind = Kind::Sync;
            }
            if e.message.contains("handshake") {
                e = why_no_handshake(shared, e).await;
            }
            Err(e)
        }
    }
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

/// Syncs every `every` until the database is closed. Failures are kept in
/// the stats; the next tick tries again (and builds libsql's database if
/// the primary was down at open).
fn periodic_sync(shared: Weak<Shared>, every: Duration) {
    runtime().spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(shared) = shared.upgrade() else { break };
            if shared.closed.load(Ordering::SeqCst) {
                break;
            }
            let _ = shared.sync().await;
        }
    });
}
