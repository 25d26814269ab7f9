//! Errors as data. The Rust side never decides policy (retry, raise): it
//! classifies and reports, and the OCaml side decides.
//!
//! Everything that makes an [Error] look the same whatever the engine lives
//! here, so that no engine borrows another's helpers: SQLite codes to
//! kinds, a server's code names and wrapped messages back to SQLite's codes
//! and words, and a caught panic.

/// Error kinds; the numbering is shared with `lib/wire.ml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Sql = 0,
    Constraint = 1,
    Busy = 2,
    Auth = 3,
    Network = 4,
    Timeout = 5,
    Sync = 6,
    Closed = 7,
    Decode = 8,
    Config = 9,
    Misuse = 10,
    Internal = 11,
    TransactionClosed = 12,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub code: Option<i32>,
    pub message: String,
    pub sql: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, code: None, message: message.into(), sql: None }
    }
    pub fn closed(what: &str) -> Error {
        Error::new(Kind::Closed, format!("{what} is closed"))
    }
    pub fn with_sql(mut self, sql: &[u8]) -> Error {
        if self.sql.is_none() {
            self.sql = Some(String::from_utf8_lossy(sql).into_owned());
        }
        self
    }
}

/// Maps an SQLite (extended) result code to a kind.
pub fn kind_of_sqlite_code(code: i32) -> Kind {
    match code & 0xff {
        19 => Kind::Constraint,      // SQLITE_CONSTRAINT
        5 | 6 => Kind::Busy,         // SQLITE_BUSY, SQLITE_LOCKED
        23 => Kind::Auth,            // SQLITE_AUTH
        21 | 25 => Kind::Misuse,     // SQLITE_MISUSE, SQLITE_RANGE
        _ => Kind::Sql,
    }
}

/// A panic caught at the boundary or on a queue, as an error (the process
/// goes on; the OCaml side sees `Internal`).
pub fn panic_error(p: Box<dyn std::any::Any + Send>) -> Error {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::new(Kind::Internal, format!("Rust panic caught at the boundary: {what}"))
}

// SQLite's result codes as a server names them: a remote error carries a
// code's name (or only its primary code) where a local one has the number.

/// The SQLite result code named in a server error (`code: "SQLITE_..."`).
pub fn code_in(msg: &str) -> Option<i32> {
    let start = msg.find("code: \"SQLITE_")? + "code: \"".len();
    let name = &msg[start..start + msg[start..].find('"')?];
    sqlite_code_by_name(name)
}

/// SQLite's own message, as a local database gives it: without the
/// wrapping of libsql's Hrana errors (`Hrana: \`stream error: \`Error {
/// message: "SQLite error: ...", code: "..." }\`\``).
pub fn plain_message(msg: String) -> String {
    let inner = match (msg.find("message: \""), msg.rfind("\", code: \"")) {
        (Some(a), Some(b)) if a + 10 <= b => msg[a + 10..b].replace("\\\"", "\""),
        _ => msg,
    };
    match inner.find("SQLite error: ") {
        Some(i) => inner[i + 14..].trim_end_matches('`').to_string(),
        None => inner,
    }
}

/// A server often reports only the primary code of a constraint error
/// (`SQLITE_CONSTRAINT`); SQLite's message says which constraint it was.
/// (A PRIMARY KEY conflict on a rowid table reads as UNIQUE.)
pub fn refine_code(code: i32, msg: &str) -> i32 {
    if code != 19 {
        return code;
    }
    const BY_MESSAGE: &[(&str, i32)] = &[
        ("UNIQUE constraint failed", 2067),
        ("NOT NULL constraint failed", 1299),
        ("CHECK constraint failed", 275),
        ("FOREIGN KEY constraint failed", 787),
    ];
    BY_MESSAGE.iter().find(|(m, _)| msg.contains(m)).map(|(_, c)| *c).unwrap_or(code)
}

/// `SQLITE_CONSTRAINT_UNIQUE` → 2067, for the codes a server reports.
pub fn sqlite_code_by_name(name: &str) -> Option<i32> {
    const CODES: &[(&str, i32)] = &[
        ("SQLITE_ERROR", 1), ("SQLITE_UNKNOWN", 1), ("SQLITE_INTERNAL", 2), ("SQLITE_PERM", 3), ("SQLITE_ABORT", 4),
        ("SQLITE_BUSY", 5), ("SQLITE_LOCKED", 6), ("SQLITE_NOMEM", 7), ("SQLITE_READONLY", 8),
        ("SQLITE_INTERRUPT", 9), ("SQLITE_IOERR", 10), ("SQLITE_CORRUPT", 11), ("SQLITE_FULL", 13),
        ("SQLITE_CANTOPEN", 14), ("SQLITE_SCHEMA", 17), ("SQLITE_TOOBIG", 18),
        ("SQLITE_CONSTRAINT", 19), ("SQLITE_MISMATCH", 20), ("SQLITE_MISUSE", 21), ("SQLITE_AUTH", 23),
        ("SQLITE_RANGE", 25), ("SQLITE_CONSTRAINT_CHECK", 275), ("SQLITE_CONSTRAINT_FOREIGNKEY", 787),
        ("SQLITE_CONSTRAINT_NOTNULL", 1299), ("SQLITE_CONSTRAINT_PRIMARYKEY", 1555),
        ("SQLITE_CONSTRAINT_UNIQUE", 2067),
    ];
    CODES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}
