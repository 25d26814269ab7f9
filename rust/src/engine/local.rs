//! Local databases (a file or `:memory:`) straight on libSQL's SQLite.
//!
//! Local calls go to `libsql::ffi` (the SQLite that the libsql crate builds)
//! without an async hop: reading a row costs what SQLite costs. This also
//! keeps exact semantics that the crate's generic row API loses for local
//! databases (it replaces invalid UTF-8 and truncates text at NUL bytes).
//!
//! Locking: a connection's state sits behind one mutex, taken only while the
//! OCaml runtime lock is released, never the other way round. Lock order is
//! connection, then statement.
//!
//! This file holds the database and its connections (statements run whole:
//! one at a time, scripts, batches); [stmt] the prepared statement and its
//! chunked reads; [sqlite] the calls on SQLite's C API both share.

mod sqlite;
mod stmt;

use std::ffi::{c_char, c_int};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use libsql::ffi;
use parking_lot::Mutex;

use crate::error::{Error, Kind};
use crate::executor::Serial;
use crate::sql::ends_transaction;
use crate::stats::{Mode, Stats};
use crate::wire::{self, Out};

use sqlite::{
    atomically, bind, check_key, check_no_nul, column_value, cstr_bytes, encode_result, encrypted_error, exec_reply,
    exec_simple, file_of, open_raw, plain_file, prepare_next, prepare_one, sqlite_error, step_to_done,
};
pub use stmt::Stmt;

/// Open flags as the OCaml side numbers them.
pub const OPEN_READ_WRITE_CREATE: i64 = 0;
pub const OPEN_READ_WRITE: i64 = 1;
pub const OPEN_READ_ONLY: i64 = 2;

struct RawDb(*mut ffi::sqlite3);
unsafe impl Send for RawDb {}

struct RawStmt(*mut ffi::sqlite3_stmt);
unsafe impl Send for RawStmt {}

static MEMORY_DB_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A local database. For `:memory:` every connection of one `Db` sees the
/// same in-memory database (SQLite's `memdb` VFS); a keeper connection holds
/// it (and, for files, checks at open time that the file can be opened).
pub struct Db {
    path: String,
    flags: i64,
    /// Every connection is keyed with it (SQLite3MultipleCiphers).
    encryption_key: Option<Vec<u8>>,
    keeper: Mutex<Option<RawDb>>,
    /// Where the Lwt API runs this database's jobs.
    pub serial: Arc<Serial>,
    stats: Arc<Stats>,
}

impl Db {
    /// Opens the file at `path` (or a new in-memory database), encrypted
    /// with `encryption_key` if one is given; a wrong or missing key is an
    /// error here (see [check_key]).
    pub fn open(path: &str, flags: i64, encryption_key: Option<Vec<u8>>) -> Result<Db, Error> {
        let mode = if path == ":memory:" { Mode::Memory } else { Mode::File };
        let file = file_of(path);
        if file.is_none() && encryption_key.is_some() {
            return Err(Error::new(
                Kind::Config,
                "an encryption key for an in-memory database, which is never written to disk",
            ));
        }
        if encryption_key.as_deref() == Some(b"") {
            return Err(Error::new(Kind::Config, "the encryption key is empty"));
        }
        let path = if path == ":memory:" {
            let n = MEMORY_DB_COUNTER.fetch_add(1, Ordering::Relaxed);
            format!("file:/turso-memory-{}-{n}?vfs=memdb", std::process::id())
        } else {
            path.to_string()
        };
        // without a key, a file that is not plain SQLite is said at once
        // (its header; no read, so no wait on a writer); with one, the key
        // is checked by a read
        if let (Some(f), None) = (&file, &encryption_key) {
            if plain_file(f) == Some(false) {
                return Err(encrypted_error(f));
            }
        }
        let keeper = open_raw(&path, flags, encryption_key.as_deref())?;
        if let (Some(f), Some(_)) = (&file, &encryption_key) {
            if let Err(e) = check_key(keeper, f) {
                unsafe { libsql::ffi::sqlite3_close_v2(keeper) };
                return Err(e);
            }
        }
        Ok(Db {
            path,
            flags,
            encryption_key,
            keeper: Mutex::new(Some(RawDb(keeper))),
            serial: Serial::new(),
            stats: Arc::new(Stats::new(mode)),
        })
    }

