//! A connection over Hrana, shared by the remote and replica engines: the
//! connection's own server stream (how a transaction spans requests), what
//! SQLite says of the connection as of the last reply (autocommit, changes,
//! last insert rowid), and every operation of a connection and a statement
//! in the boundary's terms (replies in the `wire` format, errors as a local
//! database words them). One request per call (libsql's `query` costs two).
//!
//! An engine that keeps a copy of the database (a replica) says how, with
//! [Hooks]: it may answer a statement outside a transaction itself, and
//! hears when the connection's writes are committed. The session knows
//! nothing else of it, so it depends on neither engine.

use std::collections::VecDeque;
use std::sync::Arc;

use libsql_hrana::proto;
use parking_lot::Mutex;

use super::{
    encode_result, encode_value, execute_req, fetched_of_hrana, from_hrana, infinite_message, is_too_large,
    plain_step, step, stmt_result, stream_gone, Begin, Client, Cursor, Fetched, Step, Stream, Wrap, INFINITE_REAL,
};
use crate::error::{Error, Kind};
use crate::executor::{runtime, Serial};
use crate::stats::Stats;
use crate::wire::{self, Out, Reader};

/// What an engine that keeps a copy of the database adds to its sessions.
pub trait Hooks: Send + Sync {
    /// A statement outside a transaction, answered from the copy; `None`:
    /// the server runs it.
    fn read(&self, sql: &str, params: &[u8]) -> Result<Option<Fetched>, Error>;
    /// Statements ran on the server and the connection is in autocommit
    /// mode again: its writes are committed.
    fn committed(&self) -> Result<(), Error>;
    /// The connection is closed.
    fn close(&self);
}

/// A connection to a remote database or a replica's primary. Its
/// statements run on a server stream of its own, through the Hrana
/// [Client]: declared column types in every result, batches with
/// parameters in one request, and transactions that span requests.
pub struct Conn {
    session: Mutex<Session>,
    client: Arc<Client>,
    stats: Arc<Stats>,
    hooks: Option<Box<dyn Hooks>>,
    pub serial: Arc<Serial>,
}

/// A connection's server stream, and what SQLite says of the connection
/// as of the last reply.
struct Session {
    closed: bool,
    /// The server stream (none open: the next request opens one).
    stream: Stream,
    autocommit: bool,
    /// A plain `BEGIN` was run and not sent yet: it goes to the server in
    /// the same request as the connection's next statement, which saves a
    /// round trip per transaction (see [is_plain_begin]).
    pending_begin: bool,
    changes: i64,
    last_insert_rowid: i64,
    /// A streamed result whose cursor holds the stream: it is read to its
    /// end (its rows kept for its statement, or dropped) before the
    /// stream's next request ([Conn::settle]).
    cursor: Option<Arc<Mutex<Streamed>>>,
    /// Why the transaction open on the stream was lost while a streamed
    /// result was read: the connection's next request says so.
    lost: Option<String>,
}

/// A result the server streams (Hrana's cursor): a SELECT's rows, read
/// from the reply as the caller asks for them, so that a result of any
/// size costs the memory of a chunk. Local SQLite lets a connection run
/// other statements while a result is open; here the stream is the
/// cursor's until its end, so a statement run meanwhile first reads the
/// rest of the result ahead, kept for its reader up to max_reply_size.
pub struct Streamed {
    sql: String,
    names: Vec<String>,
    decltypes: Vec<Option<String>>,
    /// Until the reply's last line was read.
    cursor: Option<Cursor>,
    /// Whether the statement's end (not an error) was read.
    ended: bool,
    /// Rows read ahead of the reader, with their size in the reply.
    ahead: VecDeque<(Vec<libsql::Value>, usize)>,
    ahead_bytes: usize,
    /// The error the reader gets after the rows read ahead.
    failed: Option<Error>,
    /// Whether rows read ahead are kept (the statement still wants them).
    keep: bool,
}

impl Streamed {
    /// The statement ran again, was reset or closed: what is left of the
    /// result is read past, not kept.
    fn drop_rows(&mut self) {
        self.keep = false;
        self.ahead.clear();
        self.ahead_bytes = 0;
        self.failed = None;
    }
}

/// What [Conn::pull] read.
enum Pulled {
    Row(Vec<libsql::Value>, usize),
    End,
}

/// The most entries of a streamed result taken at once from what has
/// arrived (nothing is waited for beyond the first).
const READ_AHEAD: usize = 1024;

/// Upper bound on the bytes of one chunk of rows handed to OCaml (as a
/// local statement's); a single larger row goes in a chunk of its own.
const CHUNK_BYTES: usize = 1 << 18;



/// Asks for what SQLite's `changes()` and `last_insert_rowid()` say after
/// a script (the server reports them per statement, and only for some).
const CHANGES_SQL: &str = "SELECT changes(), last_insert_rowid()";

/// What a statement's result says of SQLite's `changes()` and
/// `last_insert_rowid()`: the server reports them for INSERT, UPDATE and
/// DELETE only (0 and none otherwise), and SQLite keeps them until the
/// next such statement.
fn note(s: &mut Session, sql: &str, r: &proto::StmtResult) {
    note_counts(s, sql, r.affected_row_count, r.last_insert_rowid)
}

