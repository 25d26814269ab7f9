//! The calls on SQLite's C API that the local engine's connections and
//! statements share: opening, preparing exactly one statement, stepping,
//! binding parameters straight from their wire encoding, and reading
//! columns into the wire format (or into libsql values, for a replica's
//! reads). Each caller holds the connection's lock.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;

use libsql::ffi;

use super::{OPEN_READ_ONLY, OPEN_READ_WRITE};
use crate::error::{kind_of_sqlite_code, Error, Kind};
use crate::sql::leading_words;
use crate::wire::{self, Out, Param, Reader};

pub(super) fn sqlite_error(db: *mut ffi::sqlite3, rc: c_int) -> Error {
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

pub(super) fn check_no_nul(sql: &[u8]) -> Result<(), Error> {
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

// SQLite3MultipleCiphers (libsql's "encryption" feature links it in place
// of plain SQLite).
extern "C" {
    fn sqlite3mc_cipher_index(name: *const c_char) -> c_int;
    fn sqlite3mc_config(db: *mut ffi::sqlite3, param: *const c_char, value: c_int) -> c_int;
    fn sqlite3_key(db: *mut ffi::sqlite3, key: *const std::ffi::c_void, n: c_int) -> c_int;
}

/// The first bytes of every plain SQLite file; an encrypted one has none.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The file a path or `file:` URI names (None: an in-memory database).
pub(super) fn file_of(path: &str) -> Option<String> {
    let Some(uri) = path.strip_prefix("file:") else {
        return (path != ":memory:").then(|| path.to_string());
    };
    let (name, query) = uri.split_once('?').unwrap_or((uri, ""));
    let memory =
        name.is_empty() || name == ":memory:" || query.split('&').any(|kv| kv == "mode=memory" || kv == "vfs=memdb");
    // file:///abs/path and file://localhost/abs/path name /abs/path
    let name = name.strip_prefix("//").map(|r| &r[r.find('/').unwrap_or(r.len())..]).unwrap_or(name);
    (!memory).then(|| name.to_string())
}

/// Whether the file at `path` starts as a plain SQLite file does (None: no
/// file, or too short to tell).
pub(super) fn plain_file(path: &str) -> Option<bool> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    Some(&head == PLAIN_HEADER)
}

/// Keys a freshly opened handle: AES-256-CBC (libsql's one cipher), the
/// key as given (SQLite3MultipleCiphers derives the cipher key from it).
fn key(db: *mut ffi::sqlite3, key: &[u8]) -> Result<(), Error> {
    let rc = unsafe {
        let cipher = sqlite3mc_cipher_index(c"aes256cbc".as_ptr());
        if sqlite3mc_config(db, c"cipher".as_ptr(), cipher) != cipher {
            return Err(Error::new(Kind::Internal, "the AES-256-CBC cipher is not available"));
        }
        sqlite3_key(db, key.as_ptr() as *const _, key.len() as c_int)
    };
    if rc != ffi::SQLITE_OK {
        return Err(Error::new(Kind::Config, "the encryption key was not accepted"));
    }
    Ok(())
}

/// After keying: reads the schema once, so that a wrong key, or a key for
/// a file that is not encrypted, is an error of its own at open, not "file
/// is not a database" at the first statement. `file`: the file itself
/// (see [file_of]). Waits up to 5 s for a writer holding the file.
pub(super) fn check_key(db: *mut ffi::sqlite3, file: &str) -> Result<(), Error> {
    unsafe { ffi::sqlite3_busy_timeout(db, 5000) };
    let r = exec_simple(db, "SELECT count(*) FROM sqlite_schema");
    unsafe { ffi::sqlite3_busy_timeout(db, 0) };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.code.map(|c| c & 0xff) == Some(ffi::SQLITE_NOTADB) => Err(if plain_file(file) == Some(true) {
            Error::new(Kind::Config, format!("{file:?} is not encrypted: open it without an encryption key"))
        } else {
            Error::new(Kind::Auth, format!("wrong encryption key for {file:?} (or it is not a database)"))
        }),
        Err(e) => Err(e),
    }
}

pub(super) fn encrypted_error(file: &str) -> Error {
    Error::new(Kind::Config, format!("{file:?} is encrypted (or not a database): open it with its encryption key"))
}

pub(super) fn open_raw(path: &str, flags: i64, encryption_key: Option<&[u8]>) -> Result<*mut ffi::sqlite3, Error> {
    libsql_init();
    let cpath = CString::new(path).map_err(|_| Error::new(Kind::Config, "database path contains a NUL byte"))?;
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
    if let Some(k) = encryption_key {
        if let Err(e) = key(db, k) {
            unsafe { ffi::sqlite3_close_v2(db) };
            return Err(e);
        }
    }
    Ok(db)
}