    pub fn connect(&self, busy_timeout_ms: i64) -> Result<Arc<Conn>, Error> {
        let guard = self.keeper.lock();
        if guard.is_none() {
            return Err(Error::closed("database"));
        }
        let db = open_raw(&self.path, self.flags, self.encryption_key.as_deref())?;
        drop(guard);
        let conn = Arc::new(Conn {
            state: Mutex::new(ConnState { db, busy_ms: 0, stmts: Vec::new(), prune_at: 16 }),
            graveyard: Mutex::new(Vec::new()),
            graveyard_nonempty: AtomicBool::new(false),
            serial: Serial::new(),
            stats: self.stats.clone(),
        });
        if busy_timeout_ms > 0 {
            conn.set_busy_timeout(busy_timeout_ms)?;
        }
        Ok(conn)
    }

    fn live(&self) -> Result<(), Error> {
        match *self.keeper.lock() {
            Some(_) => Ok(()),
            None => Err(Error::closed("database")),
        }
    }

    /// A local file has no primary to sync with.
    pub fn sync(&self) -> Result<Out, Error> {
        Err(Error::new(Kind::Misuse, "sync is for embedded replicas; this database is a local file"))
    }

    /// See [Stats::encode] (no frame: nothing is replicated).
    pub fn stats(&self) -> Result<Out, Error> {
        self.live()?;
        Ok(self.stats.encode(None))
    }

    pub fn close(&self) {
        if let Some(RawDb(db)) = self.keeper.lock().take() {
            unsafe { ffi::sqlite3_close_v2(db) };
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // In a fork's child the handle is the parent's: closing it could
        // checkpoint and delete the WAL under the parent. Left as it is.
        if crate::fork::forked() {
            return;
        }
        self.close()
    }
}

struct ConnState {
    db: *mut ffi::sqlite3,
    /// The busy timeout set (ms): restored after an attempt that ran
    /// without one (see Stmt::query_one_now).
    busy_ms: c_int,
    stmts: Vec<Weak<Stmt>>,
    prune_at: usize,
}
unsafe impl Send for ConnState {}

pub struct Conn {
    state: Mutex<ConnState>,
    /// Statements dropped by the GC while the connection was busy; finalized
    /// by the next call that holds the connection.
    graveyard: Mutex<Vec<RawStmt>>,
    graveyard_nonempty: AtomicBool,
    /// Where the Lwt API runs this connection's jobs, in order.
    pub serial: Arc<Serial>,
    stats: Arc<Stats>,
}

/// What one call on a connection gets: the live handle.
struct Live<'a> {
    st: parking_lot::MutexGuard<'a, ConnState>,
}

