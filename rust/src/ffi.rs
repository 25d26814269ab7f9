//! The OCaml boundary: the only module that uses ocaml-interop.
//!
//! Every export copies its inputs out of the OCaml heap, releases the
//! runtime lock, runs the work (catching panics), re-takes the lock and
//! returns bytes in the `wire` format. Keeping the surface this small is
//! what keeps a move to ocaml-interop 0.11+ (OCaml 5) local to this file.

use std::borrow::Borrow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ocaml_interop::{
    alloc_error, alloc_ok, ocaml_export, DynBox, OCaml, OCamlInt, OCamlRef, OCamlRuntime,
    ToOCaml,
};

use crate::error::{Error, Kind};
use crate::local::{Conn, Db, Stmt};
use crate::wire::{self, Out};

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

fn handle_result<'a, T: 'static>(
    cr: &'a mut OCamlRuntime,
    r: Result<T, Error>,
) -> OCaml<'a, Result<DynBox<T>, String>> {
    match r {
        Ok(h) => {
            let b = OCaml::box_value(cr, h).root();
            alloc_ok(cr, &b)
        }
        Err(e) => {
            let s = wire::error_reply(&e).to_ocaml(cr).root();
            alloc_error(cr, &s)
        }
    }
}

fn get<T: Clone + 'static>(cr: &OCamlRuntime, h: OCamlRef<DynBox<T>>) -> T {
    let v = cr.get(h);
    Borrow::<T>::borrow(&v).clone()
}

/// Copies an OCaml string into a pooled buffer (the runtime lock is
/// released next, and the GC may then move or free the string).
fn bytes(cr: &OCamlRuntime, s: OCamlRef<String>) -> Vec<u8> {
    let mut v = wire::take_buf();
    v.extend_from_slice(cr.get(s).as_bytes());
    v
}

/// The reply as an OCaml string; its buffer goes back to the pool.
fn to_ocaml_reply(cr: &mut OCamlRuntime, reply: Vec<u8>) -> OCaml<'_, String> {
    let s = reply.as_slice().to_ocaml(cr);
    wire::give_buf(reply);
    s
}

