//! Synced databases: a local file on the Turso engine (the Rust rewrite of
//! SQLite, crate `turso`) kept in step with a remote database by the
//! engine's own sync (Turso Sync). Every write lands in the local file;
//! [Db::push] sends the local changes (logical, row by row), [Db::pull]
//! brings the remote ones and replays the unpushed local ones on top; the
//! last push wins a conflict. Offline is normal: reads and writes keep
//! working, and push and pull fail with a transient error within the
//! timeout and lose nothing.
//!
//! The engine's sync has no timeout of its own and runs its HTTP on a
//! thread of its own; every network operation here is bounded by the
//! database's timeout, and operations take turns (the engine holds a lock
//! across its network waits: a second one would block a worker thread for
//! the whole of the first). Connections and statements reply in the
//! `wire` format, as every engine's.
//!
//! The engine's traps, kept away: while a pull applies changes (and
//! during a checkpoint) the engine fails every statement at once with
//! `Busy`, so statements run under the read side of a gate whose write
//! side the apply and the checkpoint take (they wait for the statements
//! running, which wait for them; the pull's network wait is outside it);
//! a result set left open, or a transaction, keeps an old snapshot, so
//! after a pull its connection would go on reading the old version (and
//! its next write fail): the apply is refused (`Busy`, transient) while
//! any result set of the database is open or any of its connections is in
//! a transaction, and the engine's own `BusySnapshot` is `Busy` with a
//! message that says to close result sets and retry.
//!
//! In the background (`background`), when asked: push and pull at
//! intervals, and push after every commit.

pub mod background;
pub mod stmt;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use background::Background;

use crate::error::{Error, Kind};
use crate::executor::{runtime, Serial};
use crate::stats::{Mode, Stats};
use crate::wire::{self, Out, Param, Reader};

pub use stmt::Stmt;

/// What the engine says of a turso error, in this library's kinds.
pub fn error(e: turso::Error) -> Error {
    use turso::Error as E;
    let (kind, message) = match e {
        E::Busy(m) => (Kind::Busy, m),
        E::BusySnapshot(m) => (
            Kind::Busy,
            format!(
                "{m}: this connection read an older version of the database (a result set left open \
                 keeps one; a pull has changed the file since): close or reset open result sets, roll \
                 back, and retry"
            ),
        ),
        E::Constraint(m) => (Kind::Constraint, m),
        E::Misuse(m) => (Kind::Misuse, m),
        E::Readonly(m) => (Kind::Sql, format!("read-only: {m}")),
        E::DatabaseFull(m) => (Kind::Sql, format!("database full: {m}")),
        E::NotAdb(m) => (Kind::Config, format!("not a database: {m}")),
        E::Corrupt(m) => (Kind::Sql, format!("database corrupt: {m}")),
        E::Interrupt(m) => (Kind::Sql, format!("interrupted: {m}")),
        E::ConversionFailure(m) => (Kind::Decode, m),
        E::Error(m) => classify(m),
        other => (Kind::Sql, other.to_string()),
    };
    // SQLite's codes, as the other engines give them (the engine reports
    // a constraint's kind in its message only)
    let code = match kind {
        Kind::Constraint if message.contains("PRIMARY KEY") => Some(1555),
        Kind::Constraint => Some(crate::error::refine_code(19, &message)),
        Kind::Busy => Some(5),
        Kind::Misuse => Some(21),
        Kind::Sql => Some(1),
        _ => None,
    };
    Error { kind, code, message, sql: None }
}

/// The engine reports network, auth and "not supported" failures as plain
/// text: the kind comes from its words.
fn classify(m: String) -> (Kind, String) {
    let status = m.split("status=").nth(1).and_then(|r| r.get(..3)).and_then(|d| d.parse::<u16>().ok());
    if m.contains("Locking error") || m.contains("locked by another process") {
        return (
            Kind::Busy,
            format!("{m} (a synced database's file is used by one process at a time; close it there first)"),
        );
    }
    if m.contains("sync engine") {
        if m.contains("Database is busy") {
            // the engine's sync met a lock (statements kept running): try again
            return (Kind::Busy, m);
        }
        return match status {
            Some(401 | 403) => (Kind::Auth, m),
            Some(408 | 429 | 500..=599) => (Kind::Network, m),
            Some(_) => (Kind::Sync, m),
            None if m.contains("http request failed") || m.contains("error reading response body") => {
                (Kind::Network, m)
            }
            None => (Kind::Sync, m),
        };
    }
    if m.contains("not supported") || m.contains("experimental feature") {
        return (Kind::Sql, format!("not supported by the Turso engine (synced mode): {m}"));
    }
    (Kind::Sql, m)
}