fn note_counts(s: &mut Session, sql: &str, affected: u64, rowid: Option<i64>) {
    if let Some(id) = rowid {
        s.last_insert_rowid = id;
    }
    if crate::sql::sets_changes(sql, affected) {
        s.changes = affected as i64;
    }
}

/// `BEGIN` or `BEGIN DEFERRED` (with or without `TRANSACTION`, any case,
/// an optional `;`): a statement that cannot fail on a connection in
/// autocommit mode, so it can wait for the next statement and go in the
/// same request. `IMMEDIATE` and `EXCLUSIVE` take a lock, which can fail
/// (busy): those are sent at once, and their error comes from them.
fn is_plain_begin(sql: &str) -> bool {
    // Asked of every statement without parameters outside a transaction:
    // no allocation, and a statement that does not start with BEGIN is
    // told apart at its first word.
    let mut w = sql.trim().trim_end_matches(';').split_ascii_whitespace();
    let is = |w: Option<&str>, word: &str| w.is_some_and(|x| x.eq_ignore_ascii_case(word));
    if !is(w.next(), "begin") {
        return false;
    }
    match w.next() {
        None => true,
        Some(x) if x.eq_ignore_ascii_case("transaction") => w.next().is_none(),
        Some(x) if x.eq_ignore_ascii_case("deferred") => {
            let third = w.next();
            third.is_none() || (is(third, "transaction") && w.next().is_none())
        }
        Some(_) => false,
    }
}

/// The server no longer knows the connection's stream: it is forgotten,
/// and inside a transaction the error says that the transaction is gone.
fn forget_stream(s: &mut Session, said: &str) -> Result<(), Error> {
    s.stream = Stream::default();
    if s.autocommit {
        return Ok(());
    }
    s.autocommit = true;
    Err(Error::new(
        Kind::TransactionClosed,
        format!(
            "the server ended this connection's transaction: it was idle too long (sqld expires an \
             idle stream after about 10 s) or the server restarted; it was rolled back, and the \
             connection is usable again (the server said: {said})"
        ),
    ))
}

/// A request that failed part-way on the stream (a streamed result cut
/// off, or one the server refused) spent the stream's baton: the stream
/// is forgotten, and a transaction open on it is lost, which the next
/// request says ([Session::lost]).
fn lose_stream(s: &mut Session, e: &Error) {
    s.stream = Stream::default();
    if !s.autocommit {
        s.autocommit = true;
        s.lost = Some(e.message.clone());
    }
}

