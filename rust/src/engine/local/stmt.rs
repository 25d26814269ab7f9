//! A local prepared statement: executed again and again with new
//! parameters, its rows read in chunks of bounded size (so that a large
//! result never sits whole in memory on either side), a stale cursor
//! detected by its generation. The GC may drop a statement on any thread
//! while its connection is busy, so dropping one never blocks.

use std::ffi::{c_int, CStr};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use libsql::ffi;
use parking_lot::Mutex;

use super::sqlite::{atomically, bind, cstr_bytes, encode_column, exec_reply, sqlite_error, step_to_done};
use super::{Conn, Live, RawStmt};
use crate::error::{Error, Kind};
use crate::executor::Serial;
use crate::wire::{self, Out};

struct StmtState {
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
    /// Tries of [Stmt::query_one_now] to skip: set when one ran past its
    /// budget (the same statement likely will again, and a stopped try is
    /// work thrown away on the event loop's thread).
    now_skip: u32,
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
        if raw.is_null() || crate::fork::forked() {
            return; // in a fork's child: the parent's statement (see Db's drop)
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

/// The SQLite VM steps a query run on the event loop's thread may take
/// ([Stmt::query_one_now]): a point lookup takes a few dozen; past this
/// (tens of microseconds) it goes to a worker instead.
const NOW_BUDGET: c_int = 2000;

/// Tries skipped after one that ran past [NOW_BUDGET].
const NOW_SKIP: u32 = 64;

/// Upper bound on the bytes of one chunk of rows; a single larger row still
/// goes in a chunk of its own.
const CHUNK_BYTES: usize = 1 << 18;

impl Stmt {
    /// A statement of `conn` (whose lock the caller holds).
    pub(super) fn new(conn: Arc<Conn>, raw: *mut ffi::sqlite3_stmt) -> Arc<Stmt> {
        let ncols = unsafe { ffi::sqlite3_column_count(raw) } as usize;
        Arc::new(Stmt {
            conn,
            state: Mutex::new(StmtState {
                raw,
                params: Vec::new(),
                generation: 0,
                header_for: None,
                active: false,
                now_skip: 0,
                ncols,
            }),
        })
    }

    /// Finalizes the statement now: its connection is closing (and the
    /// caller holds the connection's lock, so [Stmt::close] would wait on
    /// it).
    pub(super) fn finalize(&self) {
        let mut s = self.state.lock();
        if !s.raw.is_null() {
            unsafe { ffi::sqlite3_finalize(s.raw) };
            s.raw = ptr::null_mut();
        }
    }

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
        let s = self.state.lock();
        self.start(l, s, params)
    }

    /// [Stmt::begin] with the locks taken.
    fn start<'a>(
        &'a self,
        l: Live<'a>,
        mut s: parking_lot::MutexGuard<'a, StmtState>,
        params: Option<Vec<u8>>,
    ) -> Result<(Live<'a>, parking_lot::MutexGuard<'a, StmtState>), Error> {
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
        self.run_query(&l, &mut s, max_rows, want_header)
    }

    /// A one-row query ([Stmt::query] with `max_rows` 0) run now, on the
    /// calling thread, when it surely will not make the caller wait: the
    /// connection and the statement free (no lock waited for), a
    /// read-only statement, no busy wait (a locked database is `None`, not
    /// a sleep) and a budget of SQLite VM steps (a longer query is
    /// stopped: `None`). `None`: nothing happened that shows (the
    /// statement reset, its header state as before); run it the usual
    /// way. Turso_lwt tries this before handing a query to a worker.
    pub fn query_one_now(&self, params: Vec<u8>, want_header: bool) -> Option<Result<Out, Error>> {
        let l = self.conn.try_live()?;
        let mut s = self.state.try_lock()?;
        if s.raw.is_null() || unsafe { ffi::sqlite3_stmt_readonly(s.raw) } == 0 {
            return None;
        }
        if s.now_skip > 0 {
            s.now_skip -= 1;
            return None;
        }
        let (db, busy_ms, header_for) = (l.st.db, l.st.busy_ms, s.header_for);
        // SQLite calls the progress handler when the statement's step count,
        // summed over all its runs, crosses a multiple of the budget: start
        // the count afresh, so that the budget is this run's.
        unsafe { ffi::sqlite3_stmt_status(s.raw, ffi::SQLITE_STMTSTATUS_VM_STEP, 1) };
        extern "C" fn stop(_: *mut std::ffi::c_void) -> c_int {
            1
        }
        unsafe {
            ffi::sqlite3_busy_timeout(db, 0);
            ffi::sqlite3_progress_handler(db, NOW_BUDGET, Some(stop), ptr::null_mut());
        }
        // Stopped by the budget, or a lock it would have waited for: the
        // try leaves no trace (run_query's error path reset the statement;
        // the header state is put back), and the statement skips its next
        // tries if it was too long.
        let r = match self.start(l, s, Some(params)) {
            Err(e) => Some(Err(e)),
            Ok((l, mut s)) => match self.run_query(&l, &mut s, 0, want_header) {
                Err(e) if matches!(e.code.unwrap_or(0) & 0xff, ffi::SQLITE_INTERRUPT | ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED) => {
                    s.header_for = header_for;
                    if e.code.unwrap_or(0) & 0xff == ffi::SQLITE_INTERRUPT {
                        s.now_skip = NOW_SKIP;
                    }
                    None
                }
                r => Some(r),
            },
        };
        unsafe {
            ffi::sqlite3_progress_handler(db, 0, None, ptr::null_mut());
            ffi::sqlite3_busy_timeout(db, busy_ms);
        }
        if r.is_some() {
            self.conn.stats.statements(1);
        }
        r
    }

    fn run_query(&self, l: &Live<'_>, s: &mut StmtState, max_rows: usize, want_header: bool) -> Result<Out, Error> {
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

    /// The next chunk of a query started with [Stmt::query] in generation `generation`.
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
    // The cap counts this chunk's rows only (not the header before them:
    // a 256 KiB column name would leave no room), and the first row always
    // fits: a chunk holds at least one row, or a single-row query would
    // see none.
    while (n as usize) < max_rows.max(1) && (n == 0 || out.buf.len() - count_at < CHUNK_BYTES) {
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