/// A synced database's options (wire bytes, in order): i64 timeout in ms,
/// i64 long-poll timeout in ms (0: none), u8 bootstrap when empty, bytes
/// client name (empty: the engine's), i64 push interval and i64 pull
/// interval in ms (0: none), u8 push after every commit.
struct Options {
    timeout: Duration,
    long_poll: Option<Duration>,
    bootstrap: bool,
    client_name: String,
    push_every: Option<Duration>,
    pull_every: Option<Duration>,
    auto_push: bool,
}

fn options(opts: &[u8]) -> Result<Options, Error> {
    let mut r = Reader::new(opts);
    let ms = |n: i64| (n > 0).then(|| Duration::from_millis(n as u64));
    let timeout = Duration::from_millis(r.i64()?.max(1) as u64);
    let long_poll = ms(r.i64()?);
    let bootstrap = r.u8()? != 0;
    let client_name = String::from_utf8_lossy(r.bytes()?).into_owned();
    let push_every = ms(r.i64()?);
    let pull_every = ms(r.i64()?);
    let auto_push = r.u8()? != 0;
    Ok(Options { timeout, long_poll, bootstrap, client_name, push_every, pull_every, auto_push })
}

/// The token, kept out of every message.
fn scrub(token: &str, mut e: Error) -> Error {
    if token.len() >= 4 {
        e.message = e.message.replace(token, "<redacted>");
    }
    e
}

pub struct Db {
    /// The engine's database, until closed: the engine locks the file for
    /// one process, so closing lets it go (with the connections' handles).
    db: Mutex<Option<turso::sync::Database>>,
    token: String,
    timeout: Duration,
    stats: Arc<Stats>,
    /// Push, pull, checkpoint and connect take turns (see the module).
    turn: tokio::sync::Mutex<()>,
    /// Result sets of its connections being read (see the module).
    open_results: Arc<AtomicUsize>,
    /// Statements hold its read side, an apply or a checkpoint its write
    /// side (see the module).
    gate: Arc<RwLock<()>>,
    /// Its connections, to see whether any is in a transaction.
    conns: Mutex<Vec<Weak<Conn>>>,
    /// Pushes and pulls on their own, when asked for.
    background: Option<Arc<Background>>,
    pub serial: Arc<Serial>,
}

impl Db {
    /// Opens (and, when the file is new and `bootstrap` is on, first
    /// downloads) the synced database at `path`. A database that was
    /// synced before opens without the server.
    pub fn open(path: &str, url: &str, token: &str, opts: &[u8]) -> Result<Arc<Db>, Error> {
        let o = options(opts)?;
        if url.is_empty() {
            return Err(Error::new(Kind::Config, "a synced database needs the remote database's URL"));
        }
        let mut b = turso::sync::Builder::new_remote(path).with_remote_url(url).bootstrap_if_empty(o.bootstrap);
        if !token.is_empty() {
            b = b.with_auth_token(token);
        }
        if !o.client_name.is_empty() {
            b = b.with_client_name(o.client_name.clone());
        }
        if let Some(d) = o.long_poll {
            b = b.with_long_poll_timeout(d);
        }
        let db = match runtime().block_on(async { tokio::time::timeout(o.timeout, b.build()).await }) {
            Ok(r) => r.map_err(|e| scrub(token, error(e)))?,
            Err(_) => {
                return Err(Error::new(
                    Kind::Timeout,
                    format!("opening the synced database: no answer from the server within {:?}", o.timeout),
                ))
            }
        };
        let background = (o.push_every.is_some() || o.pull_every.is_some() || o.auto_push)
            .then(|| Background::new(o.push_every, o.pull_every, o.auto_push));
        let db = Arc::new(Db {
            db: Mutex::new(Some(db)),
            token: token.to_string(),
            timeout: o.timeout,
            stats: Arc::new(Stats::new(Mode::Synced)),
            turn: tokio::sync::Mutex::new(()),
            open_results: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(RwLock::new(())),
            conns: Mutex::new(Vec::new()),
            background,
            serial: Serial::new(),
        });
        if let Some(bg) = &db.background {
            bg.start(Arc::downgrade(&db));
        }
        Ok(db)
    }