impl Conn {
    fn live(&self) -> Result<parking_lot::MutexGuard<'_, Session>, Error> {
        let s = self.session.lock();
        if s.closed {
            return Err(Error::closed("connection"));
        }
        Ok(s)
    }

    /// A new connection: no server stream until its first request.
    pub fn new(client: Arc<Client>, stats: Arc<Stats>, hooks: Option<Box<dyn Hooks>>) -> Arc<Conn> {
        Arc::new(Conn {
            session: Mutex::new(Session {
                closed: false,
                stream: Stream::default(),
                autocommit: true,
                pending_begin: false,
                changes: 0,
                last_insert_rowid: 0,
                cursor: None,
                lost: None,
            }),
            client,
            stats,
            hooks,
            serial: Serial::new(),
        })
    }

    /// Sends `requests` in one HTTP request on this connection's stream,
    /// with a question for the autocommit state after them, and keeps the
    /// answer. A stream the server has dropped (sqld expires one idle for
    /// about 10 s, and forgets all when it restarts) is replaced: outside a
    /// transaction transparently (nothing ran), inside one with an error
    /// that says the transaction is gone.
    fn send(&self, s: &mut Session, mut requests: Vec<proto::StreamRequest>) -> Result<Vec<proto::StreamResult>, Error> {
        self.ready(s)?;
        // A BEGIN held back goes first, in this request; until the reply
        // the server is in autocommit mode (a lost stream is then replaced
        // without an error: nothing ran on it).
        let begin = std::mem::replace(&mut s.pending_begin, false);
        if begin {
            requests.insert(0, execute_req(step("BEGIN", &[], false)?));
            s.autocommit = true;
        }
        requests.push(proto::StreamRequest::GetAutocommit(proto::GetAutocommitStreamReq {}));
        let had_stream = s.stream.is_open();
        let hrana = &self.client;
        let mut r = runtime().block_on(hrana.pipeline_on(&mut s.stream, &requests));
        let gone = match &r {
            Err(e) if had_stream && stream_gone(e) => Some(e.message.clone()),
            _ => None,
        };
        if let Some(said) = gone {
            forget_stream(s, &said)?;
            r = runtime().block_on(hrana.pipeline_on(&mut s.stream, &requests));
        }
        let mut results = match r {
            Ok(results) => results,
            Err(e) => {
                // The BEGIN may have run (a reply refused part-way still
                // kept the stream): the connection is in the transaction as
                // far as it knows, as if the BEGIN had gone alone, so that
                // a transaction lost with the stream is reported, never
                // silently left for autocommit.
                if begin {
                    s.autocommit = false;
                }
                return Err(e);
            }
        };
        if let Some(proto::StreamResult::Ok { response: proto::StreamResponse::GetAutocommit(a) }) = results.pop() {
            s.autocommit = a.is_autocommit;
        }
        if begin && !results.is_empty() {
            // A deferred BEGIN on a connection in autocommit mode does not
            // fail short of a server error (which fails the whole request).
            if let Err(e) = stmt_result(results.remove(0)) {
                return Err(Error::new(Kind::Sql, format!("BEGIN (sent with the next statement) failed: {}", e.message)));
            }
        }
        Ok(results)
    }

    /// Gets the stream ready for a request: a streamed result that holds
    /// it is read to its end first, and a transaction lost meanwhile is
    /// reported (once).
    fn ready(&self, s: &mut Session) -> Result<(), Error> {
        self.settle(s);
        match s.lost.take() {
            None => Ok(()),
            Some(why) => Err(Error::new(
                Kind::TransactionClosed,
                format!(
                    "this connection's transaction was lost while a result was streamed: {why}; the server \
                     rolls it back, and the connection is usable again"
                ),
            )),
        }
    }

    /// Reads the rest of the streamed result that holds the stream: its
    /// rows are kept for its reader while it wants them, up to
    /// max_reply_size (past that, the reader gets an error that says why).
    fn settle(&self, s: &mut Session) {
        let Some(shared) = s.cursor.take() else { return };
        let mut st = shared.lock();
        loop {
            match self.pull(s, &mut st) {
                Ok(Pulled::Row(row, size)) if st.keep => {
                    if st.ahead_bytes + size > self.client.max_reply() {
                        st.drop_rows();
                        st.failed = Some(Error::new(
                            Kind::Decode,
                            format!(
                                "the rest of this result passed max_reply_size ({} bytes) when another statement \
                                 ran on its connection: the server streams a result on the connection, so one \
                                 read while others run is held in memory; read it to its end first, or run the \
                                 other statements on another connection",
                                self.client.max_reply()
                            ),
                        ));
                    } else {
                        st.ahead_bytes += size;
                        st.ahead.push_back((row, size));
                    }
                }
                Ok(Pulled::Row(..)) => {}
                Ok(Pulled::End) => break,
                Err(e) => {
                    if st.keep {
                        st.failed = Some(e);
                    }
                    break;
                }
            }
        }
    }

    /// The next row of the streamed result `st`, whose cursor holds the
    /// stream. The statement's end is [Pulled::End] once the reply's last
    /// line was read (the stream is free again then); its error, once
    /// too, after the rest of the reply was read past.
    fn pull(&self, s: &mut Session, st: &mut Streamed) -> Result<Pulled, Error> {
        loop {
            let Some(c) = st.cursor.as_mut() else { return Ok(Pulled::End) };
            match self.entry(c) {
                Err(e) => {
                    st.cursor = None;
                    lose_stream(s, &e);
                    return Err(e.with_sql(st.sql.as_bytes()));
                }
                Ok(None) => {
                    st.cursor = None;
                    if st.ended {
                        return Ok(Pulled::End);
                    }
                    let e = Error::new(Kind::Network, "the server ended a streamed result before its end");
                    lose_stream(s, &e);
                    return Err(e.with_sql(st.sql.as_bytes()));
                }
                Ok(Some((entry, size))) => match entry {
                    proto::CursorEntry::Row { row } => {
                        return Ok(Pulled::Row(row.values.into_iter().map(from_hrana).collect(), size))
                    }
                    proto::CursorEntry::StepEnd(end) => {
                        note_counts(s, &st.sql, end.affected_row_count, end.last_insert_rowid);
                        st.ended = true;
                    }
                    proto::CursorEntry::StepError(proto::StepErrorEntry { error, .. })
                    | proto::CursorEntry::Error { error } => {
                        let e = self.cursor_error(st, error);
                        self.read_past(s, st);
                        return Err(e);
                    }
                    _ => {}
                },
            }
        }
    }

    /// The next entry of a cursor's reply (`None` at its end), from what
    /// was read ahead, or else read (with what else has arrived).
    fn entry(&self, c: &mut Cursor) -> Result<Option<(proto::CursorEntry, usize)>, Error> {
        loop {
            if let Some(e) = c.next() {
                return e.map(Some);
            }
            if c.finished() {
                return Ok(None);
            }
            runtime().block_on(self.client.read_entries(c, READ_AHEAD));
        }
    }

    /// A streamed statement's error, as an [Error] with its SQL.
    fn cursor_error(&self, st: &Streamed, e: proto::Error) -> Error {
        let e = if e.code == INFINITE_REAL {
            let column = e.message.parse::<usize>().ok().and_then(|i| st.names.get(i));
            let column = column.cloned().unwrap_or_else(|| e.message.clone());
            Error::new(Kind::Decode, infinite_message(&column))
        } else {
            self.client.server_error(e)
        };
        e.with_sql(st.sql.as_bytes())
    }

    /// Reads what is left of a streamed reply, for nothing but to free
    /// the stream.
    fn read_past(&self, s: &mut Session, st: &mut Streamed) {
        st.ended = true;
        while let Some(c) = st.cursor.as_mut() {
            match self.entry(c) {
                Ok(Some(_)) => {}
                Ok(None) => st.cursor = None,
                Err(e) => {
                    st.cursor = None;
                    lose_stream(s, &e);
                }
            }
        }
    }

    /// A query's result for its rows to be read: whole, in one request,
    /// as any statement's; a statement that only reads and whose reply is
    /// too large for that (sqld refuses one past 10 MB by default, this
    /// client past max_reply_size) runs again, streamed ([Conn::stream]).
    /// Whole first because sqld sends a streamed result a row at a time,
    /// several times slower than a whole reply (and the retry starts only
    /// after a statement that parsed and ran: a stream request the server
    /// cannot parse would cost the connection its stream).
    fn query_rows(&self, sql: &[u8], ps: &[u8]) -> Result<Res, Error> {
        let text = crate::sql::text(sql)?;
        match self.query(sql, ps) {
            Err(e) if is_too_large(&e) && crate::sql::is_read_only(text) => self.stream(text, ps),
            r => r.map(|f| Res::Buffered(f, 0)),
        }
    }

    /// Runs a statement as a Hrana cursor: the server sends its rows as
    /// they are read ([Streamed]). One request.
    fn stream(&self, text: &str, ps: &[u8]) -> Result<Res, Error> {
        let sql = text.as_bytes();
        let with_sql = |e: Error| e.with_sql(sql);
        let mut s = self.live()?;
        self.ready(&mut s).map_err(with_sql)?;
        if s.pending_begin {
            // a cursor request carries one statement: the BEGIN goes alone
            self.send(&mut s, Vec::new()).map_err(with_sql)?;
        }
        let first = step(text, ps, true).map_err(with_sql)?;
        let had_stream = s.stream.is_open();
        let mut r = runtime().block_on(self.client.cursor_on(&mut s.stream, first));
        let gone = match &r {
            Err(e) if had_stream && stream_gone(e) => Some(e.message.clone()),
            _ => None,
        };
        if let Some(said) = gone {
            forget_stream(&mut s, &said).map_err(with_sql)?;
            r = runtime().block_on(self.client.cursor_on(&mut s.stream, step(text, ps, true).map_err(with_sql)?));
        }
        let cursor = match r {
            Ok(c) => c,
            Err(e) => {
                lose_stream(&mut s, &e);
                return Err(e.with_sql(sql));
            }
        };
        let mut st = Streamed {
            sql: text.to_string(),
            names: Vec::new(),
            decltypes: Vec::new(),
            cursor: Some(cursor),
            ended: false,
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            failed: None,
            keep: true,
        };
        loop {
            let Some(c) = st.cursor.as_mut() else { unreachable!("the cursor is read past only after an error") };
            match self.entry(c) {
                Ok(Some((proto::CursorEntry::StepBegin(b), _))) => {
                    st.names = b.cols.iter().map(|c| c.name.clone().unwrap_or_default()).collect();
                    st.decltypes = b.cols.into_iter().map(|c| c.decltype).collect();
                    break;
                }
                Ok(Some((proto::CursorEntry::StepError(proto::StepErrorEntry { error, .. }), _)))
                | Ok(Some((proto::CursorEntry::Error { error }, _))) => {
                    let e = self.cursor_error(&st, error);
                    self.read_past(&mut s, &mut st);
                    return Err(e);
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    let e = Error::new(Kind::Network, "the server ended a streamed result before it began");
                    lose_stream(&mut s, &e);
                    return Err(e.with_sql(sql));
                }
                Err(e) => {
                    lose_stream(&mut s, &e);
                    return Err(e.with_sql(sql));
                }
            }
        }
        let shared = Arc::new(Mutex::new(st));
        s.cursor = Some(shared.clone());
        Ok(Res::Streamed(shared))
    }

    /// Up to `max_rows` rows of the streamed result `shared` into `out` (a
    /// chunk, layout: `wire`); whether the result is done.
    fn fill_streamed(&self, s: &mut Session, shared: &Arc<Mutex<Streamed>>, out: &mut Out, max_rows: usize) -> Result<bool, Error> {
        let mut st = shared.lock();
        let count_at = out.buf.len();
        out.u32(0);
        let mut n = 0u32;
        let mut done = false;
        let r = (|| {
            while (n as usize) < max_rows.max(1) && (n == 0 || out.buf.len() - count_at < CHUNK_BYTES) {
                let row = if let Some((row, size)) = st.ahead.pop_front() {
                    st.ahead_bytes -= size;
                    row
                } else if let Some(e) = st.failed.take() {
                    return Err(e);
                } else {
                    match self.pull(s, &mut st)? {
                        Pulled::Row(row, _) => row,
                        Pulled::End => {
                            done = true;
                            break;
                        }
                    }
                };
                for v in &row {
                    encode_value(v, out);
                }
                n += 1;
            }
            Ok(())
        })();
        if st.cursor.is_none() && s.cursor.as_ref().is_some_and(|c| Arc::ptr_eq(c, shared)) {
            s.cursor = None;
        }
        r?;
        out.patch_u32(count_at, n);
        out.u8(done as u8);
        Ok(done)
    }

    /// The server reports a constraint's primary code only, and SQLite
    /// words a PRIMARY KEY violation as "UNIQUE constraint failed: t.c":
    /// the extended code is inferred from the message (UNIQUE), then the
    /// schema tells whether those columns are the table's primary key.
    /// One more request, on the same stream, only on this error.
    fn refine_unique(&self, s: &mut Session, mut e: Error) -> Error {
        const UNIQUE: i32 = 2067;
        const PRIMARYKEY: i32 = 1555;
        if e.code != Some(UNIQUE) {
            return e;
        }
        let Some(list) = e.message.split("UNIQUE constraint failed: ").nth(1) else { return e };
        let cols: Vec<(&str, &str)> = list.trim_end().split(", ").filter_map(|c| c.split_once('.')).collect();
        let Some((table, _)) = cols.first() else { return e };
        let names = cols.iter().map(|(_, c)| *c).collect::<Vec<_>>().join(",");
        let probe = "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) AS l WHERE l.origin = 'pk' AND \
                     (SELECT group_concat(name) FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno)) = ?2) \
                     OR ((SELECT count(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1 AND EXISTS \
                     (SELECT 1 FROM pragma_table_info(?1) WHERE pk = 1 AND name = ?2 AND upper(type) = 'INTEGER'))";
        let text = |t: &str| proto::Value::Text { value: t.to_string().into() };
        let req = execute_req(Step {
            sql: probe.to_string(),
            args: vec![text(table), text(&names)],
            named: Vec::new(),
            want_rows: true,
        });
        if let Ok(mut r) = self.send(s, vec![req]) {
            if let Some(Ok(res)) = r.pop().map(stmt_result) {
                let is_pk = res.rows.first().and_then(|row| row.values.first()).is_some_and(|v| matches!(v, proto::Value::Integer { value: 1 }));
                if is_pk {
                    e.code = Some(PRIMARYKEY);
                }
            }
        }
        e
    }

    /// A statement's error, as an [Error] (refined; with its SQL).
    fn statement_error(&self, s: &mut Session, e: proto::Error, sql: &str) -> Error {
        let e = self.client.server_error(e);
        self.refine_unique(s, e).with_sql(sql.as_bytes())
    }

    /// After statements on the server: once the connection is back in
    /// autocommit mode, its writes are committed, which a copy may want to
    /// catch up with ([Hooks::committed]).
    fn after_write(&self, s: &Session) -> Result<(), Error> {
        match &self.hooks {
            Some(h) if s.autocommit => h.committed(),
            _ => Ok(()),
        }
    }

    /// Outside a transaction, a statement a copy answers ([Hooks::read]).
    fn local_read(&self, s: &Session, sql: &str, ps: &[u8]) -> Result<Option<Fetched>, Error> {
        match &self.hooks {
            Some(h) if s.autocommit => h.read(sql, ps),
            _ => Ok(None),
        }
    }

    /// One statement and its whole result, rows changed and inserted rowid.
    fn statement(&self, sql: &[u8], ps: &[u8]) -> Result<(Fetched, i64, Option<i64>), Error> {
        let sql = crate::sql::text(sql)?;
        let mut s = self.live()?;
        self.stats.statements(1);
        if s.autocommit && !s.pending_begin && ps.is_empty() && is_plain_begin(sql) {
            self.ready(&mut s)?;
            s.pending_begin = true;
            s.autocommit = false;
            return Ok((Fetched { names: Vec::new(), decltypes: Vec::new(), rows: Vec::new() }, 0, None));
        }
        if let Some(f) = self.local_read(&s, sql, ps)? {
            return Ok((f, 0, None));
        }
        let req = execute_req(step(sql, ps, true).map_err(|e| e.with_sql(sql.as_bytes()))?);
        let reply = self.send(&mut s, vec![req]).map_err(|e| e.with_sql(sql.as_bytes()))?;
        let r = match reply.into_iter().next().map(stmt_result) {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(self.statement_error(&mut s, e, sql)),
            None => return Err(Error::new(Kind::Network, "no reply from the server to a statement")),
        };
        note(&mut s, sql, &r);
        self.after_write(&s)?;
        Ok(fetched_of_hrana(r))
    }

    pub fn execute(&self, sql: &[u8], ps: &[u8]) -> Result<Out, Error> {
        let (_, changes, _) = self.statement(sql, ps)?;
        let mut o = Out::ok();
        o.i64(changes);
        o.i64(self.live()?.last_insert_rowid);
        Ok(o)
    }

    pub fn query(&self, sql: &[u8], ps: &[u8]) -> Result<Fetched, Error> {
        self.statement(sql, ps).map(|(f, _, _)| f)
    }

    /// One statement and its whole result (layout: `wire`).
    pub fn run(&self, sql: &[u8], params: &[u8]) -> Result<Out, Error> {
        let (f, changes, rowid) = self.statement(sql, params)?;
        let mut out = Out::ok();
        encode_result(&mut out, &f, changes, rowid);
        Ok(out)
    }

    /// Statements with their parameters, all or nothing, in one request:
    /// in a transaction of their own (`begin`), or in a savepoint of the
    /// open one. `tag` names a failing statement.
    fn batch_steps(
        &self,
        begin: Begin,
        steps: Vec<Step>,
        tag: &dyn Fn(usize, Error) -> Error,
    ) -> Result<Vec<proto::StmtResult>, Error> {
        let mut s = self.live()?;
        let wrap = if s.autocommit { Wrap::Begin(begin) } else { Wrap::Savepoint };
        let sqls: Vec<String> = steps.iter().map(|st| st.sql.clone()).collect();
        self.stats.statements(steps.len() as u64);
        let reply = self.send(&mut s, vec![Client::batch_request(wrap, steps)])?;
        let reply = reply.into_iter().next().ok_or_else(|| Error::new(Kind::Network, "no reply to a batch"))?;
        let refs: Vec<&str> = sqls.iter().map(String::as_str).collect();
        let outcome = runtime().block_on(self.client.batch_outcome(reply, &refs));
        let results = match outcome {
            Ok(r) => r,
            Err((k, e)) => {
                let e = self.refine_unique(&mut s, e);
                return Err(match k {
                    Some(k) => tag(k, e),
                    None => e,
                });
            }
        };
        for (r, sql) in results.iter().zip(&sqls) {
            note(&mut s, sql, r);
        }
        self.after_write(&s)?;
        Ok(results)
    }

    /// A batch of statements with parameters (see [wire::batch_request]):
    /// one request. A read batch outside a transaction, on a connection
    /// whose engine keeps a copy, runs statement by statement, so that the
    /// copy answers them.
    pub fn batch_list(&self, req: &[u8]) -> Result<Out, Error> {
        let (mode, stmts) = wire::batch_request(req)?;
        let tag = |i: usize, mut e: Error| {
            e.message = format!("statement {i}: {}", e.message);
            e.with_sql(stmts[i].0)
        };
        for (i, (sql, _)) in stmts.iter().enumerate() {
            if crate::sql::ends_transaction(sql) {
                return Err(tag(i, Error::new(
                    Kind::Misuse,
                    "a batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK",
                )));
            }
        }
        let mut out = Out::ok();
        out.u32(stmts.len() as u32);
        if mode == 2 && self.hooks.is_some() && self.live()?.autocommit {
            for (i, (sql, params)) in stmts.iter().enumerate() {
                let (f, changes, rowid) = self.statement(sql, params).map_err(|e| tag(i, e))?;
                encode_result(&mut out, &f, changes, rowid);
            }
            return Ok(out);
        }
        let mut steps = Vec::with_capacity(stmts.len());
        for (i, (sql, params)) in stmts.iter().enumerate() {
            let text = crate::sql::text(sql).map_err(|e| tag(i, e))?;
            steps.push(step(text, params, true).map_err(|e| tag(i, e))?);
        }
        let begin = if mode == 1 { Begin::Immediate } else { Begin::Deferred };
        for r in self.batch_steps(begin, steps, &tag)? {
            let (f, changes, rowid) = fetched_of_hrana(r);
            encode_result(&mut out, &f, changes, rowid);
        }
        Ok(out)
    }

    /// A script (`atomic`: all or nothing), split into its statements (see
    /// [crate::sql::split]) and sent in one request, as on a local
    /// file: it stops at the first error, whose message names the
    /// statement. An atomic script runs in a transaction of its own (a
    /// savepoint inside an open one) and cannot contain BEGIN, COMMIT or
    /// ROLLBACK; a plain script that opened a transaction and failed has
    /// it rolled back, in the same request.
    pub fn batch(&self, sql: &[u8], atomic: bool) -> Result<Out, Error> {
        let text = crate::sql::text(sql)?;
        let pieces = crate::sql::split(text);
        let tag = |i: usize, mut e: Error| {
            e.message = format!("statement {i}: {}", e.message);
            e.with_sql(pieces[i].as_bytes())
        };
        if atomic {
            if let Some(i) = pieces.iter().position(|p| crate::sql::ends_transaction(p.as_bytes())) {
                return Err(tag(i, Error::new(
                    Kind::Misuse,
                    "an atomic batch runs in its own transaction and cannot contain BEGIN, COMMIT or ROLLBACK; use a script",
                )));
            }
            if !pieces.is_empty() {
                let steps = pieces.iter().map(|p| Step { want_rows: false, ..plain_step(p) }).collect();
                self.batch_steps(Begin::Deferred, steps, &tag)?;
            }
        } else if !pieces.is_empty() {
            self.script(&pieces, &tag)?;
        }
        let s = self.live()?;
        let mut o = Out::ok();
        o.i64(s.changes);
        o.i64(s.last_insert_rowid);
        Ok(o)
    }

    /// The statements of a script, each only if the one before succeeded,
    /// then SQLite's `changes()` and `last_insert_rowid()`: one request.
    fn script(&self, pieces: &[&str], tag: &dyn Fn(usize, Error) -> Error) -> Result<(), Error> {
        use proto::BatchCond as C;
        let n = pieces.len();
        let mut s = self.live()?;
        let was_autocommit = s.autocommit;
        let mut steps: Vec<(Option<C>, String)> = Vec::with_capacity(n + 1);
        for (i, p) in pieces.iter().enumerate() {
            steps.push(((i > 0).then(|| C::Ok { step: i as u32 - 1 }), p.to_string()));
        }
        if was_autocommit {
            // it opened a transaction and failed: roll that back
            let failed = C::Not { cond: Box::new(C::Ok { step: n as u32 - 1 }) };
            let open = C::Not { cond: Box::new(C::IsAutocommit {}) };
            steps.push((Some(C::And(proto::BatchCondList { conds: vec![failed, open] })), "ROLLBACK".into()));
        }
        self.stats.statements(n as u64);
        let requests = vec![Client::batch_request_of(steps), execute_req(plain_step(CHANGES_SQL))];
        let mut reply = self.send(&mut s, requests)?.into_iter();
        let batch = reply.next();
        if let Some(Ok(r)) = reply.next().map(stmt_result) {
            if let Some([proto::Value::Integer { value: c }, proto::Value::Integer { value: id }]) =
                r.rows.first().map(|row| &row.values[..])
            {
                s.changes = *c;
                s.last_insert_rowid = *id;
            }
        }
        let failure = match batch {
            Some(proto::StreamResult::Ok { response: proto::StreamResponse::Batch(b) }) => {
                b.result.step_errors.into_iter().take(n).enumerate().find_map(|(i, e)| e.map(|e| (Some(i), e)))
            }
            Some(proto::StreamResult::Error { error }) => Some((None, error)),
            _ => return Err(Error::new(Kind::Network, "unexpected reply from the server to a script")),
        };
        let Some((index, error)) = failure else {
            self.after_write(&s)?;
            return Ok(());
        };
        let e = self.client.server_error(error.clone());
        let e = self.refine_unique(&mut s, e);
        if index.is_none() && error.code == "SQL_PARSE_ERROR" {
            // sqld parses the whole request first: nothing ran. As on a
            // local file, the statements before the unparsable one run.
            let k = runtime().block_on(self.client.first_unparsable(pieces));
            drop(s);
            if let Some(k) = k {
                if k > 0 {
                    self.script(&pieces[..k], tag)?;
                }
                return Err(tag(k, e));
            }
            return Err(e);
        }
        let _ = self.after_write(&s);
        Err(match index {
            Some(i) => tag(i, e),
            None => e,
        })
    }

    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        Ok(self.live()?.last_insert_rowid)
    }

    pub fn changes(&self) -> Result<i64, Error> {
        Ok(self.live()?.changes)
    }

    pub fn is_autocommit(&self) -> Result<bool, Error> {
        Ok(self.live()?.autocommit)
    }

    /// The autocommit state if it can be read without waiting (no request
    /// of the connection under way, and open); `None` otherwise.
    pub fn try_autocommit(&self) -> Option<bool> {
        let s = self.session.try_lock()?;
        (!s.closed).then_some(s.autocommit)
    }

    /// Closes the connection; its server stream is closed in the
    /// background (which rolls back a transaction left open), so closing
    /// never waits for a server that does not answer.
    pub fn close(&self) {
        let mut s = self.session.lock();
        s.closed = true;
        if let Some(c) = s.cursor.take() {
            // dropping the reply ends the cursor on the server
            c.lock().cursor = None;
        }
        let mut stream = std::mem::take(&mut s.stream);
        if stream.is_open() {
            let hrana = self.client.clone();
            runtime().spawn(async move {
                let _ = hrana.pipeline_on(&mut stream, &[proto::StreamRequest::Close(proto::CloseStreamReq {})]).await;
            });
        }
        if let Some(h) = &self.hooks {
            h.close();
        }
    }

    pub fn prepare(self: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        Stmt::new(self, sql)
    }

    /// A remote server has no local lock to wait for.
    pub fn set_busy_timeout(&self, _ms: i64) -> Result<(), Error> {
        self.live().map(drop)
    }
}