ocaml_export! {
    fn turso_db_open_local(cr, path: OCamlRef<String>, flags: OCamlRef<OCamlInt>)
        -> OCaml<Result<DynBox<DbH>, String>>
    {
        let path = bytes(cr, path);
        let flags: i64 = flags.to_rust(cr);
        let r = blocking(cr, move || {
            let path = String::from_utf8(path)
                .map_err(|_| Error::new(Kind::Config, "database path is not valid UTF-8"))?;
            Db::open(&path, flags).map(Arc::new)
        });
        handle_result(cr, r)
    }

    fn turso_db_close(cr, db: OCamlRef<DynBox<DbH>>) {
        let db = get(cr, db);
        let _ = blocking(cr, move || { db.close(); Ok(()) });
        OCaml::unit()
    }

    fn turso_db_connect(cr, db: OCamlRef<DynBox<DbH>>, busy_ms: OCamlRef<OCamlInt>)
        -> OCaml<Result<DynBox<ConnH>, String>>
    {
        let db = get(cr, db);
        let busy_ms: i64 = busy_ms.to_rust(cr);
        let r = blocking(cr, move || db.connect(busy_ms));
        handle_result(cr, r)
    }

    fn turso_conn_close(cr, conn: OCamlRef<DynBox<ConnH>>) {
        let conn = get(cr, conn);
        let _ = blocking(cr, move || { conn.close(); Ok(()) });
        OCaml::unit()
    }

    fn turso_conn_execute(cr, conn: OCamlRef<DynBox<ConnH>>, sql: OCamlRef<String>,
                          params: OCamlRef<String>) -> OCaml<String>
    {
        let conn = get(cr, conn);
        let (sql, params) = (bytes(cr, sql), bytes(cr, params));
        let r = blocking(cr, move || {
            let r = conn.execute(&sql, &params);
            wire::give_buf(sql);
            wire::give_buf(params);
            r
        });
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_conn_batch(cr, conn: OCamlRef<DynBox<ConnH>>, sql: OCamlRef<String>,
                        atomic: OCamlRef<bool>) -> OCaml<String>
    {
        let conn = get(cr, conn);
        let sql = bytes(cr, sql);
        let atomic: bool = atomic.to_rust(cr);
        let r = blocking(cr, move || conn.batch(&sql, atomic));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_conn_prepare(cr, conn: OCamlRef<DynBox<ConnH>>, sql: OCamlRef<String>)
        -> OCaml<Result<DynBox<StmtH>, String>>
    {
        let conn = get(cr, conn);
        let sql = bytes(cr, sql);
        let r = blocking(cr, move || conn.prepare(&sql));
        handle_result(cr, r)
    }

    fn turso_conn_last_insert_rowid(cr, conn: OCamlRef<DynBox<ConnH>>) -> OCaml<String> {
        let conn = get(cr, conn);
        let r = blocking(cr, move || conn.last_insert_rowid());
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_conn_changes(cr, conn: OCamlRef<DynBox<ConnH>>) -> OCaml<String> {
        let conn = get(cr, conn);
        let r = blocking(cr, move || conn.changes());
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_conn_is_autocommit(cr, conn: OCamlRef<DynBox<ConnH>>) -> OCaml<String> {
        let conn = get(cr, conn);
        let r = blocking(cr, move || conn.is_autocommit().map(|b| b as i64));
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_conn_set_busy_timeout(cr, conn: OCamlRef<DynBox<ConnH>>, ms: OCamlRef<OCamlInt>)
        -> OCaml<String>
    {
        let conn = get(cr, conn);
        let ms: i64 = ms.to_rust(cr);
        let r = blocking(cr, move || conn.set_busy_timeout(ms));
        to_ocaml_reply(cr, unit_reply(r))
    }

    fn turso_stmt_execute(cr, stmt: OCamlRef<DynBox<StmtH>>, params: OCamlRef<String>)
        -> OCaml<String>
    {
        let stmt = get(cr, stmt);
        let params = bytes(cr, params);
        let r = blocking(cr, move || stmt.execute(params));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_execute_many(cr, stmt: OCamlRef<DynBox<StmtH>>, sets: OCamlRef<String>)
        -> OCaml<String>
    {
        let stmt = get(cr, stmt);
        let sets = bytes(cr, sets);
        let r = blocking(cr, move || stmt.execute_many(sets));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_query(cr, stmt: OCamlRef<DynBox<StmtH>>, params: OCamlRef<String>,
                        max_rows: OCamlRef<OCamlInt>, want_header: OCamlRef<bool>) -> OCaml<String>
    {
        let stmt = get(cr, stmt);
        let params = bytes(cr, params);
        let max_rows: i64 = max_rows.to_rust(cr);
        let want_header: bool = want_header.to_rust(cr);
        let r = blocking(cr, move || stmt.query(params, max_rows.max(0) as usize, want_header));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_fetch(cr, stmt: OCamlRef<DynBox<StmtH>>, generation: OCamlRef<OCamlInt>,
                        max_rows: OCamlRef<OCamlInt>) -> OCaml<String>
    {
        let stmt = get(cr, stmt);
        let generation: i64 = generation.to_rust(cr);
        let max_rows: i64 = max_rows.to_rust(cr);
        let r = blocking(cr, move || stmt.fetch(generation as u64, max_rows.max(1) as usize));
        to_ocaml_reply(cr, out_reply(r))
    }

    fn turso_stmt_reset(cr, stmt: OCamlRef<DynBox<StmtH>>, generation: OCamlRef<OCamlInt>)
        -> OCaml<String>
    {
        let stmt = get(cr, stmt);
        let g: i64 = generation.to_rust(cr);
        let r = blocking(cr, move || stmt.reset(if g < 0 { None } else { Some(g as u64) }));
        to_ocaml_reply(cr, unit_reply(r))
    }

    fn turso_stmt_parameter_count(cr, stmt: OCamlRef<DynBox<StmtH>>) -> OCaml<String> {
        let stmt = get(cr, stmt);
        let r = blocking(cr, move || stmt.parameter_count());
        to_ocaml_reply(cr, int_reply(r))
    }

    fn turso_stmt_close(cr, stmt: OCamlRef<DynBox<StmtH>>) {
        let stmt = get(cr, stmt);
        let _ = blocking(cr, move || { stmt.close(); Ok(()) });
        OCaml::unit()
    }

    fn turso_test_panic(cr, _unit: OCamlRef<()>) -> OCaml<String> {
        let r: Result<Out, Error> = blocking(cr, || panic!("deliberate panic for the test suite"));
        to_ocaml_reply(cr, out_reply(r))
    }
}
