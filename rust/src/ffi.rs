//! The OCaml boundary: the only module that uses ocaml-interop.
//!
//! Every export copies its inputs out of the OCaml heap, releases the
//! runtime lock, runs the work (catching panics), re-takes the lock and
//! returns bytes in the `wire` format. Arguments are read before anything
//! is allocated on the OCaml heap, so they need no GC roots.
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

use crate::error::{Error, Kind};
use crate::local::{Conn, Db, Stmt};
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

/// Declares `extern "C"` functions called from OCaml: each argument comes
/// as an unrooted `OCaml<T>` (see the module comment).
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

type DbH = Arc<Db>;
type ConnH = Arc<Conn>;
type StmtH = Arc<Stmt>;

fn panic_error(p: Box<dyn std::any::Any + Send>) -> Error {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::new(Kind::Internal, format!("Rust panic caught at the boundary: {what}"))
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

fn handle_result<T: 'static>(
    cr: &mut OCamlRuntime,
    r: Result<T, Error>,
) -> OCaml<'_, Result<DynBox<T>, String>> {
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

export! {
    fn turso_db_open_local(cr, path: String, flags: OCamlInt)
        -> OCaml<Result<DynBox<DbH>, String>>
    {
        let path = bytes(&path);
        let flags: i64 = flags.to_rust();
        let r = blocking(cr, move || {
            let path = String::from_utf8(path)
                .map_err(|_| Error::new(Kind::Config, "database path is not valid UTF-8"))?;
            Db::open(&path, flags).map(Arc::new)
        });
        handle_result(cr, r)
    }

    fn turso_db_close(cr, db: DynBox<DbH>) -> OCaml<()> {
        let db = get(&db);
        let _ = blocking(cr, move || { db.close(); Ok(()) });
        OCaml::unit()
    }

    fn turso_db_connect(cr, db: DynBox<DbH>, busy_ms: OCamlInt)
        -> OCaml<Result<DynBox<ConnH>, String>>
    {
        let db = get(&db);
        let busy_ms: i64 = busy_ms.to_rust();
        let r = blocking(cr, move || db.connect(busy_ms));
        handle_result(cr, r)
    }

    fn turso_conn_close(cr, conn: DynBox<ConnH>) -> OCaml<()> {
        let conn = get(&conn);
        let _ = blocking(cr, move || { conn.close(); Ok(()) });
        OCaml::unit()
    }

    fn turso_conn_execute(cr, conn: DynBox<ConnH>, sql: String,
                          params: String) -> OCaml<String>
    {
        let conn = get(&conn);
        let (sql, params) = (bytes(&sql), bytes(&params));
        let r = blocking(cr, move || {
            let r = conn.execute(&sql, &params);
            wire::give_buf(sql);
            wire::give_buf(params);
            r
        });
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_conn_batch(cr, conn: DynBox<ConnH>, sql: String,
                        atomic: bool) -> OCaml<String>
    {
        let conn = get(&conn);
        let sql = bytes(&sql);
        let atomic: bool = atomic.to_rust();
        let r = blocking(cr, move || conn.batch(&sql, atomic));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_conn_prepare(cr, conn: DynBox<ConnH>, sql: String)
        -> OCaml<Result<DynBox<StmtH>, String>>
    {
        let conn = get(&conn);
        let sql = bytes(&sql);
        let r = blocking(cr, move || conn.prepare(&sql));
        handle_result(cr, r)
    }

    fn turso_conn_last_insert_rowid(cr, conn: DynBox<ConnH>) -> OCaml<String> {
        let conn = get(&conn);
        let r = blocking(cr, move || conn.last_insert_rowid());
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_conn_changes(cr, conn: DynBox<ConnH>) -> OCaml<String> {
        let conn = get(&conn);
        let r = blocking(cr, move || conn.changes());
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_conn_is_autocommit(cr, conn: DynBox<ConnH>) -> OCaml<String> {
        let conn = get(&conn);
        let r = blocking(cr, move || conn.is_autocommit().map(|b| b as i64));
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_conn_set_busy_timeout(cr, conn: DynBox<ConnH>, ms: OCamlInt)
        -> OCaml<String>
    {
        let conn = get(&conn);
        let ms: i64 = ms.to_rust();
        let r = blocking(cr, move || conn.set_busy_timeout(ms));
        to_ocaml_reply(cr, unit_reply(r))
    }

    fn turso_stmt_execute(cr, stmt: DynBox<StmtH>, params: String)
        -> OCaml<String>
    {
        let stmt = get(&stmt);
        let params = bytes(&params);
        let r = blocking(cr, move || stmt.execute(params));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_execute_many(cr, stmt: DynBox<StmtH>, sets: String)
        -> OCaml<String>
    {
        let stmt = get(&stmt);
        let sets = bytes(&sets);
        let r = blocking(cr, move || stmt.execute_many(sets));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_query(cr, stmt: DynBox<StmtH>, params: String,
                        max_rows: OCamlInt, want_header: bool) -> OCaml<String>
    {
        let stmt = get(&stmt);
        let params = bytes(&params);
        let max_rows: i64 = max_rows.to_rust();
        let want_header: bool = want_header.to_rust();
        let r = blocking(cr, move || stmt.query(params, max_rows.max(0) as usize, want_header));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_fetch(cr, stmt: DynBox<StmtH>, generation: OCamlInt,
                        max_rows: OCamlInt) -> OCaml<String>
    {
        let stmt = get(&stmt);
        let generation: i64 = generation.to_rust();
        let max_rows: i64 = max_rows.to_rust();
        let r = blocking(cr, move || stmt.fetch(generation as u64, max_rows.max(1) as usize));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_reset(cr, stmt: DynBox<StmtH>, generation: OCamlInt)
        -> OCaml<String>
    {
        let stmt = get(&stmt);
        let g: i64 = generation.to_rust();
        let r = blocking(cr, move || stmt.reset(if g < 0 { None } else { Some(g as u64) }));
        to_ocaml_reply(cr, unit_reply(r))
    }

    fn turso_stmt_parameter_count(cr, stmt: DynBox<StmtH>) -> OCaml<String> {
        let stmt = get(&stmt);
        let r = blocking(cr, move || stmt.parameter_count());
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_stmt_close(cr, stmt: DynBox<StmtH>) -> OCaml<()> {
        let stmt = get(&stmt);
        let _ = blocking(cr, move || { stmt.close(); Ok(()) });
        OCaml::unit()
    }

    fn turso_test_panic(cr, _unit: ()) -> OCaml<String> {
        let r: Result<Out, Error> = blocking(cr, || panic!("deliberate panic for the test suite"));
        to_ocaml_reply(cr, out_reply(r))
    }
}