/// A prepared statement on a remote connection: its SQL, run again on each
/// execution (the server caches the preparation), and the result being read.
pub struct Stmt {
    pub conn: Arc<Conn>,
    sql: Vec<u8>,
    state: Mutex<StmtState>,
}

struct StmtState {
    closed: bool,
    generation: u64,
    header_sent: bool,
    result: Option<Res>,
}

/// The result being read: whole, with the position of the next row, or
/// streamed.
enum Res {
    Buffered(Fetched, usize),
    Streamed(Arc<Mutex<Streamed>>),
}

/// The result is no longer read: a streamed one's rest is read past.
fn drop_result(r: Option<Res>) {
    if let Some(Res::Streamed(st)) = r {
        st.lock().drop_rows();
    }
}

impl Stmt {
    pub fn new(conn: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        drop(conn.live()?);
        Ok(Arc::new(Stmt {
            conn: conn.clone(),
            sql: sql.to_vec(),
            state: Mutex::new(StmtState { closed: false, generation: 0, header_sent: false, result: None }),
        }))
    }

    fn live(&self) -> Result<parking_lot::MutexGuard<'_, StmtState>, Error> {
        let s = self.state.lock();
        if s.closed {
            return Err(Error::closed("statement"));
        }
        Ok(s)
    }

    pub fn execute(&self, params: Vec<u8>) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        drop_result(s.result.take());
        drop(s);
        self.conn.execute(&self.sql, &params)
    }

    /// All parameter sets, all or nothing, in one request (see
    /// [Conn::batch_list]).
    pub fn execute_many(&self, sets: Vec<u8>) -> Result<Out, Error> {
        drop(self.live()?);
        let mut r = Reader::new(&sets);
        let n = r.u32()? as usize;
        let sql = crate::sql::text(&self.sql)?;
        let tag = |k: usize, mut e: Error| {
            e.message = format!("parameter set {k}: {}", e.message);
            e.with_sql(sql.as_bytes())
        };
        let mut steps = Vec::with_capacity(n);
        for k in 0..n {
            steps.push(step(sql, r.bytes()?, false).map_err(|e| tag(k, e))?);
        }
        let results = self.conn.batch_steps(Begin::Immediate, steps, &tag).map_err(|e| e.with_sql(sql.as_bytes()))?;
        let total: u64 = results.iter().map(|r| r.affected_row_count).sum();
        let mut o = Out::ok();
        o.i64(total as i64);
        o.i64(self.conn.last_insert_rowid()?);
        Ok(o)
    }

    /// Starts a query: generation, header, first chunk (as a local
    /// statement's). `max_rows == 0` (the first row only) reads the result
    /// whole; otherwise a SELECT's rows are streamed ([Conn::query_rows]).
    pub fn query(&self, params: Vec<u8>, max_rows: usize, want_header: bool) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        drop_result(s.result.take());
        let generation = s.generation;
        drop(s);
        let res = if max_rows == 0 {
            Res::Buffered(self.conn.query(&self.sql, &params)?, 0)
        } else {
            self.conn.query_rows(&self.sql, &params)?
        };
        // locks in the connection's order: session, statement, result
        let mut session = self.conn.live()?;
        let mut s = match self.live() {
            Ok(s) if s.generation == generation => s,
            Ok(_) => {
                drop_result(Some(res));
                return Err(Error::new(Kind::Misuse, "this result set was invalidated: its statement was executed again"));
            }
            Err(e) => {
                drop_result(Some(res));
                return Err(e);
            }
        };
        let mut out = Out::ok();
        out.i64(generation as i64);
        if want_header || !s.header_sent {
            s.header_sent = true;
            out.u8(1);
            let mut header = |names: &[String], decltypes: &[Option<String>]| {
                out.u32(names.len() as u32);
                for (n, d) in names.iter().zip(decltypes) {
                    out.bytes(n.as_bytes());
                    out.bytes(d.as_deref().unwrap_or("").as_bytes());
                }
            };
            match &res {
                Res::Buffered(f, _) => header(&f.names, &f.decltypes),
                Res::Streamed(st) => {
                    let st = st.lock();
                    header(&st.names, &st.decltypes)
                }
            }
        } else {
            out.u8(0);
        }
        s.result = Some(res);
        self.fill(&mut session, &mut s, &mut out, max_rows)?;
        Ok(out)
    }

    pub fn fetch(&self, generation: u64, max_rows: usize) -> Result<Out, Error> {
        let mut session = self.conn.live()?;
        let mut s = self.live()?;
        if s.generation != generation {
            return Err(Error::new(Kind::Misuse, "this result set was invalidated: its statement was executed again"));
        }
        let mut out = Out::ok();
        self.fill(&mut session, &mut s, &mut out, max_rows)?;
        Ok(out)
    }

    /// The next chunk of the result being read (layout: `wire`).
    fn fill(&self, session: &mut Session, s: &mut StmtState, out: &mut Out, max_rows: usize) -> Result<(), Error> {
        match &s.result {
            Some(Res::Streamed(st)) => {
                let st = st.clone();
                match self.conn.fill_streamed(session, &st, out, max_rows) {
                    Ok(true) => s.result = None,
                    Ok(false) => {}
                    Err(e) => {
                        drop_result(s.result.take());
                        return Err(e);
                    }
                }
            }
            _ => fill_buffered(s, out, max_rows),
        }
        Ok(())
    }

    /// Counted in the SQL as SQLite counts (see [crate::sql]).
    pub fn parameter_count(&self) -> Result<i64, Error> {
        drop(self.live()?);
        Ok(crate::sql::parameter_count(crate::sql::text(&self.sql)?) as i64)
    }

    pub fn serial(&self) -> &Arc<Serial> {
        &self.conn.serial
    }

    pub fn reset(&self, generation: Option<u64>) -> Result<(), Error> {
        let mut s = self.live()?;
        if generation.is_none_or(|g| g == s.generation) {
            drop_result(s.result.take());
            s.generation += 1;
        }
        Ok(())
    }

    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        drop_result(s.result.take());
    }
}