impl Conn {
    fn live(&self) -> Result<Live<'_>, Error> {
        let st = self.state.lock();
        if st.db.is_null() {
            return Err(Error::closed("connection"));
        }
        if self.graveyard_nonempty.load(Ordering::Acquire) {
            let dead = std::mem::take(&mut *self.graveyard.lock());
            self.graveyard_nonempty.store(false, Ordering::Release);
            for RawStmt(s) in dead {
                unsafe { ffi::sqlite3_finalize(s) };
            }
        }
        Ok(Live { st })
    }

    /// The live handle if it is free now (never waits); `None` if it is
    /// in use or closed.
    fn try_live(&self) -> Option<Live<'_>> {
        let st = self.state.try_lock()?;
        (!st.db.is_null() && !self.graveyard_nonempty.load(Ordering::Acquire)).then_some(Live { st })
    }

    pub fn set_busy_timeout(&self, ms: i64) -> Result<(), Error> {
        let mut l = self.live()?;
        let ms = ms.clamp(0, i32::MAX as i64) as c_int;
        let rc = unsafe { ffi::sqlite3_busy_timeout(l.st.db, ms) };
        if rc != ffi::SQLITE_OK {
            return Err(sqlite_error(l.st.db, rc));
        }
        l.st.busy_ms = ms;
        Ok(())
    }

    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        let l = self.live()?;
        Ok(unsafe { ffi::sqlite3_last_insert_rowid(l.st.db) })
    }

    pub fn changes(&self) -> Result<i64, Error> {
        let l = self.live()?;
        Ok(unsafe { ffi::sqlite3_changes64(l.st.db) })
    }

    pub fn is_autocommit(&self) -> Result<bool, Error> {
        let l = self.live()?;
        Ok(unsafe { ffi::sqlite3_get_autocommit(l.st.db) } != 0)
    }

    /// The autocommit flag if it can be read without waiting (the
    /// connection not in use, and open); `None` otherwise.
    pub fn try_autocommit(&self) -> Option<bool> {
        let st = self.state.try_lock()?;
        (!st.db.is_null()).then(|| unsafe { ffi::sqlite3_get_autocommit(st.db) } != 0)
    }

    /// Runs one statement to completion; replies changes and last rowid.
    pub fn execute(&self, sql: &[u8], params: &[u8]) -> Result<Out, Error> {
        let l = self.live()?;
        let db = l.st.db;
        let stmt = prepare_one(db, sql)?;
        self.stats.statements(1);
        let r = (|| {
            bind(stmt, params, db)?;
            step_to_done(db, stmt)
        })();
        unsafe { ffi::sqlite3_finalize(stmt) };
        r.map_err(|e| e.with_sql(sql))?;
        Ok(exec_reply(db))
    }

    /// A statement's shape, prepared and never run (what the checked-queries
    /// ppx asks at compile time): a string list of `readonly` ("0"/"1"),
    /// the parameter count and each parameter's name ("" for `?`), the
    /// column count and per column its name, declared type, table, origin
    /// column, and NOT NULL and primary-key flags ("0"/"1"; table, origin and
    /// flags are empty or "0" for an expression).
    pub fn describe(&self, sql: &[u8]) -> Result<Out, Error> {
        let l = self.live()?;
        let db = l.st.db;
        let stmt = prepare_one(db, sql).map_err(|e| e.with_sql(sql))?;
        let flag = |b: bool| if b { b"1".to_vec() } else { b"0".to_vec() };
        let mut items: Vec<Vec<u8>> = Vec::new();
        unsafe {
            items.push(flag(ffi::sqlite3_stmt_readonly(stmt) != 0));
            let np = ffi::sqlite3_bind_parameter_count(stmt);
            items.push(np.to_string().into_bytes());
            for i in 1..=np {
                items.push(cstr_bytes(ffi::sqlite3_bind_parameter_name(stmt, i)).to_vec());
            }
            let nc = ffi::sqlite3_column_count(stmt);
            items.push(nc.to_string().into_bytes());
            for i in 0..nc {
                let table = ffi::sqlite3_column_table_name(stmt, i);
                let origin = ffi::sqlite3_column_origin_name(stmt, i);
                let (mut notnull, mut pk, mut autoinc): (c_int, c_int, c_int) = (0, 0, 0);
                if !table.is_null() && !origin.is_null() {
                    ffi::sqlite3_table_column_metadata(
                        db,
                        ffi::sqlite3_column_database_name(stmt, i),
                        table,
                        origin,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        &mut notnull,
                        &mut pk,
                        &mut autoinc,
                    );
                }
                items.push(cstr_bytes(ffi::sqlite3_column_name(stmt, i)).to_vec());
                items.push(cstr_bytes(ffi::sqlite3_column_decltype(stmt, i)).to_vec());
                items.push(cstr_bytes(table).to_vec());
                items.push(cstr_bytes(origin).to_vec());
                items.push(flag(notnull != 0));
                items.push(flag(pk != 0));
            }
            ffi::sqlite3_finalize(stmt);
        }
        let mut o = Out::ok();
        o.u32(items.len() as u32);
        for b in &items {
            o.bytes(b);
        }
        Ok(o)
    }

    pub fn prepare(self: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        let mut l = self.live()?;
        let raw = prepare_one(l.st.db, sql)?;
        let stmt = Stmt::new(self.clone(), raw);
        let st = &mut *l.st;
        if st.stmts.len() >= st.prune_at {
            st.stmts.retain(|w| w.strong_count() > 0);
            st.prune_at = (st.stmts.len() * 2).max(16);
        }
        st.stmts.push(Arc::downgrade(&stmt));
        Ok(stmt)
    }

    /// Runs a script of statements in order, stopping at the first error.
    /// `atomic`: all or nothing (a transaction, or a savepoint inside one),
    /// and the script may not end that transaction itself. Otherwise, if the
    /// script opened a transaction and then failed, that transaction is
    /// rolled back rather than left open.
    pub fn batch(&self, sql: &[u8], atomic: bool) -> Result<Out, Error> {
        let l = self.live()?;
        let db = l.st.db;
        check_no_nul(sql)?;
        let was_autocommit = unsafe { ffi::sqlite3_get_autocommit(db) } != 0;
        if atomic {
            let open = if was_autocommit { "BEGIN" } else { "SAVEPOINT turso_batch" };
            exec_simple(db, open)?;
        }
        let mut ran = 0;
        let r = run_script(db, sql, atomic, &mut ran);
        self.stats.statements(ran);
        match (&r, atomic) {
            (Ok(()), true) => {
                let close = if was_autocommit { "COMMIT" } else { "RELEASE turso_batch" };
                if let Err(e) = exec_simple(db, close) {
                    if was_autocommit {
                        let _ = exec_simple(db, "ROLLBACK");
                    }
                    return Err(e);
                }
            }
            (Err(_), true) => {
                if was_autocommit {
                    let _ = exec_simple(db, "ROLLBACK");
                } else {
                    let _ = exec_simple(db, "ROLLBACK TO turso_batch");
                    let _ = exec_simple(db, "RELEASE turso_batch");
                }
            }
            (Err(_), false) => {
                if was_autocommit && unsafe { ffi::sqlite3_get_autocommit(db) } == 0 {
                    let _ = exec_simple(db, "ROLLBACK");
                }
            }
            (Ok(()), false) => {}
        }
        r?;
        Ok(exec_reply(db))
    }

    /// A batch of statements, each with its parameters, in one transaction
    /// (a savepoint inside an open one): every result, or nothing stays and
    /// the error names the statement. See [wire::batch_request] for the
    /// request and [encode_result] for each result. Mode 2 (read) also sets
    /// `query_only` for the batch's length.
    pub fn batch_list(&self, req: &[u8]) -> Result<Out, Error> {
        let l = self.live()?;
        let db = l.st.db;
        let (mode, stmts) = wire::batch_request(req)?;
        let begin = if mode == 1 { "BEGIN IMMEDIATE" } else { "BEGIN DEFERRED" };
        let mut out = Out::ok();
        out.u32(stmts.len() as u32);
        let r = atomically(db, begin, "turso_batch", || {
            if mode == 2 {
                exec_simple(db, "PRAGMA query_only = ON")?;
            }
            let r = (|| {
                for (i, (sql, params)) in stmts.iter().enumerate() {
                    let tag = |mut e: Error| {
                        e.message = format!("statement {i}: {}", e.message);
                        e.with_sql(sql)
                    };
                    if ends_transaction(sql) {
                        return Err(tag(Error::new(
                            Kind::Misuse,
                            "a batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK",
                        )));
                    }
                    let stmt = prepare_one(db, sql).map_err(tag)?;
                    self.stats.statements(1);
                    let r = bind(stmt, params, db).and_then(|()| unsafe { encode_result(db, stmt, sql, &mut out) });
                    unsafe { ffi::sqlite3_finalize(stmt) };
                    r.map_err(tag)?;
                }
                Ok(())
            })();
            if mode == 2 {
                let _ = exec_simple(db, "PRAGMA query_only = OFF");
            }
            r
        });
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                wire::give_buf(out.buf);
                Err(e)
            }
        }
    }

    /// Runs `sql` if it only reads (`sqlite3_stmt_readonly`), returning
    /// column names, declared types and rows; `None` (nothing run) if it
    /// would write or cannot be prepared here. How a replica's reads bypass libsql's row reading, which
    /// cuts TEXT at a NUL byte and panics on invalid UTF-8.
    pub fn read_only_query(
        &self,
        sql: &[u8],
        params: &[u8],
    ) -> Result<Option<(Vec<String>, Vec<Option<String>>, Vec<Vec<libsql::Value>>)>, Error> {
        let l = self.live()?;
        let db = l.st.db;
        // What the replica cannot prepare (a table it has not synced yet,
        // an error) goes to the primary, which has the last word.
        let Ok(stmt) = prepare_one(db, sql) else { return Ok(None) };
        if unsafe { ffi::sqlite3_stmt_readonly(stmt) } == 0 {
            unsafe { ffi::sqlite3_finalize(stmt) };
            return Ok(None);
        }
        self.stats.statements(1);
        let r = (|| unsafe {
            bind(stmt, params, db)?;
            let ncols = ffi::sqlite3_column_count(stmt);
            let text = |p: *const c_char| String::from_utf8_lossy(cstr_bytes(p)).into_owned();
            let names = (0..ncols).map(|i| text(ffi::sqlite3_column_name(stmt, i))).collect();
            let decltypes = (0..ncols)
                .map(|i| {
                    let p = ffi::sqlite3_column_decltype(stmt, i);
                    if p.is_null() {
                        None
                    } else {
                        Some(text(p))
                    }
                })
                .collect();
            let mut rows = Vec::new();
            loop {
                match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_ROW => {
                        let mut row = Vec::with_capacity(ncols as usize);
                        for i in 0..ncols {
                            row.push(column_value(stmt, i)?);
                        }
                        rows.push(row);
                    }
                    ffi::SQLITE_DONE => break,
                    rc => return Err(sqlite_error(db, rc)),
                }
            }
            Ok(Some((names, decltypes, rows)))
        })();
        unsafe { ffi::sqlite3_finalize(stmt) };
        r.map_err(|e| e.with_sql(sql))
    }

    /// Runs one statement and replies its whole result (see
    /// [encode_result]), after the OK byte.
    pub fn run(&self, sql: &[u8], params: &[u8]) -> Result<Out, Error> {
        let l = self.live()?;
        let db = l.st.db;
        let stmt = prepare_one(db, sql)?;
        self.stats.statements(1);
        let mut out = Out::ok();
        let r = bind(stmt, params, db).and_then(|()| unsafe { encode_result(db, stmt, sql, &mut out) });
        unsafe { ffi::sqlite3_finalize(stmt) };
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                wire::give_buf(out.buf);
                Err(e.with_sql(sql))
            }
        }
    }

    /// Finalizes every statement of the connection, then closes it.
    /// Idempotent.
    pub fn close(&self) {
        let mut st = self.state.lock();
        if st.db.is_null() {
            return;
        }
        for w in st.stmts.drain(..) {
            if let Some(s) = w.upgrade() {
                s.finalize();
            }
        }
        for RawStmt(s) in std::mem::take(&mut *self.graveyard.lock()) {
            unsafe { ffi::sqlite3_finalize(s) };
        }
        unsafe { ffi::sqlite3_close_v2(st.db) };
        st.db = ptr::null_mut();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if crate::fork::forked() {
            return; // see Db's drop
        }
        self.close()
    }
}

