//! The OCaml boundary: the only module that uses ocaml-interop.
//!
//! Every export copies its inputs out of the OCaml heap, releases the
//! runtime lock, runs the work (catching panics), re-takes the lock and
//! returns bytes in the `wire` format. Arguments are read before anything
//! is allocated on the OCaml heap, so they need no GC roots.
//!
//! Each operation is written once, as a [Job] (the connection's queue and
//! the work), and exported twice: `turso_x` runs it now, with the runtime
//! lock released (the blocking API); `turso_x_async` queues it and replies
//! through the executor's completions (the Lwt API), taking one more
//! argument, the request id.
//!
//! The handles ([DbH], [ConnH], [StmtH]) are the one place that knows the
//! engines by name: one variant per engine, and an operation is written
//! once over all of them (`on!`). Plain exports, which touch no database
//! (completions, the SQL scanner), run on the calling thread with the
//! runtime lock held.
//!
//! OCaml 4 uses ocaml-interop 0.10 (cargo feature `ocaml4`), OCaml 5 uses
//! 0.12 (feature `ocaml5`); lib/dune picks the feature from the compiler.
//! The two differ here in one place only: [runtime].

use std::borrow::Borrow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

#[cfg(all(feature = "ocaml4", feature = "ocaml5"))]
compile_error!("features ocaml4 and ocaml5 are exclusive");
#[cfg(not(any(feature = "ocaml4", feature = "ocaml5")))]
compile_error!("choose feature ocaml4 (OCaml 4.x) or ocaml5 (OCaml 5.x)");

#[cfg(feature = "ocaml5")]
use ocaml_interop as oi;
#[cfg(all(feature = "ocaml4", not(feature = "ocaml5")))]
use ocaml_interop_010 as oi;

use oi::{alloc_error, alloc_ok, DynBox, OCaml, OCamlInt, OCamlRuntime, RawOCaml, ToOCaml};

use crate::engine::{local, remote, replica, synced};
use crate::error::{panic_error, Error, Kind};
use crate::executor::{self, Job};
use crate::fork;
use crate::sql;
use crate::wire::{self, Out};

/// The runtime handle of the calling thread (which holds the runtime lock).
#[cfg(feature = "ocaml5")]
fn runtime() -> &'static mut OCamlRuntime {
    unsafe { oi::internal::recover_runtime_handle_mut() }
}
#[cfg(all(feature = "ocaml4", not(feature = "ocaml5")))]
fn runtime() -> &'static mut OCamlRuntime {
    unsafe { OCamlRuntime::recover_handle() }
}

/// Exports operations that reply with bytes (see the module comment).
macro_rules! reply_ops {
    ($(fn $name:ident / $async_name:ident ($($arg:ident: $ty:ty),*) $body:block)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($($arg: RawOCaml),*) -> RawOCaml {
            let cr = runtime();
            if fork::forked() {
                return unsafe { to_ocaml_reply(cr, wire::error_reply(&fork::error())).raw() };
            }
            $(let $arg: OCaml<$ty> = unsafe { OCaml::new(cr, $arg) };)*
            let job: Job<Vec<u8>> = $body;
            let reply = run_now(cr, job.run);
            unsafe { to_ocaml_reply(cr, reply).raw() }
        }

        #[no_mangle]
        pub extern "C" fn $async_name($($arg: RawOCaml,)* id: RawOCaml) -> RawOCaml {
            let cr = runtime();
            $(let $arg: OCaml<$ty> = unsafe { OCaml::new(cr, $arg) };)*
            let id: i64 = unsafe { OCaml::<OCamlInt>::new(cr, id) }.to_rust();
            let job: Job<Vec<u8>> = $body;
            executor::submit_reply(job, id as u64);
            unsafe { OCaml::unit().raw() }
        }
    )*};
}