/// A chunk from the buffered result (layout: `wire`). `max_rows == 0`:
/// the first row only.
fn fill_buffered(s: &mut StmtState, out: &mut Out, max_rows: usize) {
    let single = max_rows == 0;
    let limit = max_rows.max(1);
    let count_at = out.buf.len();
    out.u32(0);
    let mut n = 0u32;
    let mut done = true;
    if let Some(Res::Buffered(res, pos)) = s.result.as_mut() {
        while *pos < res.rows.len() && (n as usize) < limit && (n == 0 || out.buf.len() - count_at < CHUNK_BYTES) {
            for v in &res.rows[*pos] {
                encode_value(v, out);
            }
            *pos += 1;
            n += 1;
        }
        done = single || *pos >= res.rows.len();
    }
    if done {
        s.result = None;
    }
    out.patch_u32(count_at, n);
    out.u8(done as u8);
}


#[cfg(test)]
mod tests {
    use super::is_plain_begin;

    #[test]
    fn plain_begin() {
        for yes in ["BEGIN", "begin;", " Begin Transaction ", "BEGIN DEFERRED", "begin deferred transaction;"] {
            assert!(is_plain_begin(yes), "{yes}");
        }
        for no in [
            "BEGIN IMMEDIATE",
            "BEGIN EXCLUSIVE TRANSACTION",
            "BEGIN TRANSACTION x",
            "BEGIN DEFERRED TRANSACTION x",
            "BEGINNING",
            "SELECT 1",
            "",
            "-- c\nBEGIN",
        ] {
            assert!(!is_plain_begin(no), "{no}");
        }
    }
}