    fn live(&self) -> Result<(), Error> {
        self.handle().map(drop)
    }

    /// The engine's database (a handle on it), while open.
    fn handle(&self) -> Result<turso::sync::Database, Error> {
        self.db.lock().clone().ok_or_else(|| Error::closed("database"))
    }

    /// Runs a sync operation (`f`, given the engine's database) in its
    /// turn; its outcome is recorded in the stats.
    fn in_turn<T>(&self, f: impl FnOnce(&turso::sync::Database) -> Result<T, Error>) -> Result<T, Error> {
        let db = self.handle()?;
        let started = SystemTime::now();
        let t0 = std::time::Instant::now();
        let r = {
            let _turn = runtime().block_on(self.turn.lock());
            f(&db)
        };
        let outcome = match &r {
            Ok(_) => Ok((None, 0)),
            Err(e) => Err(e.message.as_str()),
        };
        self.stats.sync_done(started, t0.elapsed(), outcome);
        r
    }

    /// A local step of a sync operation (applying pulled changes, a
    /// checkpoint): not bounded by the timeout, which would drop it half
    /// done (its transaction open, the engine's metadata behind the file).
    fn local<T>(&self, f: impl std::future::Future<Output = turso::Result<T>>) -> Result<T, Error> {
        runtime().block_on(f).map_err(|e| scrub(&self.token, error(e)))
    }

    /// A network step of a sync operation, bounded by the timeout.
    fn timed<T>(&self, what: &str, f: impl std::future::Future<Output = turso::Result<T>>) -> Result<T, Error> {
        runtime().block_on(async {
            match tokio::time::timeout(self.timeout, f).await {
                Ok(r) => r.map_err(|e| scrub(&self.token, error(e))),
                Err(_) => Err(Error::new(
                    Kind::Timeout,
                    format!("{what}: no answer from the server within {:?}", self.timeout),
                )),
            }
        })
    }

