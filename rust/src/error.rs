//! Errors as data. The Rust side never decides policy (retry, raise): it
//! classifies and reports, and the OCaml side decides.

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