/// Exports operations that make a handle: `(handle, error reply) result`
/// now, or, queued, an OK reply after which the OCaml side takes the handle
/// with the matching `turso_take_*`.
macro_rules! handle_ops {
    ($(fn $name:ident / $async_name:ident ($($arg:ident: $ty:ty),*) -> $h:ty $body:block)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($($arg: RawOCaml),*) -> RawOCaml {
            let cr = runtime();
            if fork::forked() {
                return unsafe { handle_result::<$h>(cr, Err(fork::error())).raw() };
            }
            $(let $arg: OCaml<$ty> = unsafe { OCaml::new(cr, $arg) };)*
            let job: Job<Result<$h, Error>> = $body;
            let run = job.run;
            let r = blocking(cr, run);
            unsafe { handle_result(cr, r).raw() }
        }

        #[no_mangle]
        pub extern "C" fn $async_name($($arg: RawOCaml,)* id: RawOCaml) -> RawOCaml {
            let cr = runtime();
            $(let $arg: OCaml<$ty> = unsafe { OCaml::new(cr, $arg) };)*
            let id: i64 = unsafe { OCaml::<OCamlInt>::new(cr, id) }.to_rust();
            let job: Job<Result<$h, Error>> = $body;
            executor::submit_handle(job, id as u64);
            unsafe { OCaml::unit().raw() }
        }
    )*};
}

/// Plain exports: run on the calling thread, with the runtime lock held
/// (they do not wait on SQLite).
macro_rules! export {
    ($(fn $name:ident($cr:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty $body:block)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($($arg: RawOCaml),*) -> RawOCaml {
            let $cr = runtime();
            $(let $arg: OCaml<$ty> = unsafe { OCaml::new($cr, $arg) };)*
            let r: $ret = $body;
            unsafe { r.raw() }
        }
    )*};
}

/// A handle, whatever its engine: the one place that dispatches on the
/// engine. Every engine's types have the same methods, so an operation is
/// written once, with `on!`; a new engine is one more variant in each.
#[derive(Clone)]
pub enum DbH {
    Local(Arc<local::Db>),
    Remote(Arc<remote::Db>),
    Replica(Arc<replica::Db>),
    Synced(Arc<synced::Db>),
}

#[derive(Clone)]
pub enum ConnH {
    Local(Arc<local::Conn>),
    Remote(Arc<remote::Conn>),
    Replica(Arc<replica::Conn>),
    Synced(Arc<synced::Conn>),
}

#[derive(Clone)]
pub enum StmtH {
    Local(Arc<local::Stmt>),
    Remote(Arc<remote::Stmt>),
    Replica(Arc<replica::Stmt>),
    Synced(Arc<synced::Stmt>),
}

/// `on!(h, x => expr)`: `expr` with `x` bound to the handle's inner value,
/// whatever its engine.
macro_rules! on {
    ($h:expr, $x:ident => $e:expr) => {
        match $h {
            DbH::Local($x) => $e,
            DbH::Remote($x) => $e,
            DbH::Replica($x) => $e,
            DbH::Synced($x) => $e,
        }
    };
}
macro_rules! on_conn {
    ($h:expr, $x:ident => $e:expr) => {
        match $h {
            ConnH::Local($x) => $e,
            ConnH::Remote($x) => $e,
            ConnH::Replica($x) => $e,
            ConnH::Synced($x) => $e,
        }
    };
}
macro_rules! on_stmt {
    ($h:expr, $x:ident => $e:expr) => {
        match $h {
            StmtH::Local($x) => $e,
            StmtH::Remote($x) => $e,
            StmtH::Replica($x) => $e,
            StmtH::Synced($x) => $e,
        }
    };
}

impl DbH {
    fn serial(&self) -> Arc<executor::Serial> {
        on!(self, d => d.serial.clone())
    }
}

impl ConnH {
    fn serial(&self) -> Arc<executor::Serial> {
        on_conn!(self, c => c.serial.clone())
    }

    fn serial_idle(&self) -> bool {
        on_conn!(self, c => c.serial.idle())
    }
}

impl StmtH {
    fn serial(&self) -> Arc<executor::Serial> {
        on_stmt!(self, s => s.serial().clone())
    }
}

/// Runs `f` with the OCaml runtime lock released; a panic becomes an error.
fn blocking<T, F>(cr: &mut OCamlRuntime, f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error>,
{
    cr.releasing_runtime(|| catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p))))
}

fn out_reply(r: Result<Out, Error>) -> Vec<u8> {
    wire::reply(r)
}

fn unit_reply(r: Result<(), Error>) -> Vec<u8> {
    out_reply(r.map(|()| Out::ok()))
}

fn int_reply(r: Result<i64, Error>) -> Vec<u8> {
    out_reply(r.map(|i| {
        let mut o = Out::ok();
        o.i64(i);
        o
    }))
}