    /// The gate's write side, with the database quiet: no statement
    /// running (waited for, up to the timeout), no result set open and no
    /// connection in a transaction (see the module).
    fn quiet(&self, what: &str) -> Result<parking_lot::RwLockWriteGuard<'_, ()>, Error> {
        let Some(w) = self.gate.try_write_for(self.timeout) else {
            return Err(Error::new(
                Kind::Busy,
                format!("{what}: statements kept running on this database for {:?}; try again", self.timeout),
            ));
        };
        self.no_open_results()?;
        let in_tx = self
            .conns
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| c.is_autocommit().is_ok_and(|auto| !auto))
            .count();
        if in_tx > 0 {
            return Err(Error::new(
                Kind::Busy,
                format!(
                    "{what}: {in_tx} connection(s) of this database are in a transaction, which would go on \
                     reading the version before it; commit or roll back, and try again"
                ),
            ));
        }
        Ok(w)
    }

    /// Sends the local changes not pushed yet; how many.
    pub fn push_changes(&self) -> Result<i64, Error> {
        self.in_turn(|db| {
            let pending = |db: &turso::sync::Database| self.timed("push", db.stats()).map(|s| s.cdc_operations);
            let before = pending(db)?;
            self.timed("push", db.push())?;
            Ok((before - pending(db)?).max(0))
        })
    }

    /// See [Db::push_changes]. Reply: i64 changes pushed.
    pub fn push(&self) -> Result<Out, Error> {
        let n = self.push_changes()?;
        let mut o = Out::ok();
        o.i64(n);
        Ok(o)
    }

    /// A pull while a result set is open would leave it (and its
    /// connection) on the old version: refused.
    fn no_open_results(&self) -> Result<(), Error> {
        match self.open_results.load(Ordering::Acquire) {
            0 => Ok(()),
            n => Err(Error::new(
                Kind::Busy,
                format!(
                    "{n} result set(s) of this database are open (not read to their end, nor closed): a pull \
                     now would leave them, and their connections, reading the version before it; close them \
                     (Rows.close, Stmt.reset) and pull again"
                ),
            )),
        }
    }

    /// Brings the remote changes: fetched (statements go on), then
    /// applied with the database quiet; whether any were applied.
    pub fn pull_changes(&self) -> Result<bool, Error> {
        // refused at once, before the network, if it would be after it
        drop(self.quiet("pull")?);
        self.in_turn(|db| {
            let Some(changes) = self.timed("pull", db.fetch_changes())? else {
                return Ok(false);
            };
            let _quiet = self.quiet("pull")?;
            self.local(db.apply_changes(changes))?;
            Ok(true)
        })
    }

    /// See [Db::pull_changes]. Reply: u8 whether any were applied.
    pub fn pull(&self) -> Result<Out, Error> {
        let changed = self.pull_changes()?;
        let mut o = Out::ok();
        o.u8(changed as u8);
        Ok(o)
    }

    /// Pull, then push. Reply as a replica's sync: i64 -1 (no frame
    /// number here), i64 changes pushed plus 1 if the pull applied any.
    pub fn sync(&self) -> Result<Out, Error> {
        let changed = self.pull_changes()?;
        let pushed = self.push_changes()?;
        let mut o = Out::ok();
        o.i64(-1);
        o.i64(pushed + changed as i64);
        Ok(o)
    }

    /// Moves the WAL into the file (the engine never does it by itself on
    /// a synced database, so the WAL grows until this runs), with the
    /// database quiet.
    pub fn checkpoint(&self) -> Result<Out, Error> {
        self.in_turn(|db| {
            let _quiet = self.quiet("checkpoint")?;
            self.local(db.checkpoint())
        })?;
        Ok(Out::ok())
    }

    fn engine_stats(&self) -> Result<turso::sync::DatabaseSyncStats, Error> {
        self.live()?;
        let db = self.handle()?;
        runtime()
            .block_on(async {
                let _turn = self.turn.lock().await;
                db.stats().await
            })
            .map_err(|e| scrub(&self.token, error(e)))
    }

    /// See [Stats::encode], then the synced figures: u8 1, i64 pending
    /// local changes, i64 last push and i64 last pull (ms since the epoch,
    /// -1: never), i64 bytes sent, i64 bytes received, i64 WAL size, bytes
    /// revision.
    pub fn stats(&self) -> Result<Out, Error> {
        let s = self.engine_stats()?;
        let mut o = self.stats.encode(None);
        o.u8(1);
        o.i64(s.cdc_operations);
        o.i64(s.last_push_unix_time.map_or(-1, |t| t * 1000));
        o.i64(s.last_pull_unix_time.map_or(-1, |t| t * 1000));
        o.i64(s.network_sent_bytes as i64);
        o.i64(s.network_received_bytes as i64);
        o.i64(s.main_wal_size as i64);
        o.bytes(s.revision.as_deref().unwrap_or("").as_bytes());
        Ok(o)
    }

    pub fn connect(&self, busy_timeout_ms: i64) -> Result<Arc<Conn>, Error> {
        self.live()?;
        let db = self.handle()?;
        let conn = runtime()
            .block_on(async {
                let _turn = self.turn.lock().await;
                db.connect().await
            })
            .map_err(|e| scrub(&self.token, error(e)))?;
        let c = Arc::new(Conn {
            conn: Mutex::new(Some(conn)),
            state: Mutex::new(ConnState { changes: 0, busy_timeout: Duration::ZERO }),
            stats: self.stats.clone(),
            open_results: self.open_results.clone(),
            gate: self.gate.clone(),
            background: self.background.as_ref().filter(|b| b.auto_push).cloned(),
            serial: Serial::new(),
        });
        c.set_busy_timeout(busy_timeout_ms)?;
        let mut conns = self.conns.lock();
        conns.retain(|w| w.strong_count() > 0);
        conns.push(Arc::downgrade(&c));
        Ok(c)
    }

    /// Stops the background work (waiting for a push or pull under way,
    /// itself bounded by the timeout), then lets the engine go.
    pub fn close(&self) {
        if let Some(bg) = &self.background {
            bg.stop();
        }
        self.db.lock().take();
    }
}