pub(super) fn exec_reply(db: *mut ffi::sqlite3) -> Out {
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
pub(super) fn atomically<T>(
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

pub(super) fn exec_simple(db: *mut ffi::sqlite3, sql: &str) -> Result<(), Error> {
    let stmt = prepare_one(db, sql.as_bytes())?;
    let r = step_to_done(db, stmt);
    unsafe { ffi::sqlite3_finalize(stmt) };
    r
}

/// Prepares the first statement of `sql`; `Ok(None)` when only whitespace
/// and comments remain. Returns the statement and the offset after it.
/// `sql` may end with a NUL byte (its only one), which SQLite then needs
/// not copy the text for.
pub(super) fn prepare_next(
    db: *mut ffi::sqlite3,
    sql: &[u8],
    from: usize,
) -> Result<(Option<*mut ffi::sqlite3_stmt>, usize), Error> {
    let rest = &sql[from..];
    // the text without the NUL a caller may end it with (see run_script)
    let text = rest.strip_suffix(b"\0").unwrap_or(rest);
    if rest.len() > i32::MAX as usize {
        return Err(Error::new(Kind::Misuse, "SQL text is larger than 2 GiB"));
    }
    let mut stmt = ptr::null_mut();
    let mut tail: *const c_char = ptr::null();
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(db, rest.as_ptr() as *const c_char, rest.len() as c_int, &mut stmt, &mut tail)
    };
    let used = if tail.is_null() { rest.len() } else { tail as usize - rest.as_ptr() as usize };
    if rc != ffi::SQLITE_OK {
        return Err(sqlite_error(db, rc).with_sql(text));
    }
    Ok((if stmt.is_null() { None } else { Some(stmt) }, from + used.min(text.len())))
}

/// Prepares exactly one statement: several statements, or none, is an error
/// rather than running part of the text.
pub(super) fn prepare_one(db: *mut ffi::sqlite3, sql: &[u8]) -> Result<*mut ffi::sqlite3_stmt, Error> {
    check_no_nul(sql)?;
    let (stmt, end) = prepare_next(db, sql, 0)?;
    let stmt = stmt.ok_or_else(|| Error::new(Kind::Misuse, "SQL text contains no statement").with_sql(sql))?;
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

pub(super) fn step_to_done(db: *mut ffi::sqlite3, stmt: *mut ffi::sqlite3_stmt) -> Result<(), Error> {
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
pub(super) fn bind(stmt: *mut ffi::sqlite3_stmt, buf: &[u8], db: *mut ffi::sqlite3) -> Result<(), Error> {
    let expected = unsafe { ffi::sqlite3_bind_parameter_count(stmt) } as usize;
    let mut r = Reader::new(buf);
    let (kind, n) = if buf.is_empty() { (0, 0) } else { (r.u8()?, r.u32()? as usize) };
    match kind {
        wire::PARAMS_POSITIONAL => {
            if n != expected {
                return Err(Error::new(Kind::Misuse, format!("statement expects {expected} parameter(s), {n} given")));
            }
            for i in 1..=n {
                let v = r.value()?;
                bind_one(stmt, i as c_int, &v, db, &|| format!("parameter {i}"))?;
            }
            Ok(())
        }
        wire::PARAMS_NAMED => {
            // Which parameters were given: a bit set (no allocation) up to
            // 64 parameters, a vector beyond.
            let mut bits: u64 = 0;
            let mut wide = if expected >= 64 { vec![false; expected + 1] } else { Vec::new() };
            let mut bound = |i: usize| -> bool {
                if expected < 64 {
                    let was = bits & (1 << i) != 0;
                    bits |= 1 << i;
                    was
                } else {
                    std::mem::replace(&mut wide[i], true)
                }
            };
            let mut given = 0usize;
            for k in 0..n {
                let name = r.bytes()?;
                let v = r.value()?;
                let name_s = || String::from_utf8_lossy(name).into_owned();
                // Names given in the statement's order, with their prefix (as
                // checked queries give them), are found without a lookup.
                let guess = (k + 1) as c_int;
                let in_order =
                    k < expected && cstr_bytes(unsafe { ffi::sqlite3_bind_parameter_name(stmt, guess) }) == name;
                let idx = if in_order { Some(guess) } else { resolve_name(stmt, name) };
                let idx = idx.ok_or_else(|| {
                    Error::new(Kind::Misuse, format!("statement has no parameter named {:?}", name_s()))
                })?;
                if bound(idx as usize) {
                    return Err(Error::new(Kind::Misuse, format!("parameter {:?} is given more than once", name_s())));
                }
                given += 1;
                bind_one(stmt, idx, &v, db, &|| format!("parameter {:?}", name_s()))?;
            }
            if given < expected {
                let i = (1..=expected).find(|&i| !is_bound(bits, &wide, expected, i)).unwrap_or(expected);
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
        _ => Err(Error::new(Kind::Misuse, format!("statement expects {expected} parameter(s), none given"))),
    }
}

/// Finds a named parameter: a name with its prefix (`:id`, `@id`, `$id`,
/// `?3`) as written, or a bare name (`id`) under any of the three prefixes.
fn is_bound(bits: u64, wide: &[bool], expected: usize, i: usize) -> bool {
    if expected < 64 {
        bits & (1 << i) != 0
    } else {
        wide[i]
    }
}

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

pub(super) fn cstr_bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        &[]
    } else {
        unsafe { CStr::from_ptr(p) }.to_bytes()
    }
}

/// Column `i`'s name, for error messages.
unsafe fn column_name(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> String {
    String::from_utf8_lossy(cstr_bytes(ffi::sqlite3_column_name(stmt, i))).into_owned()
}

/// A column's value that SQLite could not allocate (sqlite3_column_* would
/// have made the next step fail with SQLITE_NOMEM; sqlite3_value_* does
/// not, so the caller stops here).
#[cold]
unsafe fn out_of_memory(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Error {
    let name = column_name(stmt, i);
    let mut e = Error::new(Kind::Sql, format!("out of memory reading column {i} ({name})"));
    e.code = Some(ffi::SQLITE_NOMEM);
    e
}

#[inline]
pub(super) unsafe fn encode_column(stmt: *mut ffi::sqlite3_stmt, i: c_int, out: &mut Out) -> Result<(), Error> {
    // The column's value once, then read through it: each sqlite3_column_*
    // call looks the column up and checks for an allocation failure again
    // (with the OCaml-side change of the same commit, scans went from ~4.1M
    // to ~4.9M rows/s). SQLite calls this value "unprotected": its mutex
    // is not held for it. Connections here are opened NOMUTEX (no mutex;
    // our own lock serialises each handle) and the value is read at once,
    // before the next step or reset, the same lifetime the pointers
    // sqlite3_column_text/blob return have.
    let v = ffi::sqlite3_column_value(stmt, i);
    match ffi::sqlite3_value_type(v) {
        ffi::SQLITE_INTEGER => {
            out.u8(wire::TAG_INTEGER);
            out.i64(ffi::sqlite3_value_int64(v));
        }
        ffi::SQLITE_FLOAT => {
            out.u8(wire::TAG_REAL);
            out.i64(ffi::sqlite3_value_double(v).to_bits() as i64);
        }
        ffi::SQLITE_TEXT => {
            let p = ffi::sqlite3_value_text(v);
            let n = ffi::sqlite3_value_bytes(v) as usize;
            // NULL for a TEXT value is an allocation that failed (an empty
            // text is ""): an error, never an empty string in its place.
            if p.is_null() {
                return Err(out_of_memory(stmt, i));
            }
            let b: &[u8] = std::slice::from_raw_parts(p, n);
            if std::str::from_utf8(b).is_err() {
                let name = column_name(stmt, i);
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
            let p = ffi::sqlite3_value_blob(v) as *const u8;
            let n = ffi::sqlite3_value_bytes(v) as usize;
            // an empty blob is NULL; a non-empty one is NULL only when an
            // allocation failed
            if p.is_null() && n > 0 {
                return Err(out_of_memory(stmt, i));
            }
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
pub(super) unsafe fn encode_result(
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    sql: &[u8],
    out: &mut Out,
) -> Result<(), Error> {
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
pub(super) unsafe fn column_value(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Result<libsql::Value, Error> {
    Ok(match ffi::sqlite3_column_type(stmt, i) {
        ffi::SQLITE_INTEGER => libsql::Value::Integer(ffi::sqlite3_column_int64(stmt, i)),
        ffi::SQLITE_FLOAT => libsql::Value::Real(ffi::sqlite3_column_double(stmt, i)),
        ffi::SQLITE_TEXT => {
            let p = ffi::sqlite3_column_text(stmt, i);
            let n = ffi::sqlite3_column_bytes(stmt, i) as usize;
            let b: &[u8] = if p.is_null() { &[] } else { std::slice::from_raw_parts(p, n) };
            libsql::Value::Text(String::from_utf8(b.to_vec()).map_err(|_| {
                let name = column_name(stmt, i);
                Error::new(
                    Kind::Decode,
                    format!(
                        "column {i} ({name}) holds TEXT that is not valid UTF-8; read it as a BLOB (CAST(... AS BLOB))"
                    ),
                )
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