/// The reply as an OCaml string; its buffer goes back to the pool.
fn to_ocaml_reply(cr: &mut OCamlRuntime, reply: Vec<u8>) -> OCaml<'_, String> {
    let s = reply.as_slice().to_ocaml(cr);
    wire::give_buf(reply);
    s
}

fn handle_result<T: 'static>(cr: &mut OCamlRuntime, r: Result<T, Error>) -> OCaml<'_, Result<DynBox<T>, String>> {
    match r {
        Ok(h) => {
            let b = OCaml::box_value(cr, h).root();
            alloc_ok(cr, &b)
        }
        Err(e) => {
            let s = wire::error_reply(&e).as_slice().to_ocaml(cr).root();
            alloc_error(cr, &s)
        }
    }
}

fn get<T: Clone + 'static>(h: &OCaml<DynBox<T>>) -> T {
    Borrow::<T>::borrow(h).clone()
}

/// Copies an OCaml string into a pooled buffer (the runtime lock is
/// released next, and the GC may then move or free the string).
fn bytes(s: &OCaml<String>) -> Vec<u8> {
    let mut v = wire::take_buf();
    v.extend_from_slice(s.as_bytes());
    v
}

/// Runs a job's work now, with the runtime lock released; a panic becomes
/// an error reply.
fn run_now(cr: &mut OCamlRuntime, run: Box<dyn FnOnce() -> Vec<u8> + Send>) -> Vec<u8> {
    cr.releasing_runtime(|| catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|p| wire::error_reply(&panic_error(p))))
}

/// `key`: the encryption key (empty: none).
fn db_open(path: Vec<u8>, flags: i64, key: Vec<u8>) -> Result<DbH, Error> {
    fork::started();
    let path = String::from_utf8(path).map_err(|_| Error::new(Kind::Config, "database path is not valid UTF-8"))?;
    local::Db::open(&path, flags, (!key.is_empty()).then_some(key)).map(|d| DbH::Local(Arc::new(d)))
}

/// An argument that must be text (a path, a URL, a token).
fn text(b: Vec<u8>, what: &str) -> Result<String, Error> {
    String::from_utf8(b).map_err(|_| Error::new(Kind::Config, format!("the {what} is not valid UTF-8")))
}

/// Opening a database has no queue of its own yet: one shared queue.
fn open_queue() -> &'static Arc<executor::Serial> {
    static Q: std::sync::OnceLock<Arc<executor::Serial>> = std::sync::OnceLock::new();
    Q.get_or_init(executor::Serial::new)
}

handle_ops! {
    fn turso_db_open_local / turso_db_open_local_async (path: String, flags: OCamlInt, key: String) -> DbH {
        let (path, key) = (bytes(&path), bytes(&key));
        let flags: i64 = flags.to_rust();
        Job::new(open_queue(), move || db_open(path, flags, key))
    }

    fn turso_db_open_remote / turso_db_open_remote_async (url: String, token: String, opts: String) -> DbH {
        let (url, token, opts) = (bytes(&url), bytes(&token), bytes(&opts));
        Job::new(open_queue(), move || {
            let (url, token) = (text(url, "URL")?, text(token, "auth token")?);
            fork::started();
            remote::Db::open(&url, &token, &opts).map(|d| DbH::Remote(Arc::new(d)))
        })
    }

    fn turso_db_open_replica / turso_db_open_replica_async (path: String, url: String, token: String, opts: String) -> DbH {
        let (path, url, token, opts) = (bytes(&path), bytes(&url), bytes(&token), bytes(&opts));
        Job::new(open_queue(), move || {
            let (path, url, token) = (text(path, "path")?, text(url, "URL")?, text(token, "auth token")?);
            fork::started();
            replica::Db::open(&path, &url, &token, &opts).map(|d| DbH::Replica(Arc::new(d)))
        })
    }

    fn turso_db_open_synced / turso_db_open_synced_async (path: String, url: String, token: String, opts: String) -> DbH {
        let (path, url, token, opts) = (bytes(&path), bytes(&url), bytes(&token), bytes(&opts));
        Job::new(open_queue(), move || {
            let (path, url, token) = (text(path, "path")?, text(url, "URL")?, text(token, "auth token")?);
            fork::started();
            synced::Db::open(&path, &url, &token, &opts).map(DbH::Synced)
        })
    }

    fn turso_db_connect / turso_db_connect_async (db: DynBox<DbH>, busy_ms: OCamlInt) -> ConnH {
        let db = get(&db);
        let busy_ms: i64 = busy_ms.to_rust();
        Job::new(&db.serial(), move || match &db {
            DbH::Local(d) => d.connect(busy_ms).map(ConnH::Local),
            DbH::Remote(d) => d.connect(busy_ms).map(ConnH::Remote),
            DbH::Replica(d) => d.connect(busy_ms).map(ConnH::Replica),
            DbH::Synced(d) => d.connect(busy_ms).map(ConnH::Synced),
        })
    }

    fn turso_conn_prepare / turso_conn_prepare_async (conn: DynBox<ConnH>, sql: String) -> StmtH {
        let conn = get(&conn);
        let sql = bytes(&sql);
        Job::new(&conn.serial(), move || prepare(&conn, &sql))
    }
}