/// The time now, in ms since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Retries of a statement the engine answered Busy (see
/// [Conn::again_if_busy]): none outside autocommit mode.
pub struct BusyRetries {
    deadline: Option<std::time::Instant>,
    pause: Duration,
    conn: Option<turso::Connection>,
}

impl BusyRetries {
    /// Whether to try again: if so, after a pause (1 ms, doubling to 50).
    pub fn again(&mut self) -> bool {
        if !self.deadline.is_some_and(|d| std::time::Instant::now() < d) {
            return false;
        }
        // the Busy may have left a transaction open: then not again
        if !self.conn.as_ref().is_some_and(|c| c.is_autocommit().unwrap_or(false)) {
            return false;
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(Duration::from_millis(50));
        true
    }
}

struct ConnState {
    changes: i64,
    /// As set on the engine's connection (see [Conn::again_if_busy]).
    busy_timeout: Duration,
}

/// A connection to the local file of a synced database.
pub struct Conn {
    /// Until closed (see [Db::db]).
    conn: Mutex<Option<turso::Connection>>,
    state: Mutex<ConnState>,
    stats: Arc<Stats>,
    /// The database's count of open result sets.
    open_results: Arc<AtomicUsize>,
    /// The database's gate (see the module): statements hold its read side.
    gate: Arc<RwLock<()>>,
    /// To be told of commits (push after every commit), when asked for.
    background: Option<Arc<Background>>,
    pub serial: Arc<Serial>,
}

/// A statement's parameters (wire bytes) as the engine takes them. Named
/// ones are checked against `sql` as a local statement checks them, and
/// given under their exact names there (a bare `id` finds `:id`, `@id` or
/// `$id`).
pub fn params(sql: &str, ps: &[u8]) -> Result<turso::params::Params, Error> {
    if ps.is_empty() {
        return match crate::sql::parameter_count(sql) {
            0 => Ok(turso::params::Params::None),
            expected => Err(Error::new(Kind::Misuse, format!("statement expects {expected} parameter(s), none given"))),
        };
    }
    let value = |p: Param, what: &dyn Fn() -> String| -> Result<turso::Value, Error> {
        Ok(match p {
            Param::Null => turso::Value::Null,
            Param::Integer(i) => turso::Value::Integer(i),
            Param::Real(f) if f.is_nan() => {
                return Err(Error::new(
                    Kind::Misuse,
                    format!("{}: NaN cannot be stored (SQLite turns it into NULL)", what()),
                ))
            }
            Param::Real(f) => turso::Value::Real(f),
            Param::Text(t) => turso::Value::Text(
                String::from_utf8(t.to_vec())
                    .map_err(|_| Error::new(Kind::Misuse, "a text parameter is not valid UTF-8"))?,
            ),
            Param::Blob(b) => turso::Value::Blob(b.to_vec()),
        })
    };
    let mut r = Reader::new(ps);
    let kind = r.u8()?;
    let n = r.u32()? as usize;
    if kind == wire::PARAMS_NAMED {
        let mut given = Vec::with_capacity(n);
        for _ in 0..n {
            let name = String::from_utf8_lossy(r.bytes()?).into_owned();
            let v = value(r.value()?, &|| format!("parameter {name:?}"))?;
            given.push((name, v));
        }
        let names: Vec<(String, ())> = given.iter().map(|(n, _)| (n.clone(), ())).collect();
        // the names as the SQL has them, in order; a `?NNN` given by name
        // ("?2") stays as given (the engine finds it)
        let (_, exact) = crate::sql::bind_names(sql, names)?;
        let exact: Vec<String> = exact
            .into_iter()
            .zip(&given)
            .map(|((target, ()), (asked, _))| if asked.starts_with('?') { asked.clone() } else { target })
            .collect();
        let named = exact.into_iter().zip(given).map(|(name, (_, v))| (std::borrow::Cow::Owned(name), v)).collect();
        Ok(turso::params::Params::Named(named))
    } else {
        let expected = crate::sql::parameter_count(sql) as usize;
        if n != expected {
            return Err(Error::new(Kind::Misuse, format!("statement expects {expected} parameter(s), {n} given")));
        }
        let mut v = Vec::with_capacity(n);
        for i in 1..=n {
            v.push(value(r.value()?, &|| format!("parameter {i}"))?);
        }
        Ok(turso::params::Params::Positional(v))
    }
}

pub fn encode_value(v: &turso::Value, out: &mut Out) {
    match v {
        turso::Value::Null => out.u8(wire::TAG_NULL),
        turso::Value::Integer(i) => {
            out.u8(wire::TAG_INTEGER);
            out.i64(*i)
        }
        turso::Value::Real(f) => {
            out.u8(wire::TAG_REAL);
            out.i64(f.to_bits() as i64)
        }
        turso::Value::Text(s) => {
            out.u8(wire::TAG_TEXT);
            out.bytes(s.as_bytes())
        }
        turso::Value::Blob(b) => {
            out.u8(wire::TAG_BLOB);
            out.bytes(b)
        }
    }
}

impl Conn {
    fn live(&self) -> Result<parking_lot::MutexGuard<'_, ConnState>, Error> {
        if self.conn.lock().is_none() {
            return Err(Error::closed("connection"));
        }
        Ok(self.state.lock())
    }

