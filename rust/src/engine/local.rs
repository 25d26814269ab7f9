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

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use libsql::ffi;
use parking_lot::Mutex;

use crate::error::{kind_of_sqlite_code, Error, Kind};
use crate::executor::Serial;
use crate::sql::{ends_transaction, leading_words};
use crate::stats::{Mode, Stats};
use crate::wire::{self, Out, Param, Reader};

/// Open flags as the OCaml side numbers them.
pub const OPEN_READ_WRITE_CREATE: i64 = 0;
pub const OPEN_READ_WRITE: i64 = 1;
pub const OPEN_READ_ONLY: i64 = 2;

struct RawDb(*mut ffi::sqlite3);
unsafe impl Send for RawDb {}

struct RawStmt(*mut ffi::sqlite3_stmt);
unsafe impl Send for RawStmt {}

fn sqlite_error(db: *mut ffi::sqlite3, rc: c_int) -> Error {
    let (code, message) = unsafe {
        if db.is_null() {
            (rc, CStr::from_ptr(ffi::sqlite3_errstr(rc)).to_string_lossy().into_owned())
        } else {
            let code = ffi::sqlite3_extended_errcode(db);
            let msg = CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned();
            (if code == 0 { rc } else { code }, msg)
        }
    };
    Error { kind: kind_of_sqlite_code(code), code: Some(code), message, sql: None }
}

fn check_no_nul(sql: &[u8]) -> Result<(), Error> {
    match sql.iter().position(|&b| b == 0) {
        Some(i) => Err(Error::new(
            Kind::Misuse,
            format!("SQL contains a NUL byte at offset {i}; pass such data as a parameter"),
        )
        .with_sql(&sql[..i])),
        None => Ok(()),
    }
}

/// libsql configures SQLite (serialized threading) once per process, the
/// first time it opens a database, and asserts that the configuration took:
/// it cannot after SQLite is initialized. So libsql must initialize SQLite
/// before this module first does, or a replica opened after a local file
/// would fail. Opening an in-memory libsql database runs that step (and
/// opens no connection).
fn libsql_init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        #[allow(deprecated)]
        let _ = libsql::Database::open_in_memory();
    });
}

fn open_raw(path: &str, flags: i64) -> Result<*mut ffi::sqlite3, Error> {
    libsql_init();
    let cpath = CString::new(path)
        .map_err(|_| Error::new(Kind::Config, "database path contains a NUL byte"))?;
    let mode = match flags {
        OPEN_READ_WRITE => ffi::SQLITE_OPEN_READWRITE,
        OPEN_READ_ONLY => ffi::SQLITE_OPEN_READONLY,
        _ => ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
    };
    // NOMUTEX: every use of a handle is already serialised by our own mutex.
    let flags = mode | ffi::SQLITE_OPEN_URI | ffi::SQLITE_OPEN_NOMUTEX;
    let mut db: *mut ffi::sqlite3 = ptr::null_mut();
    let rc = unsafe { ffi::sqlite3_open_v2(cpath.as_ptr(), &mut db, flags, ptr::null()) };
    if rc != ffi::SQLITE_OK {
        let mut e = sqlite_error(db, rc);
        e.message = format!("cannot open database {path:?}: {}", e.message);
        unsafe { ffi::sqlite3_close_v2(db) };
        return Err(e);
    }
    unsafe { ffi::sqlite3_extended_result_codes(db, 1) };
    Ok(db)
}

static MEMORY_DB_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A local database. For `:memory:` every connection of one `Db` sees the
/// same in-memory database (SQLite's `memdb` VFS); a keeper connection holds
/// it (and, for files, checks at open time that the file can be opened).
pub struct Db {
    path: String,
    flags: i64,
    keeper: Mutex<Option<RawDb>>,
    /// Where the Lwt API runs this database's jobs.
    pub serial: Arc<Serial>,
    stats: Arc<Stats>,
}