fn prepare(conn: &ConnH, sql: &[u8]) -> Result<StmtH, Error> {
    match conn {
        ConnH::Local(c) => c.prepare(sql).map(StmtH::Local),
        ConnH::Remote(c) => c.prepare(sql).map(StmtH::Remote),
        ConnH::Replica(c) => c.prepare(sql).map(StmtH::Replica),
        ConnH::Synced(c) => c.prepare(sql).map(StmtH::Synced),
    }
}

/// An operation only a synced database has; on another, a `Misuse` error
/// that says so.
fn synced_only(db: &DbH, what: &str, f: impl FnOnce(&synced::Db) -> Result<Out, Error>) -> Result<Out, Error> {
    match db {
        DbH::Synced(d) => f(d),
        _ => Err(Error::new(Kind::Misuse, format!("{what} is for synced databases (Db.open_synced)"))),
    }
}

/// `Conn.query` for the Lwt API: prepare and the first chunk in one job
/// (see `turso_conn_query_one`); on an OK reply the statement is taken with
/// `turso_take_stmt`. (The blocking API calls prepare, then query: a
/// thread's calls are in order anyway.)
#[no_mangle]
pub extern "C" fn turso_conn_query_async(
    conn: RawOCaml,
    sql: RawOCaml,
    params: RawOCaml,
    max_rows: RawOCaml,
    id: RawOCaml,
) -> RawOCaml {
    let cr = runtime();
    let conn: OCaml<DynBox<ConnH>> = unsafe { OCaml::new(cr, conn) };
    let sql: OCaml<String> = unsafe { OCaml::new(cr, sql) };
    let params: OCaml<String> = unsafe { OCaml::new(cr, params) };
    let max_rows: i64 = unsafe { OCaml::<OCamlInt>::new(cr, max_rows) }.to_rust();
    let id: i64 = unsafe { OCaml::<OCamlInt>::new(cr, id) }.to_rust();
    let conn = get(&conn);
    let (sql, params) = (bytes(&sql), bytes(&params));
    let job = Job::new(&conn.serial(), move || {
        let stmt = prepare(&conn, &sql);
        wire::give_buf(sql);
        match stmt {
            Err(e) => (wire::error_reply(&e), None),
            Ok(s) => match on_stmt!(&s, x => x.query(params, max_rows.max(1) as usize, true)) {
                Ok(out) => (out_reply(Ok(out)), Some(s)),
                Err(e) => {
                    on_stmt!(&s, x => x.close());
                    (wire::error_reply(&e), None)
                }
            },
        }
    });
    executor::submit_reply_and_handle(job, id as u64);
    unsafe { OCaml::unit().raw() }
}

