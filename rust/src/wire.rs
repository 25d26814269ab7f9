//! The byte format that crosses the OCaml/Rust boundary.
//!
//! Every call passes parameters and returns results as one byte string, so a
//! call costs one copy of its data and never one FFI call per value. The
//! OCaml side of this format lives in `lib/wire.ml`; keep the two in step.
//!
//! Integers are little-endian. A value is a tag byte followed by its payload:
//! 0 Null; 1 Integer (i64); 2 Real (f64 bits); 3 Text (u32 length, bytes);
//! 4 Blob (u32 length, bytes).
//!
//! Every engine builds the same replies, whichever way it gets the rows:
//! - a statement's whole result (`run`, each statement of a batch): u32
//!   column count, (name, declared type) per column, u32 row count, the
//!   values row by row, i64 rows changed, u8 has-rowid, i64 rowid;
//! - a chunk of a query's rows: u32 row count, the values row by row, u8
//!   done.

use crate::error::{Error, Kind};

pub const TAG_NULL: u8 = 0;
pub const TAG_INTEGER: u8 = 1;
pub const TAG_REAL: u8 = 2;
pub const TAG_TEXT: u8 = 3;
pub const TAG_BLOB: u8 = 4;

/// Status byte that starts every reply.
pub const REPLY_OK: u8 = 0;
pub const REPLY_ERROR: u8 = 1;

/// A parameter value decoded from the OCaml side; text and blobs borrow
/// the parameter buffer.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// Reads a buffer in this format.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.buf.len() - self.pos < n {
            return Err(Error::new(Kind::Internal, "malformed parameter buffer"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn value(&mut self) -> Result<Param<'a>, Error> {
        Ok(match self.u8()? {
            TAG_NULL => Param::Null,
            TAG_INTEGER => Param::Integer(self.i64()?),
            TAG_REAL => Param::Real(f64::from_bits(self.i64()? as u64)),
            TAG_TEXT => Param::Text(self.bytes()?),
            TAG_BLOB => Param::Blob(self.bytes()?),
            t => return Err(Error::new(Kind::Internal, format!("unknown value tag {t}"))),
        })
    }
}

/// Parameter kinds: a parameter buffer is empty (none), or a kind byte,
/// a u32 count, then the values (named ones preceded by their name).
pub const PARAMS_POSITIONAL: u8 = 1;
pub const PARAMS_NAMED: u8 = 2;

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A byte buffer from this thread's pool: replies and parameter copies
/// reuse buffers, so a call does not allocate in the steady state.
pub fn take_buf() -> Vec<u8> {
    POOL.with(|p| p.borrow_mut().pop()).unwrap_or_else(|| Vec::with_capacity(256))
}

/// Returns a buffer to the pool (large ones are freed).
pub fn give_buf(mut v: Vec<u8>) {
    if v.capacity() == 0 || v.capacity() > (1 << 20) {
        return;
    }
    v.clear();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < 8 {
            p.push(v)
        }
    })
}

/// A reply under construction, in a pooled buffer.
pub struct Out {
    pub buf: Vec<u8>,
}

impl Out {
    pub fn ok() -> Out {
        let mut o = Out { buf: take_buf() };
        o.buf.push(REPLY_OK);
        o
    }
    #[inline]
    pub fn u8(&mut self, x: u8) {
        self.buf.push(x);
    }
    #[inline]
    pub fn u32(&mut self, x: u32) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }
    #[inline]
    pub fn i64(&mut self, x: i64) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }
    #[inline]
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.buf.extend_from_slice(b);
    }
    pub fn patch_u32(&mut self, at: usize, x: u32) {
        self.buf[at..at + 4].copy_from_slice(&x.to_le_bytes());
    }
}

/// Encodes an error reply: kind byte, code (has-code byte, i32), message,
/// then the failing SQL (has-SQL byte, bytes).
pub fn error_reply(e: &Error) -> Vec<u8> {
    let mut o = Out { buf: Vec::with_capacity(32 + e.message.len()) };
    o.u8(REPLY_ERROR);
    o.u8(e.kind as u8);
    match e.code {
        Some(c) => {
            o.u8(1);
            o.i64(c as i64)
        }
        None => {
            o.u8(0);
            o.i64(0)
        }
    }
    o.bytes(e.message.as_bytes());
    match &e.sql {
        Some(s) => {
            o.u8(1);
            o.bytes(s.as_bytes())
        }
        None => o.u8(0),
    }
    o.buf
}

pub fn reply(r: Result<Out, Error>) -> Vec<u8> {
    match r {
        Ok(o) => o.buf,
        Err(e) => error_reply(&e),
    }
}

/// A list of byte strings, as a plain export that cannot fail replies it
/// (no status byte): u32 count, then each as u32 length and bytes
/// (`turso_sql_split`: a script's statements).
pub fn string_list(items: &[&[u8]]) -> Vec<u8> {
    let mut o = Out { buf: Vec::with_capacity(4 + items.iter().map(|b| 4 + b.len()).sum::<usize>()) };
    o.u32(items.len() as u32);
    for b in items {
        o.bytes(b);
    }
    o.buf
}

/// A batch request: u8 mode (0 deferred, 1 write, 2 read), u32 count, then
/// per statement its SQL and its parameters (as [Reader::value] encodes
/// them, possibly empty), both length-prefixed.
pub fn batch_request(buf: &[u8]) -> Result<(u8, Vec<(&[u8], &[u8])>), Error> {
    let mut r = Reader::new(buf);
    let mode = r.u8()?;
    let n = r.u32()? as usize;
    let mut v = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let sql = r.bytes()?;
        let params = r.bytes()?;
        v.push((sql, params));
    }
    Ok((mode, v))
}