impl Db {
    pub fn open(path: &str, flags: i64) -> Result<Db, Error> {
        let mode = if path == ":memory:" { Mode::Memory } else { Mode::File };
        let path = if path == ":memory:" {
            let n = MEMORY_DB_COUNTER.fetch_add(1, Ordering::Relaxed);
            format!("file:/turso-memory-{}-{n}?vfs=memdb", std::process::id())
        } else {
            path.to_string()
        };
        let keeper = open_raw(&path, flags)?;
        Ok(Db {
            path,
            flags,
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
        let db = open_raw(&self.path, self.flags)?;
        drop(guard);
        let conn = Arc::new(Conn {
            state: Mutex::new(ConnState { db, stmts: Vec::new(), prune_at: 16 }),
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
        self.close()
    }
}

struct ConnState {
    db: *mut ffi::sqlite3,
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

    pub fn set_busy_timeout(&self, ms: i64) -> Result<(), Error> {
        let l = self.live()?;
        let ms = ms.clamp(0, i32::MAX as i64) as c_int;
        let rc = unsafe { ffi::sqlite3_busy_timeout(l.st.db, ms) };
        if rc != ffi::SQLITE_OK {
            return Err(sqlite_error(l.st.db, rc));
        }
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

    pub fn prepare(self: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        let mut l = self.live()?;
        let raw = prepare_one(l.st.db, sql)?;
        let ncols = unsafe { ffi::sqlite3_column_count(raw) } as usize;
        let stmt = Arc::new(Stmt {
            conn: self.clone(),
            state: Mutex::new(StmtState {
                raw,
                params: Vec::new(),
                generation: 0,
                header_for: None,
                active: false,
                ncols,
            }),
        });
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
                    if p.is_null() { None } else { Some(text(p)) }
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
                let mut ss = s.state.lock();
                if !ss.raw.is_null() {
                    unsafe { ffi::sqlite3_finalize(ss.raw) };
                    ss.raw = ptr::null_mut();
                }
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
        self.close()
    }
}

fn exec_reply(db: *mut ffi::sqlite3) -> Out {
    let mut o = Out::ok();
    unsafe {
        o.i64(ffi::sqlite3_changes64(db));
        o.i64(ffi::sqlite3_last_insert_rowid(db));
    }
    o
}

/// Runs `f` all or nothing: in a transaction begun with `begin` when the
/// connection is in autocommit mode, else in the savepoint `name`;
/// committed (released) when `f` succeeds, rolled back when it fails.
fn atomically<T>(
    db: *mut ffi::sqlite3,
    begin: &str,
    name: &str,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let was_autocommit = unsafe { ffi::sqlite3_get_autocommit(db) } != 0;
    if was_autocommit {
        exec_simple(db, begin)?;
    } else {
        exec_simple(db, &format!("SAVEPOINT {name}"))?;
    }
    match f() {
        Ok(v) => {
            let close = if was_autocommit { "COMMIT".to_string() } else { format!("RELEASE {name}") };
            if let Err(e) = exec_simple(db, &close) {
                if was_autocommit {
                    let _ = exec_simple(db, "ROLLBACK");
                }
                return Err(e);
            }
            Ok(v)
        }
        Err(e) => {
            if was_autocommit {
                let _ = exec_simple(db, "ROLLBACK");
            } else {
                let _ = exec_simple(db, &format!("ROLLBACK TO {name}"));
                let _ = exec_simple(db, &format!("RELEASE {name}"));
            }
            Err(e)
        }
    }
}

fn exec_simple(db: *mut ffi::sqlite3, sql: &str) -> Result<(), Error> {
    let stmt = prepare_one(db, sql.as_bytes())?;
    let r = step_to_done(db, stmt);
    unsafe { ffi::sqlite3_finalize(stmt) };
    r
}

/// Prepares the first statement of `sql`; `Ok(None)` when only whitespace
/// and comments remain. Returns the statement and the offset after it.
fn prepare_next(
    db: *mut ffi::sqlite3,
    sql: &[u8],
    from: usize,
) -> Result<(Option<*mut ffi::sqlite3_stmt>, usize), Error> {
    let rest = &sql[from..];
    if rest.len() > i32::MAX as usize {
        return Err(Error::new(Kind::Misuse, "SQL text is larger than 2 GiB"));
    }
    let mut stmt = ptr::null_mut();
    let mut tail: *const c_char = ptr::null();
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(
            db,
            rest.as_ptr() as *const c_char,
            rest.len() as c_int,
            &mut stmt,
            &mut tail,
        )
    };
    let used = if tail.is_null() { rest.len() } else { tail as usize - rest.as_ptr() as usize };
    if rc != ffi::SQLITE_OK {
        return Err(sqlite_error(db, rc).with_sql(rest));
    }
    Ok((if stmt.is_null() { None } else { Some(stmt) }, from + used))
}

/// Prepares exactly one statement: several statements, or none, is an error
/// rather than running part of the text.
fn prepare_one(db: *mut ffi::sqlite3, sql: &[u8]) -> Result<*mut ffi::sqlite3_stmt, Error> {
    check_no_nul(sql)?;
    let (stmt, end) = prepare_next(db, sql, 0)?;
    let stmt = stmt.ok_or_else(|| {
        Error::new(Kind::Misuse, "SQL text contains no statement").with_sql(sql)
    })?;
    if end < sql.len() {
        let more = match prepare_next(db, sql, end) {
            Ok((Some(s), _)) => {
                unsafe { ffi::sqlite3_finalize(s) };
                true
            }
            Ok((None, _)) => false,
            Err(_) => true,
        };
        if more {
            unsafe { ffi::sqlite3_finalize(stmt) };
            return Err(Error::new(
                Kind::Misuse,
                format!(
                    "SQL text holds more than one statement (the second starts at byte {end}); \
                     use batch for a script"
                ),
            )
            .with_sql(sql));
        }
    }
    Ok(stmt)
}

fn step_to_done(db: *mut ffi::sqlite3, stmt: *mut ffi::sqlite3_stmt) -> Result<(), Error> {
    loop {
        match unsafe { ffi::sqlite3_step(stmt) } {
            ffi::SQLITE_ROW => continue,
            ffi::SQLITE_DONE => return Ok(()),
            rc => {
                let e = sqlite_error(db, rc);
                unsafe { ffi::sqlite3_reset(stmt) };
                return Err(e);
            }
        }
    }
}

/// `ran` counts the statements started.
fn run_script(db: *mut ffi::sqlite3, sql: &[u8], atomic: bool, ran: &mut u64) -> Result<(), Error> {
    let mut pos = 0;
    let mut index = 0usize;
    while pos < sql.len() {
        let start = pos;
        let (stmt, next) = prepare_next(db, sql, pos).map_err(|mut e| {
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

fn bind_one(
    stmt: *mut ffi::sqlite3_stmt,
    idx: c_int,
    v: &Param,
    db: *mut ffi::sqlite3,
    what: &dyn Fn() -> String,
) -> Result<(), Error> {
    let rc = unsafe {
        match *v {
            Param::Null => ffi::sqlite3_bind_null(stmt, idx),
            Param::Integer(i) => ffi::sqlite3_bind_int64(stmt, idx, i),
            Param::Real(f) => {
                if f.is_nan() {
                    return Err(Error::new(
                        Kind::Misuse,
                        format!("{}: NaN cannot be stored (SQLite turns it into NULL)", what()),
                    ));
                }
                ffi::sqlite3_bind_double(stmt, idx, f)
            }
            Param::Text(s) => {
                if std::str::from_utf8(s).is_err() {
                    return Err(Error::new(
                        Kind::Misuse,
                        format!("{}: Text is not valid UTF-8 (use Blob for binary data)", what()),
                    ));
                }
                ffi::sqlite3_bind_text64(
                    stmt,
                    idx,
                    s.as_ptr() as *const c_char,
                    s.len() as u64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as u8,
                )
            }
            Param::Blob(b) => ffi::sqlite3_bind_blob64(
                stmt,
                idx,
                b.as_ptr() as *const std::ffi::c_void,
                b.len() as u64,
                ffi::SQLITE_STATIC(),
            ),
        }
    };
    if rc != ffi::SQLITE_OK {
        let mut e = sqlite_error(db, rc);
        e.message = format!("{}: {}", what(), e.message);
        return Err(e);
    }
    Ok(())
}

fn param_name(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Option<String> {
    let p = unsafe { ffi::sqlite3_bind_parameter_name(stmt, i) };
    if p.is_null() {
        None
    } else {
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

/// Binds parameters straight from their wire encoding. The text and blob
/// bytes are bound without a copy (`SQLITE_STATIC`): the caller keeps the
/// buffer alive while the statement runs. Every parameter of the statement
/// is bound on every execution (a count or name that does not match is an
/// error, never a silent NULL), so stale bindings are never read.
fn bind(stmt: *mut ffi::sqlite3_stmt, buf: &[u8], db: *mut ffi::sqlite3) -> Result<(), Error> {
    let expected = unsafe { ffi::sqlite3_bind_parameter_count(stmt) } as usize;
    let mut r = Reader::new(buf);
    let (kind, n) = if buf.is_empty() { (0, 0) } else { (r.u8()?, r.u32()? as usize) };
    match kind {
        wire::PARAMS_POSITIONAL => {
            if n != expected {
                return Err(Error::new(
                    Kind::Misuse,
                    format!("statement expects {expected} parameter(s), {n} given"),
                ));
            }
            for i in 1..=n {
                let v = r.value()?;
                bind_one(stmt, i as c_int, &v, db, &|| format!("parameter {i}"))?;
            }
            Ok(())
        }
        wire::PARAMS_NAMED => {
            let mut bound = vec![false; expected + 1];
            for _ in 0..n {
                let name = r.bytes()?;
                let v = r.value()?;
                let name_s = || String::from_utf8_lossy(name).into_owned();
                let idx = resolve_name(stmt, name).ok_or_else(|| {
                    Error::new(
                        Kind::Misuse,
                        format!("statement has no parameter named {:?}", name_s()),
                    )
                })?;
                if bound[idx as usize] {
                    return Err(Error::new(
                        Kind::Misuse,
                        format!("parameter {:?} is given more than once", name_s()),
                    ));
                }
                bound[idx as usize] = true;
                bind_one(stmt, idx, &v, db, &|| format!("parameter {:?}", name_s()))?;
            }
            if let Some(i) = (1..=expected).find(|&i| !bound[i]) {
                let name = param_name(stmt, i as c_int);
                return Err(Error::new(
                    Kind::Misuse,
                    match name {
                        Some(n) => format!("parameter {n:?} is not given"),
                        None => format!("positional parameter {i} cannot be given by name"),
                    },
                ));
            }
            Ok(())
        }
        _ if expected == 0 => Ok(()),
        _ => Err(Error::new(
            Kind::Misuse,
            format!("statement expects {expected} parameter(s), none given"),
        )),
    }
}

/// Finds a named parameter: a name with its prefix (`:id`, `@id`, `$id`,
/// `?3`) as written, or a bare name (`id`) under any of the three prefixes.
fn resolve_name(stmt: *mut ffi::sqlite3_stmt, name: &[u8]) -> Option<c_int> {
    let lookup = |n: &[u8]| -> Option<c_int> {
        let c = CString::new(n).ok()?;
        let i = unsafe { ffi::sqlite3_bind_parameter_index(stmt, c.as_ptr()) };
        if i > 0 {
            Some(i)
        } else {
            None
        }
    };
    match name.first() {
        Some(b':' | b'@' | b'$' | b'?') => lookup(name),
        Some(_) => [b':', b'@', b'$'].iter().find_map(|p| {
            let mut n = vec![*p];
            n.extend_from_slice(name);
            lookup(&n)
        }),
        None => None,
    }
}

pub struct StmtState {
    raw: *mut ffi::sqlite3_stmt,
    /// The parameter bytes the current bindings point into.
    params: Vec<u8>,
    /// The re-prepare count when the column header was last sent: the
    /// OCaml side caches it, and it is sent again if SQLite re-prepared
    /// the statement (a schema change can change its columns).
    header_for: Option<i32>,
    /// Bumped by every new execution, so that a stale cursor is detected.
    generation: u64,
    /// Rows are pending (stepped but not finished).
    active: bool,
    ncols: usize,
}
unsafe impl Send for StmtState {}

pub struct Stmt {
    conn: Arc<Conn>,
    state: Mutex<StmtState>,
}

impl Drop for Stmt {
    fn drop(&mut self) {
        let raw = std::mem::replace(&mut self.state.get_mut().raw, ptr::null_mut());
        if raw.is_null() {
            return;
        }
        // The GC may drop a statement while another thread is using the
        // connection: never block here, hand it to the connection instead.
        match self.conn.state.try_lock() {
            Some(st) if st.db.is_null() => {}
            Some(_st) => unsafe {
                ffi::sqlite3_finalize(raw);
            },
            None => {
                self.conn.graveyard.lock().push(RawStmt(raw));
                self.conn.graveyard_nonempty.store(true, Ordering::Release);
            }
        }
    }
}

/// Upper bound on the bytes of one chunk of rows; a single larger row still
/// goes in a chunk of its own.
const CHUNK_BYTES: usize = 1 << 18;

impl Stmt {
    pub fn serial(&self) -> &Arc<Serial> {
        &self.conn.serial
    }

    /// Takes the connection and the statement for a new execution: resets
    /// it, and binds `params` unless `None`.
    fn begin(
        &self,
        params: Option<Vec<u8>>,
    ) -> Result<(Live<'_>, parking_lot::MutexGuard<'_, StmtState>), Error> {
        let l = self.conn.live()?;
        let mut s = self.state.lock();
        if s.raw.is_null() {
            return Err(Error::closed("statement"));
        }
        unsafe { ffi::sqlite3_reset(s.raw) };
        s.active = false;
        s.generation += 1;
        let Some(params) = params else { return Ok((l, s)) };
        let old = std::mem::replace(&mut s.params, params);
        wire::give_buf(old);
        let raw = s.raw;
        // SAFETY: the bindings point into s.params, kept until the next begin.
        let p: &[u8] = unsafe { std::slice::from_raw_parts(s.params.as_ptr(), s.params.len()) };
        if let Err(e) = bind(raw, p, l.st.db) {
            return Err(e.with_sql(&self.sql_of(raw)));
        }
        Ok((l, s))
    }

    fn sql_of(&self, raw: *mut ffi::sqlite3_stmt) -> Vec<u8> {
        let p = unsafe { ffi::sqlite3_sql(raw) };
        if p.is_null() {
            Vec::new()
        } else {
            unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
        }
    }

    pub fn execute(&self, params: Vec<u8>) -> Result<Out, Error> {
        let (l, s) = self.begin(Some(params))?;
        self.conn.stats.statements(1);
        let r = step_to_done(l.st.db, s.raw);
        unsafe { ffi::sqlite3_reset(s.raw) };
        r.map_err(|e| e.with_sql(&self.sql_of(s.raw)))?;
        Ok(exec_reply(l.st.db))
    }

    /// Starts a query: generation, a has-header byte and (if asked for or
    /// if the statement was re-prepared since) the column header, then the
    /// first chunk.
    pub fn query(&self, params: Vec<u8>, max_rows: usize, want_header: bool) -> Result<Out, Error> {
        let (l, mut s) = self.begin(Some(params))?;
        self.conn.stats.statements(1);
        let s = &mut *s;
        s.active = true;
        let mut out = Out::ok();
        out.i64(s.generation as i64);
        let reprepared =
            unsafe { ffi::sqlite3_stmt_status(s.raw, ffi::SQLITE_STMTSTATUS_REPREPARE, 0) };
        if want_header || s.header_for != Some(reprepared) {
            s.header_for = Some(reprepared);
            s.ncols = unsafe { ffi::sqlite3_column_count(s.raw) } as usize;
            out.u8(1);
            out.u32(s.ncols as u32);
            for i in 0..s.ncols as c_int {
                out.bytes(cstr_bytes(unsafe { ffi::sqlite3_column_name(s.raw, i) }));
                out.bytes(cstr_bytes(unsafe { ffi::sqlite3_column_decltype(s.raw, i) }));
            }
        } else {
            out.u8(0);
        }
        let r = fill_chunk(l.st.db, s, &mut out, max_rows);
        self.finish_chunk(s, out, r)
    }

    /// The next chunk of a query started with [query] in generation `generation`.
    pub fn fetch(&self, generation: u64, max_rows: usize) -> Result<Out, Error> {
        let l = self.conn.live()?;
        let mut s = self.state.lock();
        let s = &mut *s;
        if s.raw.is_null() {
            return Err(Error::closed("statement"));
        }
        if s.generation != generation {
            return Err(Error::new(
                Kind::Misuse,
                "this result set was invalidated: its statement was executed again",
            ));
        }
        let mut out = Out::ok();
        if !s.active {
            out.u32(0);
            out.u8(1);
            return Ok(out);
        }
        let r = fill_chunk(l.st.db, s, &mut out, max_rows);
        self.finish_chunk(s, out, r)
    }

    fn finish_chunk(&self, s: &mut StmtState, out: Out, r: Result<(), Error>) -> Result<Out, Error> {
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                wire::give_buf(out.buf);
                s.active = false;
                unsafe { ffi::sqlite3_reset(s.raw) };
                Err(e.with_sql(&self.sql_of(s.raw)))
            }
        }
    }

    /// Runs the statement once per parameter set, all or nothing: inside a
    /// transaction (or a savepoint when one is already open).
    pub fn execute_many(&self, sets: Vec<u8>) -> Result<Out, Error> {
        let (l, mut s) = self.begin(None)?;
        let db = l.st.db;
        let raw = s.raw;
        wire::give_buf(std::mem::replace(&mut s.params, sets));
        // SAFETY: the bindings point into s.params, kept until the next begin.
        let buf: &[u8] = unsafe { std::slice::from_raw_parts(s.params.as_ptr(), s.params.len()) };
        let mut total: i64 = 0;
        atomically(db, "BEGIN", "turso_many", || {
            let r: Result<(), Error> = (|| {
                let take = |at: usize| -> Result<usize, Error> {
                    buf.get(at..at + 4)
                        .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
                        .ok_or_else(|| Error::new(Kind::Internal, "malformed parameter sets"))
                };
                let n = take(0)?;
                let mut pos = 4;
                for k in 0..n {
                    let len = take(pos)?;
                    let set = buf
                        .get(pos + 4..pos + 4 + len)
                        .ok_or_else(|| Error::new(Kind::Internal, "malformed parameter sets"))?;
                    pos += 4 + len;
                    let tag = |mut e: Error| {
                        e.message = format!("parameter set {k}: {}", e.message);
                        e
                    };
                    unsafe { ffi::sqlite3_reset(raw) };
                    self.conn.stats.statements(1);
                    bind(raw, set, db).map_err(tag)?;
                    step_to_done(db, raw).map_err(tag)?;
                    total += unsafe { ffi::sqlite3_changes64(db) };
                }
                Ok(())
            })();
            unsafe { ffi::sqlite3_reset(raw) };
            r
        })
        .map_err(|e| if e.message.starts_with("parameter set") { e.with_sql(&self.sql_of(raw)) } else { e })?;
        let mut o = Out::ok();
        o.i64(total);
        o.i64(unsafe { ffi::sqlite3_last_insert_rowid(db) });
        Ok(o)
    }

    /// Abandons the result set being read. With `Some(g)`, only if it is
    /// the one of generation `g` (a newer execution is left alone).
    pub fn reset(&self, generation: Option<u64>) -> Result<(), Error> {
        let _l = self.conn.live()?;
        let mut s = self.state.lock();
        if s.raw.is_null() {
            return Err(Error::closed("statement"));
        }
        if generation.is_some_and(|g| g != s.generation) {
            return Ok(());
        }
        unsafe { ffi::sqlite3_reset(s.raw) };
        s.active = false;
        s.generation += 1;
        Ok(())
    }

    pub fn parameter_count(&self) -> Result<i64, Error> {
        let s = self.state.lock();
        if s.raw.is_null() {
            return Err(Error::closed("statement"));
        }
        Ok(unsafe { ffi::sqlite3_bind_parameter_count(s.raw) } as i64)
    }

    pub fn close(&self) {
        let l = self.conn.state.lock();
        let mut s = self.state.lock();
        if !s.raw.is_null() && !l.db.is_null() {
            unsafe { ffi::sqlite3_finalize(s.raw) };
        }
        s.raw = ptr::null_mut();
        s.active = false;
    }
}

fn cstr_bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        &[]
    } else {
        unsafe { CStr::from_ptr(p) }.to_bytes()
    }
}

/// Steps up to `max_rows` rows into `out`: a u32 row count, the values row
/// by row, then a done byte. When the statement is done it is reset at once,
/// so that a finished query holds no lock. `max_rows == 0` asks for the
/// first row only: the statement is reset after it, and the chunk is done.
fn fill_chunk(
    db: *mut ffi::sqlite3,
    s: &mut StmtState,
    out: &mut Out,
    max_rows: usize,
) -> Result<(), Error> {
    let count_at = out.buf.len();
    out.u32(0);
    let mut n = 0u32;
    let stmt = s.raw;
    let ncols = s.ncols as c_int;
    let mut done = false;
    let single = max_rows == 0;
    while (n as usize) < max_rows.max(1) && out.buf.len() < CHUNK_BYTES {
        match unsafe { ffi::sqlite3_step(stmt) } {
            ffi::SQLITE_ROW => {
                for i in 0..ncols {
                    unsafe { encode_column(stmt, i, out)? };
                }
                n += 1;
            }
            ffi::SQLITE_DONE => {
                done = true;
                break;
            }
            rc => return Err(sqlite_error(db, rc)),
        }
    }
    if single {
        done = true;
    }
    out.patch_u32(count_at, n);
    out.u8(done as u8);
    if done {
        s.active = false;
        unsafe { ffi::sqlite3_reset(stmt) };
    }
    Ok(())
}

#[inline]
unsafe fn encode_column(stmt: *mut ffi::sqlite3_stmt, i: c_int, out: &mut Out) -> Result<(), Error> {
    match ffi::sqlite3_column_type(stmt, i) {
        ffi::SQLITE_INTEGER => {
            out.u8(wire::TAG_INTEGER);
            out.i64(ffi::sqlite3_column_int64(stmt, i));
        }
        ffi::SQLITE_FLOAT => {
            out.u8(wire::TAG_REAL);
            out.i64(ffi::sqlite3_column_double(stmt, i).to_bits() as i64);
        }
        ffi::SQLITE_TEXT => {
            let p = ffi::sqlite3_column_text(stmt, i);
            let n = ffi::sqlite3_column_bytes(stmt, i) as usize;
            let b: &[u8] = if p.is_null() { &[] } else { std::slice::from_raw_parts(p, n) };
            if std::str::from_utf8(b).is_err() {
                let name = String::from_utf8_lossy(cstr_bytes(ffi::sqlite3_column_name(stmt, i)));
                return Err(Error::new(
                    Kind::Decode,
                    format!(
                        "column {i} ({name}) holds TEXT that is not valid UTF-8; \
                         read it as a BLOB (CAST({name} AS BLOB))"
                    ),
                ));
            }
            out.u8(wire::TAG_TEXT);
            out.bytes(b);
        }
        ffi::SQLITE_BLOB => {
            let p = ffi::sqlite3_column_blob(stmt, i) as *const u8;
            let n = ffi::sqlite3_column_bytes(stmt, i) as usize;
            let b: &[u8] = if p.is_null() { &[] } else { std::slice::from_raw_parts(p, n) };
            out.u8(wire::TAG_BLOB);
            out.bytes(b);
        }
        _ => out.u8(wire::TAG_NULL),
    }
    Ok(())
}

/// Steps a bound statement to its end and appends its result: u32 column
/// count, (name, declared type) per column, u32 row count, the values, i64
/// rows changed, u8 has-rowid, i64 last insert rowid. The rowid is there
/// when the statement inserted (as sqld reports it): the connection's last
/// insert rowid moved, or an INSERT/REPLACE changed rows.
unsafe fn encode_result(db: *mut ffi::sqlite3, stmt: *mut ffi::sqlite3_stmt, sql: &[u8], out: &mut Out) -> Result<(), Error> {
    let ncols = ffi::sqlite3_column_count(stmt);
    out.u32(ncols as u32);
    for i in 0..ncols {
        out.bytes(cstr_bytes(ffi::sqlite3_column_name(stmt, i)));
        out.bytes(cstr_bytes(ffi::sqlite3_column_decltype(stmt, i)));
    }
    let count_at = out.buf.len();
    out.u32(0);
    let rowid_before = ffi::sqlite3_last_insert_rowid(db);
    let total_before = ffi::sqlite3_total_changes64(db);
    let mut n = 0u32;
    loop {
        match ffi::sqlite3_step(stmt) {
            ffi::SQLITE_ROW => {
                for i in 0..ncols {
                    encode_column(stmt, i, out)?;
                }
                n += 1;
            }
            ffi::SQLITE_DONE => break,
            rc => return Err(sqlite_error(db, rc)),
        }
    }
    out.patch_u32(count_at, n);
    let changed = ffi::sqlite3_total_changes64(db) != total_before;
    let changes = if changed && ffi::sqlite3_stmt_readonly(stmt) == 0 { ffi::sqlite3_changes64(db) } else { 0 };
    out.i64(changes);
    let rowid = ffi::sqlite3_last_insert_rowid(db);
    let first = leading_words(sql, 1);
    let inserted = rowid != rowid_before
        || (changes > 0 && matches!(first.first().map(String::as_str), Some("INSERT" | "REPLACE")));
    out.u8(inserted as u8);
    out.i64(rowid);
    Ok(())
}

/// A column as a libsql value; TEXT must be UTF-8 (a `Decode` error
/// otherwise) and keeps any NUL bytes.
unsafe fn column_value(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Result<libsql::Value, Error> {
    Ok(match ffi::sqlite3_column_type(stmt, i) {
        ffi::SQLITE_INTEGER => libsql::Value::Integer(ffi::sqlite3_column_int64(stmt, i)),
        ffi::SQLITE_FLOAT => libsql::Value::Real(ffi::sqlite3_column_double(stmt, i)),
        ffi::SQLITE_TEXT => {
            let p = ffi::sqlite3_column_text(stmt, i);
            let n = ffi::sqlite3_column_bytes(stmt, i) as usize;
            let b: &[u8] = if p.is_null() { &[] } else { std::slice::from_raw_parts(p, n) };
            libsql::Value::Text(String::from_utf8(b.to_vec()).map_err(|_| {
                let name = String::from_utf8_lossy(cstr_bytes(ffi::sqlite3_column_name(stmt, i)));
                Error::new(Kind::Decode, format!("column {i} ({name}) holds TEXT that is not valid UTF-8; read it as a BLOB (CAST(... AS BLOB))"))
            })?)
        }
        ffi::SQLITE_BLOB => {
            let p = ffi::sqlite3_column_blob(stmt, i) as *const u8;
            let n = ffi::sqlite3_column_bytes(stmt, i) as usize;
            libsql::Value::Blob(if p.is_null() { Vec::new() } else { std::slice::from_raw_parts(p, n).to_vec() })
        }
        _ => libsql::Value::Null,
    })
}