/// `ran` counts the statements started.
fn run_script(db: *mut ffi::sqlite3, sql: &[u8], atomic: bool, ran: &mut u64) -> Result<(), Error> {
    // SQLite reads a NUL-terminated text in place; any other it copies,
    // whole, at every prepare: a script of a million statements would
    // cost a million copies of what is left of it.
    let z = [sql, b"\0"].concat();
    let mut pos = 0;
    let mut index = 0usize;
    while pos < sql.len() {
        let start = pos;
        let (stmt, next) = prepare_next(db, &z, pos).map_err(|mut e| {
            e.message = format!("statement {index}: {}", e.message);
            e
        })?;
        pos = next;
        let Some(stmt) = stmt else { break };
        let text = &sql[start..next];
        if atomic && ends_transaction(text) {
            unsafe { ffi::sqlite3_finalize(stmt) };
            return Err(Error::new(
                Kind::Misuse,
                format!(
                    "statement {index}: an atomic batch runs in its own transaction and cannot \
                     contain BEGIN, COMMIT or ROLLBACK; use a script"
                ),
            )
            .with_sql(text));
        }
        *ran += 1;
        let r = step_to_done(db, stmt);
        unsafe { ffi::sqlite3_finalize(stmt) };
        r.map_err(|mut e| {
            e.message = format!("statement {index}: {}", e.message);
            e.with_sql(text)
        })?;
        index += 1;
    }
    Ok(())
}