reply_ops! {
    fn turso_db_close / turso_db_close_async (db: DynBox<DbH>) {
        let db = get(&db);
        Job::new(&db.serial(), move || { on!(&db, d => d.close()); unit_reply(Ok(())) })
    }

    fn turso_db_sync / turso_db_sync_async (db: DynBox<DbH>) {
        let db = get(&db);
        Job::new(&db.serial(), move || out_reply(on!(&db, d => d.sync())))
    }

    fn turso_db_push / turso_db_push_async (db: DynBox<DbH>) {
        let db = get(&db);
        Job::new(&db.serial(), move || out_reply(synced_only(&db, "push", |d| d.push())))
    }

    fn turso_db_pull / turso_db_pull_async (db: DynBox<DbH>) {
        let db = get(&db);
        Job::new(&db.serial(), move || out_reply(synced_only(&db, "pull", |d| d.pull())))
    }

    fn turso_db_checkpoint / turso_db_checkpoint_async (db: DynBox<DbH>) {
        let db = get(&db);
        Job::new(&db.serial(), move || out_reply(synced_only(&db, "checkpoint", |d| d.checkpoint())))
    }

    fn turso_db_stats / turso_db_stats_async (db: DynBox<DbH>) {
        let db = get(&db);
        Job::new(&db.serial(), move || out_reply(on!(&db, d => d.stats())))
    }

    fn turso_conn_close / turso_conn_close_async (conn: DynBox<ConnH>) {
        let conn = get(&conn);
        Job::new(&conn.serial(), move || { on_conn!(&conn, c => c.close()); unit_reply(Ok(())) })
    }

    // Prepare, read the first row, finish: one job, so that it runs where
    // the call was made in the connection's order (three jobs let later
    // operations run between them), and one call for the blocking API.
    fn turso_conn_query_one / turso_conn_query_one_async (conn: DynBox<ConnH>, sql: String, params: String) {
        let conn = get(&conn);
        let (sql, params) = (bytes(&sql), bytes(&params));
        Job::new(&conn.serial(), move || {
            let stmt = prepare(&conn, &sql);
            wire::give_buf(sql);
            out_reply(stmt.and_then(|s| {
                let r = on_stmt!(&s, x => x.query(params, 0, true));
                on_stmt!(&s, x => x.close());
                r
            }))
        })
    }

    fn turso_conn_execute / turso_conn_execute_async (conn: DynBox<ConnH>, sql: String, params: String) {
        let conn = get(&conn);
        let (sql, params) = (bytes(&sql), bytes(&params));
        Job::new(&conn.serial(), move || {
            let r = on_conn!(&conn, c => c.execute(&sql, &params));
            wire::give_buf(sql);
            wire::give_buf(params);
            out_reply(r)
        })
    }

    fn turso_conn_describe / turso_conn_describe_async (conn: DynBox<ConnH>, sql: String) {
        let conn = get(&conn);
        let sql = bytes(&sql);
        Job::new(&conn.serial(), move || {
            out_reply(match &conn {
                ConnH::Local(c) => c.describe(&sql),
                _ => Err(Error::new(Kind::Misuse, "describing a statement needs a local connection")),
            })
        })
    }

    fn turso_conn_batch / turso_conn_batch_async (conn: DynBox<ConnH>, sql: String, atomic: bool) {
        let conn = get(&conn);
        let sql = bytes(&sql);
        let atomic: bool = atomic.to_rust();
        Job::new(&conn.serial(), move || out_reply(on_conn!(&conn, c => c.batch(&sql, atomic))))
    }

    fn turso_conn_batch_list / turso_conn_batch_list_async (conn: DynBox<ConnH>, req: String) {
        let conn = get(&conn);
        let req = bytes(&req);
        Job::new(&conn.serial(), move || {
            let r = on_conn!(&conn, c => c.batch_list(&req));
            wire::give_buf(req);
            out_reply(r)
        })
    }

    fn turso_conn_run / turso_conn_run_async (conn: DynBox<ConnH>, sql: String, params: String) {
        let conn = get(&conn);
        let (sql, params) = (bytes(&sql), bytes(&params));
        Job::new(&conn.serial(), move || {
            let r = on_conn!(&conn, c => c.run(&sql, &params));
            wire::give_buf(sql);
            wire::give_buf(params);
            out_reply(r)
        })
    }

    fn turso_conn_last_insert_rowid / turso_conn_last_insert_rowid_async (conn: DynBox<ConnH>) {
        let conn = get(&conn);
        Job::new(&conn.serial(), move || int_reply(on_conn!(&conn, c => c.last_insert_rowid())))
    }

    fn turso_conn_changes / turso_conn_changes_async (conn: DynBox<ConnH>) {
        let conn = get(&conn);
        Job::new(&conn.serial(), move || int_reply(on_conn!(&conn, c => c.changes())))
    }

    fn turso_conn_is_autocommit / turso_conn_is_autocommit_async (conn: DynBox<ConnH>) {
        let conn = get(&conn);
        Job::new(&conn.serial(), move || {
            int_reply(on_conn!(&conn, c => c.is_autocommit()).map(|b| b as i64))
        })
    }

    fn turso_conn_set_busy_timeout / turso_conn_set_busy_timeout_async (conn: DynBox<ConnH>, ms: OCamlInt) {
        let conn = get(&conn);
        let ms: i64 = ms.to_rust();
        Job::new(&conn.serial(), move || unit_reply(on_conn!(&conn, c => c.set_busy_timeout(ms))))
    }

    fn turso_stmt_execute / turso_stmt_execute_async (stmt: DynBox<StmtH>, params: String) {
        let stmt = get(&stmt);
        let params = bytes(&params);
        Job::new(&stmt.serial(), move || out_reply(on_stmt!(&stmt, s => s.execute(params))))
    }

    fn turso_stmt_execute_many / turso_stmt_execute_many_async (stmt: DynBox<StmtH>, sets: String) {
        let stmt = get(&stmt);
        let sets = bytes(&sets);
        Job::new(&stmt.serial(), move || out_reply(on_stmt!(&stmt, s => s.execute_many(sets))))
    }

    fn turso_stmt_query / turso_stmt_query_async (stmt: DynBox<StmtH>, params: String,
                                                  max_rows: OCamlInt, want_header: bool) {
        let stmt = get(&stmt);
        let params = bytes(&params);
        let max_rows: i64 = max_rows.to_rust();
        let want_header: bool = want_header.to_rust();
        Job::new(&stmt.serial(), move || {
            out_reply(on_stmt!(&stmt, s => s.query(params, max_rows.max(0) as usize, want_header)))
        })
    }

    fn turso_stmt_fetch / turso_stmt_fetch_async (stmt: DynBox<StmtH>, generation: OCamlInt,
                                                  max_rows: OCamlInt) {
        let stmt = get(&stmt);
        let generation: i64 = generation.to_rust();
        let max_rows: i64 = max_rows.to_rust();
        Job::new(&stmt.serial(), move || {
            out_reply(on_stmt!(&stmt, s => s.fetch(generation as u64, max_rows.max(1) as usize)))
        })
    }

    fn turso_stmt_reset / turso_stmt_reset_async (stmt: DynBox<StmtH>, generation: OCamlInt) {
        let stmt = get(&stmt);
        let g: i64 = generation.to_rust();
        Job::new(&stmt.serial(), move || {
            unit_reply(on_stmt!(&stmt, s => s.reset(if g < 0 { None } else { Some(g as u64) })))
        })
    }

    fn turso_stmt_parameter_count / turso_stmt_parameter_count_async (stmt: DynBox<StmtH>) {
        let stmt = get(&stmt);
        Job::new(&stmt.serial(), move || int_reply(on_stmt!(&stmt, s => s.parameter_count())))
    }

    fn turso_stmt_close / turso_stmt_close_async (stmt: DynBox<StmtH>) {
        let stmt = get(&stmt);
        Job::new(&stmt.serial(), move || { on_stmt!(&stmt, s => s.close()); unit_reply(Ok(())) })
    }

    fn turso_test_panic / turso_test_panic_async (_unit: ()) {
        Job::new(open_queue(), || -> Vec<u8> { panic!("deliberate panic for the test suite") })
    }
}