    /// The engine's connection (a handle on it), while open.
    fn c(&self) -> Result<turso::Connection, Error> {
        self.conn.lock().clone().ok_or_else(|| Error::closed("connection"))
    }

    pub fn set_busy_timeout(&self, ms: i64) -> Result<(), Error> {
        let d = Duration::from_millis(ms.max(0) as u64);
        self.live()?.busy_timeout = d;
        self.c()?.busy_timeout(d).map_err(error)
    }

    /// Runs a statement (`f`) again while the engine says Busy, up to the
    /// busy timeout, when the connection is in autocommit mode (the
    /// statement is all or nothing: a failed one did nothing). The engine
    /// answers some statements (their prepare, mostly) Busy at once,
    /// without its busy handler, just after a pull applied changes (seen:
    /// 1 to 3 in about 1,500 run alongside 60 pulls, in half the runs of
    /// test/synced's "statements while pulls apply changes").
    fn again_if_busy<T>(&self, mut f: impl FnMut() -> turso::Result<T>) -> turso::Result<T> {
        let mut busy = self.busy_retries();
        loop {
            match f() {
                Err(turso::Error::Busy(m)) if busy.again() => drop(m),
                r => return r,
            }
        }
    }

    /// When and how long to try a statement again after Busy (see
    /// [Conn::again_if_busy]).
    pub fn busy_retries(&self) -> BusyRetries {
        let conn = self.c().ok();
        let autocommit = conn.as_ref().and_then(|c| c.is_autocommit().ok()).unwrap_or(false);
        let deadline = autocommit.then(|| std::time::Instant::now() + self.state.lock().busy_timeout);
        BusyRetries { deadline, pause: Duration::from_millis(1), conn }
    }

    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        drop(self.live()?);
        Ok(self.c()?.last_insert_rowid())
    }

    pub fn changes(&self) -> Result<i64, Error> {
        Ok(self.live()?.changes)
    }

    pub fn is_autocommit(&self) -> Result<bool, Error> {
        drop(self.live()?);
        self.c()?.is_autocommit().map_err(error)
    }

    /// A statement's error. The engine words a PRIMARY KEY violation as
    /// SQLite does, "UNIQUE constraint failed: t.c": the table's schema
    /// tells whether those columns are its primary key (as for a remote
    /// database; one local query, on this error only).
    fn err(&self, e: turso::Error) -> Error {
        let mut e = error(e);
        if e.code != Some(2067) {
            return e;
        }
        let Some(list) = e.message.split("UNIQUE constraint failed: ").nth(1) else {
            return e;
        };
        let cols: Vec<(&str, &str)> = list.trim_end().split(", ").filter_map(|c| c.split_once('.')).collect();
        let Some((table, _)) = cols.first() else {
            return e;
        };
        let mut failed: Vec<&str> = cols.iter().map(|(_, c)| *c).collect();
        failed.sort_unstable();
        let Ok(conn) = self.c() else { return e };
        let pk = runtime().block_on(async {
            let mut rows = conn.query(format!("PRAGMA table_info(\"{}\")", table.replace('"', "\"\"")), ()).await?;
            let mut pk = Vec::new();
            while let Some(row) = rows.next().await? {
                if let (Ok(turso::Value::Text(name)), Ok(turso::Value::Integer(k))) =
                    (row.get_value(1), row.get_value(5))
                {
                    if k > 0 {
                        pk.push(name);
                    }
                }
            }
            Ok::<_, turso::Error>(pk)
        });
        if let Ok(mut pk) = pk {
            pk.sort_unstable();
            if !pk.is_empty() && pk.iter().map(String::as_str).eq(failed.iter().copied()) {
                e.code = Some(1555);
            }
        }
        e
    }

    /// After a statement ran: `changes()`, and a push asked for after a
    /// commit (a writing statement that leaves the connection in
    /// autocommit mode) when the database pushes after every commit.
    fn note_changes(&self, sql: &str, n: u64) {
        if crate::sql::sets_changes(sql, n) {
            self.state.lock().changes = n as i64;
        }
        self.maybe_committed(sql);
    }

    /// After `sql` ran: with a push after every commit asked for, one is
    /// asked for if it wrote something and the connection is in autocommit
    /// mode (a ROLLBACK, and statements that read only, write nothing).
    pub fn maybe_committed(&self, sql: &str) {
        if let Some(bg) = &self.background {
            let rollback = crate::sql::leading_words(sql.as_bytes(), 1).first().is_some_and(|w| w == "ROLLBACK");
            if !rollback && !crate::sql::is_read_only(sql) && self.is_autocommit().unwrap_or(false) {
                bg.committed();
            }
        }
    }

    fn exec_reply(&self) -> Result<Out, Error> {
        let mut o = Out::ok();
        o.i64(self.changes()?);
        o.i64(self.c()?.last_insert_rowid());
        Ok(o)
    }

    /// Runs a statement to its end with `ps`; the rows changed.
    fn exec(&self, sql: &str, ps: &[u8]) -> Result<u64, Error> {
        let p = params(sql, ps).map_err(|e| e.with_sql(sql.as_bytes()))?;
        self.stats.statements(1);
        let conn = self.c()?;
        let n = self.again_if_busy(|| {
            let _running = self.gate.read_recursive();
            runtime().block_on(async {
                let mut st = conn.prepare(sql).await?;
                st.execute(p.clone()).await
            })
        });
        let n = n.map_err(|e| self.err(e).with_sql(sql.as_bytes()))?;
        self.note_changes(sql, n);
        Ok(n)
    }

    pub fn execute(&self, sql: &[u8], params: &[u8]) -> Result<Out, Error> {
        drop(self.live()?);
        let sql = crate::sql::text(sql)?;
        if crate::sql::split(sql).len() > 1 {
            return Err(Error::new(Kind::Misuse, "more than one statement: use a batch").with_sql(sql.as_bytes()));
        }
        self.exec(sql, params)?;
        self.exec_reply()
    }

    /// One statement and its whole result (layout: `wire`).
    pub fn run(&self, sql: &[u8], ps: &[u8]) -> Result<Out, Error> {
        drop(self.live()?);
        let sql = crate::sql::text(sql)?;
        let mut out = Out::ok();
        self.run_into(sql, ps, &mut out)?;
        Ok(out)
    }

    fn run_into(&self, sql: &str, ps: &[u8], out: &mut Out) -> Result<(), Error> {
        let p = params(sql, ps).map_err(|e| e.with_sql(sql.as_bytes()))?;
        self.stats.statements(1);
        let conn = self.c()?;
        let mark = out.buf.len();
        let r = self.again_if_busy(|| {
            out.buf.truncate(mark);
            let p = p.clone();
            let _running = self.gate.read_recursive();
            runtime().block_on(async {
                let mut st = conn.prepare(sql).await?;
                let cols = st.columns();
                let mut rows = st.query(p).await?;
                out.u32(cols.len() as u32);
                for c in &cols {
                    out.bytes(c.name().as_bytes());
                    out.bytes(c.decl_type().unwrap_or("").as_bytes());
                }
                let count_at = out.buf.len();
                out.u32(0);
                let mut n = 0u32;
                while let Some(row) = rows.next().await? {
                    for i in 0..cols.len() {
                        encode_value(&row.get_value(i)?, out);
                    }
                    n += 1;
                }
                out.patch_u32(count_at, n);
                Ok::<u64, turso::Error>(st.n_change())
            })
        });
        let changed = r.map_err(|e| self.err(e).with_sql(sql.as_bytes()))?;
        self.note_changes(sql, changed);
        out.i64(changed as i64);
        let inserted =
            crate::sql::leading_words(sql.as_bytes(), 1).first().is_some_and(|w| w == "INSERT" || w == "REPLACE");
        out.u8(inserted as u8);
        out.i64(conn.last_insert_rowid());
        Ok(())
    }

    /// Runs `f` all or nothing: in a transaction when the connection is in
    /// autocommit mode, else in a savepoint.
    fn atomically<T>(&self, begin: &str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let was_autocommit = self.is_autocommit()?;
        let plain = |sql: &str| self.exec(sql, &[]).map(drop);
        plain(if was_autocommit { begin } else { "SAVEPOINT turso_batch" })?;
        match f() {
            Ok(v) => {
                if let Err(e) = plain(if was_autocommit { "COMMIT" } else { "RELEASE turso_batch" }) {
                    if was_autocommit {
                        let _ = plain("ROLLBACK");
                    }
                    return Err(e);
                }
                Ok(v)
            }
            Err(e) => {
                if was_autocommit {
                    let _ = plain("ROLLBACK");
                } else {
                    let _ = plain("ROLLBACK TO turso_batch");
                    let _ = plain("RELEASE turso_batch");
                }
                Err(e)
            }
        }
    }

    /// A script, statement by statement, stopping at the first error
    /// (`atomic`: all or nothing). See the local engine's for the rules.
    pub fn batch(&self, sql: &[u8], atomic: bool) -> Result<Out, Error> {
        drop(self.live()?);
        let text = crate::sql::text(sql)?;
        let pieces = crate::sql::split(text);
        let tag = |i: usize, mut e: Error| {
            e.message = format!("statement {i}: {}", e.message);
            e.with_sql(pieces[i].as_bytes())
        };
        let run = || {
            for (i, p) in pieces.iter().enumerate() {
                if atomic && crate::sql::ends_transaction(p.as_bytes()) {
                    return Err(tag(i, Error::new(
                        Kind::Misuse,
                        "an atomic batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK; use a script",
                    )));
                }
                self.exec(p, &[]).map_err(|e| tag(i, e))?;
            }
            Ok(())
        };
        if atomic {
            self.atomically("BEGIN", run)?;
        } else {
            let was_autocommit = self.is_autocommit()?;
            if let Err(e) = run() {
                if was_autocommit && !self.is_autocommit()? {
                    let _ = self.exec("ROLLBACK", &[]);
                }
                return Err(e);
            }
        }
        self.exec_reply()
    }

    /// Statements with their parameters, all or nothing; every result.
    pub fn batch_list(&self, req: &[u8]) -> Result<Out, Error> {
        drop(self.live()?);
        let (mode, stmts) = wire::batch_request(req)?;
        let begin = if mode == 1 { "BEGIN IMMEDIATE" } else { "BEGIN DEFERRED" };
        let mut out = Out::ok();
        out.u32(stmts.len() as u32);
        self.atomically(begin, || {
            for (i, (sql, ps)) in stmts.iter().enumerate() {
                let tag = |mut e: Error| {
                    e.message = format!("statement {i}: {}", e.message);
                    e.with_sql(sql)
                };
                if crate::sql::ends_transaction(sql) {
                    return Err(tag(Error::new(
                        Kind::Misuse,
                        "a batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK",
                    )));
                }
                if mode == 2 && !crate::sql::is_read_only(crate::sql::text(sql).map_err(tag)?) {
                    return Err(tag(Error::new(
                        Kind::Misuse,
                        "a read batch accepts only SELECT, VALUES and WITH ... SELECT",
                    )));
                }
                self.run_into(crate::sql::text(sql).map_err(tag)?, ps, &mut out).map_err(tag)?;
            }
            Ok(())
        })?;
        Ok(out)
    }

    pub fn prepare(self: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        drop(self.live()?);
        Stmt::new(self, sql)
    }

    /// Closes the connection; a transaction left open is rolled back.
    pub fn close(&self) {
        if let Some(conn) = self.conn.lock().take() {
            if let Ok(false) = conn.is_autocommit() {
                let _ = runtime().block_on(conn.execute("ROLLBACK", ()));
            }
        }
    }
}