export! {
    fn turso_take_db(cr, id: OCamlInt) -> OCaml<Result<DynBox<DbH>, String>> {
        let id: i64 = id.to_rust();
        handle_result(cr, executor::take_handle::<DbH>(id as u64))
    }

    fn turso_take_conn(cr, id: OCamlInt) -> OCaml<Result<DynBox<ConnH>, String>> {
        let id: i64 = id.to_rust();
        handle_result(cr, executor::take_handle::<ConnH>(id as u64))
    }

    fn turso_take_stmt(cr, id: OCamlInt) -> OCaml<Result<DynBox<StmtH>, String>> {
        let id: i64 = id.to_rust();
        handle_result(cr, executor::take_handle::<StmtH>(id as u64))
    }

    // Whether the connection is in autocommit mode, answered now when
    // that needs no waiting: no job of the connection queued or running
    // (so the answer is the one the program's earlier calls left), and
    // its lock free (try_lock: the runtime lock is held here). 1 yes, 0
    // no, -1 ask the usual way (turso_conn_is_autocommit).
    fn turso_conn_autocommit_now(cr, conn: DynBox<ConnH>) -> OCaml<OCamlInt> {
        let conn = get(&conn);
        let now = if fork::forked() || !conn.serial_idle() {
            None
        } else {
            match &conn {
                ConnH::Local(c) => c.try_autocommit(),
                ConnH::Remote(c) | ConnH::Replica(c) => c.try_autocommit(),
                ConnH::Synced(_) => None,
            }
        };
        let v: i64 = match now { Some(true) => 1, Some(false) => 0, None => -1 };
        v.to_ocaml(cr)
    }

    fn turso_cpu_count(cr, _unit: ()) -> OCaml<OCamlInt> {
        let n = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
        n.to_ocaml(cr)
    }

    fn turso_async_fd(cr, _unit: ()) -> OCaml<OCamlInt> {
        executor::notify_fd().to_ocaml(cr)
    }

    fn turso_async_take(cr, woken: bool) -> OCaml<String> {
        // in a fork's child the completions and the wake-up socket are the
        // parent's (and their lock may have been held at the fork)
        let done = if fork::forked() {
            wire::string_list(&[])
        } else {
            executor::take_completions(woken.to_rust())
        };
        done.as_slice().to_ocaml(cr)
    }

    fn turso_async_cancel(cr, id: OCamlInt) -> OCaml<()> {
        if !fork::forked() {
            let id: i64 = id.to_rust();
            executor::cancel(id as u64);
        }
        OCaml::unit()
    }

    // SQL text read as the engines read it ([crate::sql]), for the OCaml
    // side's own checks: no database, nothing to wait for.

    fn turso_sql_is_read_only(cr, sql: String) -> OCaml<bool> {
        // not UTF-8: the invalid bytes become U+FFFD, identifier characters
        // as they were, so the answer is the same
        let read_only = sql::is_read_only(&String::from_utf8_lossy(sql.as_bytes()));
        read_only.to_ocaml(cr)
    }

    fn turso_sql_complete(cr, sql: String) -> OCaml<bool> {
        sql::complete_bytes(sql.as_bytes()).to_ocaml(cr)
    }

    fn turso_sql_split(cr, sql: String) -> OCaml<String> {
        // copied out before the reply is allocated (the GC may move `sql`)
        let reply = wire::string_list(&sql::split_bytes(sql.as_bytes()));
        reply.as_slice().to_ocaml(cr)
    }
}

/// `Stmt.query_one` run now for turso.lwt, when it surely will not make
/// the event loop wait (see local::Stmt::query_one_now): the reply, or an
/// empty string for "queue it as usual" (other engines: always). The
/// runtime lock is released while SQLite runs (a page may be read from
/// disk).
#[no_mangle]
pub extern "C" fn turso_stmt_query_one_now(stmt: RawOCaml, params: RawOCaml, want_header: RawOCaml) -> RawOCaml {
    let cr = runtime();
    let stmt: OCaml<DynBox<StmtH>> = unsafe { OCaml::new(cr, stmt) };
    let params: OCaml<String> = unsafe { OCaml::new(cr, params) };
    let want_header: bool = unsafe { OCaml::<bool>::new(cr, want_header) }.to_rust();
    let reply = match get(&stmt) {
        StmtH::Local(s) if !fork::forked() && s.serial().idle() => {
            let params = bytes(&params);
            cr.releasing_runtime(|| {
                catch_unwind(AssertUnwindSafe(|| s.query_one_now(params, want_header)))
                    .unwrap_or_else(|p| Some(Err(panic_error(p))))
                    .map(out_reply)
            })
        }
        _ => None,
    };
    unsafe { to_ocaml_reply(cr, reply.unwrap_or_default()).raw() }
}

/// `external async_ready : unit -> bool [@@noalloc]`: no runtime handle,
/// no allocation, so the same under OCaml 4 and 5.
#[no_mangle]
pub extern "C" fn turso_async_ready(_unit: RawOCaml) -> RawOCaml {
    // Val_true = 3, Val_false = 1
    if executor::ready() {
        3
    } else {
        1
    }
}

/// `external forked : unit -> bool [@@noalloc]`: whether this process is a
/// fork's child that the library refuses (see [crate::fork]).
#[no_mangle]
pub extern "C" fn turso_forked(_unit: RawOCaml) -> RawOCaml {
    if fork::forked() {
        3
    } else {
        1
    }
}

/// `external async_set_polling : bool -> unit [@@noalloc]`
#[no_mangle]
pub extern "C" fn turso_async_set_polling(on: RawOCaml) -> RawOCaml {
    executor::set_polling(on == 3);
    1 // Val_unit
}
