//! The Hrana protocol (sqld and Turso over HTTP), as the remote and replica
//! engines speak it: a pipeline client, a database URL's HTTP form, and the
//! conversions between the boundary's values (`wire`) and the protocol's.
//! Our own client rather than libsql's: one request per call, batches of
//! statements *with parameters* in one request whatever their number
//! (libsql does not offer that over HTTP), declared column types in every
//! result, and transactions that span requests. What a connection is over
//! it (its server stream, transaction state, statements) is [session].
//!
//! Every request is bounded by the database's timeout, and the auth token
//! never enters an error: messages are scrubbed of it before they leave.

pub mod session;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use libsql_hrana::proto;

use crate::error::{Error, Kind};
use crate::stats::Stats;
use crate::wire::{self, Out, Param, Reader};

type Https = hyper_rustls::HttpsConnector<hyper::client::HttpConnector>;

pub struct Client {
    http: hyper::Client<Https, hyper::Body>,
    pipeline_url: String,
    cursor_url: String,
    auth: Option<String>,
    token: String,
    timeout: Duration,
    /// The largest reply read; a larger one is refused as it arrives, so a
    /// broken or hostile server cannot make this process hold it.
    max_reply: usize,
    /// The database's: every HTTP request is counted there.
    stats: Arc<Stats>,
}

/// One statement of a batch and its parameters.
pub struct Step {
    pub sql: String,
    pub args: Vec<proto::Value>,
    pub named: Vec<(String, proto::Value)>,
    pub want_rows: bool,
}

impl Step {
    /// The statement as the protocol sends it.
    pub fn into_stmt(self) -> proto::Stmt {
        let mut stmt = proto::Stmt::new(self.sql, self.want_rows);
        stmt.args = self.args;
        stmt.named_args = self.named.into_iter().map(|(name, value)| proto::NamedArg { name, value }).collect();
        stmt
    }
}

fn connector() -> Result<Https, Error> {
    let mut http = hyper::client::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| Error::new(Kind::Config, format!("TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// How a batch outside a transaction begins.
#[derive(Clone, Copy)]
pub enum Begin {
    Deferred,
    Immediate,
}

/// What a batch runs in: a transaction of its own, or a savepoint of the
/// transaction open on the stream.
#[derive(Clone, Copy)]
pub enum Wrap {
    Begin(Begin),
    Savepoint,
}

/// A server stream: its baton, and the URL the server asked this stream's
/// requests to go to (Hrana's `base_url`: a server behind a load
/// balancer pins a stream to one instance this way). The default is no
/// stream: the next request opens one at the database's URL.
#[derive(Default)]
pub struct Stream {
    pub baton: Option<String>,
    base_url: Option<String>,
}

impl Stream {
    pub fn is_open(&self) -> bool {
        self.baton.is_some()
    }
}

/// Whether a request on an open stream failed because the server no
/// longer knows the stream: sqld expires a stream idle for about 10 s (and
/// the transaction open on it) and forgets all of them when it restarts,
/// answering 400 (STREAM_EXPIRED, "invalid baton"). Any client error
/// other than auth, timeout and rate limits counts: a stream kept after
/// one would fail every later request.
pub fn stream_gone(e: &Error) -> bool {
    let status = e.message.strip_prefix("status=").and_then(|r| r.get(..3)).and_then(|d| d.parse::<u16>().ok());
    matches!(status, Some(400..=499)) && !matches!(status, Some(401 | 403 | 408 | 429))
}

impl Client {
    /// `url`: the database's http:// or https:// URL.
    pub fn new(
        url: &str,
        token: &str,
        timeout: Duration,
        max_reply: usize,
        stats: Arc<Stats>,
    ) -> Result<Arc<Client>, Error> {
        Ok(Arc::new(Client {
            http: hyper::Client::builder().build(connector()?),
            pipeline_url: format!("{}/v3/pipeline", url.trim_end_matches('/')),
            cursor_url: format!("{}/v3/cursor", url.trim_end_matches('/')),
            auth: if token.is_empty() { None } else { Some(format!("Bearer {token}")) },
            token: token.to_string(),
            timeout,
            max_reply,
            stats,
        }))
    }

    /// The largest reply (for a streamed result: row) read.
    pub fn max_reply(&self) -> usize {
        self.max_reply
    }

    fn too_large(&self) -> Error {
        Error::new(
            Kind::Decode,
            format!(
                "{TOO_LARGE} max_reply_size ({} bytes): ask for fewer rows (LIMIT), read them with \
                 Conn.query or Stmt.query (which stream a SELECT's rows), or open the database with a \
                 larger max_reply_size",
                self.max_reply
            ),
        )
    }

    /// The body of a reply, refused as soon as it passes [Client::max_reply]
    /// (at once when its declared length does).
    async fn read_body(&self, resp: hyper::Response<hyper::Body>) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        self.read_into(resp, &mut buf).await.map(|()| buf)
    }

    /// [Client::read_body] into `buf`, which keeps the reply's first bytes
    /// when it is refused (what a pipeline reply says of its stream comes
    /// first: see [head_of]).
    async fn read_into(&self, resp: hyper::Response<hyper::Body>, buf: &mut Vec<u8>) -> Result<(), Error> {
        use hyper::body::HttpBody;
        let declared = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = resp.into_body();
        if declared.map_or(false, |n| n > self.max_reply as u64) {
            if let Some(Ok(chunk)) = body.data().await {
                buf.extend_from_slice(&chunk[..chunk.len().min(4096)]);
            }
            return Err(self.too_large());
        }
        buf.reserve(declared.unwrap_or(0).min(1 << 20) as usize);
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| Error::new(Kind::Network, self.scrub(format!("reading the reply: {e}"))))?;
            if buf.len() + chunk.len() > self.max_reply {
                return Err(self.too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(())
    }

    fn scrub(&self, msg: String) -> String {
        if self.token.len() >= 4 {
            msg.replace(&self.token, "<redacted>")
        } else {
            msg
        }
    }

    /// A batch request running `steps` all or nothing: wrapped in a
    /// transaction (`Wrap::Begin`) or, inside an open one, in a savepoint.
    /// Each statement runs only if the one before succeeded; the
    /// transaction or savepoint is rolled back unless it was committed or
    /// released. See [Client::batch_outcome] for the reply.
    pub fn batch_request(wrap: Wrap, steps: Vec<Step>) -> proto::StreamRequest {
        let n = steps.len();
        let open = match wrap {
            Wrap::Begin(Begin::Deferred) => "BEGIN DEFERRED",
            Wrap::Begin(Begin::Immediate) => "BEGIN IMMEDIATE",
            Wrap::Savepoint => "SAVEPOINT turso_batch",
        };
        let ok = |step: usize| proto::BatchCond::Ok { step: step as u32 };
        let not_done = || proto::BatchCond::Not { cond: Box::new(ok(n + 1)) };
        let mut batch_steps = Vec::with_capacity(n + 4);
        batch_steps.push(proto::BatchStep { condition: None, stmt: proto::Stmt::new(open, false) });
        for (i, s) in steps.into_iter().enumerate() {
            batch_steps.push(proto::BatchStep { condition: Some(ok(i)), stmt: s.into_stmt() });
        }
        let step = |condition, sql: &str| proto::BatchStep { condition: Some(condition), stmt: proto::Stmt::new(sql, false) };
        match wrap {
            Wrap::Begin(_) => {
                batch_steps.push(step(ok(n), "COMMIT"));
                batch_steps.push(step(not_done(), "ROLLBACK"));
            }
            Wrap::Savepoint => {
                batch_steps.push(step(ok(n), "RELEASE turso_batch"));
                batch_steps.push(step(not_done(), "ROLLBACK TO turso_batch"));
                batch_steps.push(step(not_done(), "RELEASE turso_batch"));
            }
        }
        proto::StreamRequest::Batch(proto::BatchStreamReq {
            batch: proto::Batch { steps: batch_steps, replication_index: None },
        })
    }

    /// A batch request of plain statements, each with its condition.
    pub fn batch_request_of(steps: Vec<(Option<proto::BatchCond>, String)>) -> proto::StreamRequest {
        let steps = steps
            .into_iter()
            .map(|(condition, sql)| proto::BatchStep { condition, stmt: proto::Stmt::new(sql, false) })
            .collect();
        proto::StreamRequest::Batch(proto::BatchStreamReq { batch: proto::Batch { steps, replication_index: None } })
    }

    /// The reply to [Client::batch_request] of `sqls`: each statement's
    /// result, or the failing statement's index (when known) and error.
    pub async fn batch_outcome(
        &self,
        reply: proto::StreamResult,
        sqls: &[&str],
    ) -> Result<Vec<proto::StmtResult>, (Option<usize>, Error)> {
        let n = sqls.len();
        let result = match reply {
            proto::StreamResult::Ok { response: proto::StreamResponse::Batch(b) } => b.result,
            proto::StreamResult::Error { error } => {
                // sqld parses the whole batch first: a syntax error fails the
                // request, without the statement's index. Describing each
                // statement (one more request, only on this path) finds it.
                let index = if error.code == "SQL_PARSE_ERROR" { self.first_unparsable(sqls).await } else { None };
                return Err((index, self.server_error(error)));
            }
            _ => return Err((None, Error::new(Kind::Network, "unexpected reply from the server to a batch"))),
        };
        // The first statement that failed (the BEGIN or SAVEPOINT is step 0).
        for (k, e) in result.step_errors.iter().enumerate() {
            if let Some(e) = e {
                let index = if k == 0 || k > n { None } else { Some(k - 1) };
                return Err((index, self.server_error(e.clone())));
            }
        }
        if result.step_results.get(n + 1).map_or(true, |r| r.is_none()) {
            return Err((None, Error::new(Kind::Sql, "the batch was not committed")));
        }
        Ok(result.step_results.into_iter().skip(1).take(n).map(|r| r.unwrap_or_default()).collect())
    }

    /// Sends `requests` in one HTTP request on `stream` (a new stream when
    /// none is open), and keeps the baton and URL of the reply. Keeping a
    /// stream open between requests saves the server opening a connection
    /// each time (about 1 ms with sqld), and is how a transaction spans
    /// requests. A stream the server no longer knows gives an error for
    /// which [stream_gone] holds.
    pub async fn pipeline_on(
        &self,
        stream: &mut Stream,
        requests: &[proto::StreamRequest],
    ) -> Result<Vec<proto::StreamResult>, Error> {
        let url = match (&stream.baton, &stream.base_url) {
            (Some(_), Some(base)) => format!("{}/v3/pipeline", base.trim_end_matches('/')),
            _ => self.pipeline_url.clone(),
        };
        let resp = match self.pipeline(&url, stream.baton.as_deref(), requests).await {
            Ok(r) => r,
            Err((e, head)) => {
                // a reply refused as too large still said where the stream
                // goes on: a transaction open on it is not lost
                if let Some((baton, base_url)) = head {
                    stream.baton = baton;
                    stream.base_url = base_url;
                }
                return Err(e);
            }
        };
        stream.baton = resp.baton;
        if stream.baton.is_none() {
            stream.base_url = None;
        } else if resp.base_url.is_some() {
            stream.base_url = resp.base_url;
        }
        if resp.results.len() != requests.len() {
            return Err(Error::new(Kind::Network, "unexpected reply from the server: results missing"));
        }
        Ok(resp.results)
    }

    /// Asks the server something trivial on a stream of its own (one
    /// request): whether it answers, and accepts the token.
    pub async fn probe(&self) -> Result<(), Error> {
        let requests = [execute_req(plain_step("SELECT 1")), proto::StreamRequest::Close(proto::CloseStreamReq {})];
        let resp = self.pipeline(&self.pipeline_url, None, &requests).await.map_err(|(e, _)| e)?;
        match resp.results.into_iter().next() {
            Some(proto::StreamResult::Error { error }) => Err(self.server_error(error)),
            _ => Ok(()),
        }
    }

    /// The index of the first of `sqls` the server cannot parse (one
    /// request, on a stream of its own).
    pub async fn first_unparsable(&self, sqls: &[&str]) -> Option<usize> {
        let requests: Vec<_> = sqls
            .iter()
            .map(|sql| {
                proto::StreamRequest::Describe(proto::DescribeStreamReq {
                    sql: Some(sql.to_string()),
                    sql_id: None,
                    replication_index: None,
                })
            })
            .chain(std::iter::once(proto::StreamRequest::Close(proto::CloseStreamReq {})))
            .collect();
        let resp = self.pipeline(&self.pipeline_url, None, &requests).await.ok()?;
        resp.results.iter().take(sqls.len()).position(|r| {
            matches!(r, proto::StreamResult::Error { error }
                if error.code == "SQL_PARSE_ERROR" || error.code == "SQL_INPUT_ERROR")
        })
    }

    pub fn server_error(&self, e: proto::Error) -> Error {
        let code = if e.code == "SQL_PARSE_ERROR" || e.code == "SQL_INPUT_ERROR" {
            Some(1)
        } else {
            crate::error::sqlite_code_by_name(&e.code).map(|c| crate::error::refine_code(c, &e.message))
        };
        if e.code == "RESPONSE_TOO_LARGE" {
            return Error::new(
                Kind::Decode,
                format!(
                    "{TOO_LARGE} the server allows (sqld's --max-response-size, 10 MB by default): ask for \
                     fewer rows (LIMIT), or read them with Conn.query or Stmt.query, which stream a \
                     SELECT's rows (the server said: {})",
                    self.scrub(e.message)
                ),
            );
        }
        let kind = match code {
            _ if e.code == INFINITE_REAL => Kind::Decode,
            // arguments that do not match the statement's parameters
            _ if e.code.starts_with("ARGS_") => Kind::Misuse,
            Some(c) => crate::error::kind_of_sqlite_code(c),
            None if e.code.contains("AUTH") => Kind::Auth,
            None => Kind::Sql,
        };
        Error { kind, code, message: self.scrub(crate::error::plain_message(e.message)), sql: None }
    }

    /// POSTs `body` (JSON) to `url` and answers once the reply's status
    /// and headers arrived; a reply that is not a success is an error here
    /// (its body read, capped).
    async fn post(&self, url: &str, json: Vec<u8>) -> Result<hyper::Response<hyper::Body>, Error> {
        let mut req = hyper::Request::post(url).header("content-type", "application/json");
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        let req = req
            .body(hyper::Body::from(json))
            .map_err(|e| Error::new(Kind::Config, self.scrub(format!("building the request: {e}"))))?;
        self.stats.request();
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| Error::new(Kind::Network, self.scrub(format!("HTTP request failed: {e}"))))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = self.read_body(resp).await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let kind = match status.as_u16() {
            401 | 403 => Kind::Auth,
            408 | 429 | 502 | 503 | 504 => Kind::Network,
            _ => Kind::Sql,
        };
        Err(Error::new(kind, self.scrub(format!("status={status}, body={text}"))))
    }

    fn no_answer(&self, what: &str) -> Error {
        Error::new(Kind::Timeout, format!("{what}: no answer from the server within {:?}", self.timeout))
    }

    /// One pipeline request. A reply refused as too large comes with what
    /// its first bytes said of the stream, when they said it.
    async fn pipeline(
        &self,
        url: &str,
        baton: Option<&str>,
        requests: &[proto::StreamRequest],
    ) -> Result<proto::PipelineRespBody, (Error, Option<Head>)> {
        let encode = |e: serde_json::Error| (Error::new(Kind::Internal, format!("encoding a request: {e}")), None);
        let mut json = b"{\"baton\":".to_vec();
        serde_json::to_writer(&mut json, &baton).map_err(encode)?;
        json.extend_from_slice(b",\"requests\":");
        serde_json::to_writer(&mut json, requests).map_err(encode)?;
        json.push(b'}');
        let work = async {
            let resp = self.post(url, json).await.map_err(|e| (e, None))?;
            let mut bytes = Vec::new();
            if let Err(e) = self.read_into(resp, &mut bytes).await {
                return Err((e, head_of(&bytes)));
            }
            serde_json::from_slice::<proto::PipelineRespBody>(&bytes)
                .or_else(|e| with_infinities(&bytes).ok_or(e))
                .map_err(|e| (Error::new(Kind::Network, format!("unreadable reply from the server: {e}")), None))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err((self.no_answer("batch"), None)),
        }
    }

    /// Runs one statement on `stream` (a new stream when none is open) as a
    /// Hrana cursor: the server streams the result, one JSON line per row,
    /// as it is read ([Client::read_entries]), so that neither side holds the
    /// whole of it. Answers once the reply's first line (the stream's next
    /// baton) arrived; the stream is the cursor's until its last line is
    /// read. Errors as [Client::pipeline_on]'s.
    pub async fn cursor_on(&self, stream: &mut Stream, step: Step) -> Result<Cursor, Error> {
        let url = match (&stream.baton, &stream.base_url) {
            (Some(_), Some(base)) => format!("{}/v3/cursor", base.trim_end_matches('/')),
            _ => self.cursor_url.clone(),
        };
        let body = proto::CursorReqBody {
            baton: stream.baton.clone(),
            batch: proto::Batch {
                steps: vec![proto::BatchStep { condition: None, stmt: step.into_stmt() }],
                replication_index: None,
            },
        };
        let json = serde_json::to_vec(&body)
            .map_err(|e| Error::new(Kind::Internal, format!("encoding a request: {e}")))?;
        let resp = match tokio::time::timeout(self.timeout, self.post(&url, json)).await {
            Ok(r) => r?,
            Err(_) => return Err(self.no_answer("query")),
        };
        let mut cursor = Cursor {
            body: resp.into_body(),
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            ended: false,
            queue: VecDeque::new(),
            broken: false,
        };
        let first = loop {
            if let Some((a, b)) = cursor.line() {
                break cursor.buf[a..b].to_vec();
            }
            if cursor.ended {
                return Err(Error::new(Kind::Network, "the server ended a streamed result before it began"));
            }
            self.more(&mut cursor).await?;
        };
        let head: proto::CursorRespBody = serde_json::from_slice(&first)
            .map_err(|e| Error::new(Kind::Network, format!("unreadable reply from the server: {e}")))?;
        stream.baton = head.baton;
        if stream.baton.is_none() {
            stream.base_url = None;
        } else if head.base_url.is_some() {
            stream.base_url = head.base_url;
        }
        Ok(cursor)
    }

    /// Waits for more of a cursor's reply (bounded by the timeout); a line
    /// longer than [Client::max_reply] is refused as it arrives.
    async fn more(&self, c: &mut Cursor) -> Result<(), Error> {
        use hyper::body::HttpBody;
        if c.buf.len() - c.start > self.max_reply {
            return Err(Error::new(
                Kind::Decode,
                format!(
                    "a row of the server's result is larger than max_reply_size ({} bytes): open the \
                     database with a larger max_reply_size, or select less of it",
                    self.max_reply
                ),
            ));
        }
        match tokio::time::timeout(self.timeout, c.body.data()).await {
            Err(_) => Err(self.no_answer("reading a streamed result")),
            Ok(chunk) => self.took(c, chunk),
        }
    }

    fn took(&self, c: &mut Cursor, chunk: Option<Result<bytes::Bytes, hyper::Error>>) -> Result<(), Error> {
        match chunk {
            None => c.ended = true,
            Some(Err(e)) => return Err(Error::new(Kind::Network, self.scrub(format!("reading the reply: {e}")))),
            Some(Ok(bytes)) => c.buf.extend_from_slice(&bytes),
        }
        Ok(())
    }

    /// Reads entries of a cursor's reply into its queue ([Cursor::next]):
    /// waits until there is one (each wait bounded by the timeout, so a
    /// result may take longer in all as long as it keeps coming), then
    /// takes what has already arrived, up to `want` entries, without
    /// waiting: one wake-up per network read rather than per row. An error
    /// is queued after the entries before it, and ends the reading.
    pub async fn read_entries(&self, c: &mut Cursor, want: usize) {
        use futures_util::FutureExt;
        use hyper::body::HttpBody;
        let mut got = 0;
        while !c.broken {
            while got < want.max(1) {
                let Some((a, b)) = c.line() else { break };
                let entry = entry_of(&c.buf[a..b]);
                c.broken = entry.is_err();
                c.queue.push_back(entry);
                got += 1;
                if c.broken {
                    return;
                }
            }
            if got >= want.max(1) || (c.ended && c.start == c.buf.len()) {
                return;
            }
            let r = if got == 0 {
                self.more(c).await
            } else if c.buf.len() - c.start > self.max_reply {
                return;
            } else {
                match c.body.data().now_or_never() {
                    None => return,
                    Some(chunk) => self.took(c, chunk),
                }
            };
            if let Err(e) = r {
                c.broken = true;
                c.queue.push_back(Err(e));
            }
        }
    }
}

/// A line of a cursor's reply as an entry, and its size. A row holding a
/// REAL that JSON cannot carry is an [INFINITE_REAL] error entry naming
/// the column's position (the reader knows its name).
fn entry_of(line: &[u8]) -> Result<(proto::CursorEntry, usize), Error> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok((proto::CursorEntry::None, 0));
    }
    let entry = match serde_json::from_slice::<proto::CursorEntry>(line) {
        Ok(e) => e,
        Err(e) => {
            let v: serde_json::Value = serde_json::from_slice(line)
                .map_err(|_| Error::new(Kind::Network, format!("unreadable reply from the server: {e}")))?;
            let column = v.get("row").and_then(serde_json::Value::as_array).and_then(|vals| {
                vals.iter().position(|x| {
                    x.get("type").and_then(serde_json::Value::as_str) == Some("float")
                        && x.get("value").is_some_and(serde_json::Value::is_null)
                })
            });
            match column {
                Some(i) => proto::CursorEntry::Error {
                    error: proto::Error { message: i.to_string(), code: INFINITE_REAL.to_string() },
                },
                None => return Err(Error::new(Kind::Network, format!("unreadable reply from the server: {e}"))),
            }
        }
    };
    Ok((entry, line.len()))
}

/// A statement's result as the server streams it ([Client::cursor_on]):
/// the reply's body, the bytes read from it not yet taken as lines, and
/// the entries read and not yet taken.
pub struct Cursor {
    body: hyper::Body,
    buf: Vec<u8>,
    /// Where the next line starts, and how far a newline was looked for.
    start: usize,
    scanned: usize,
    ended: bool,
    queue: VecDeque<Result<(proto::CursorEntry, usize), Error>>,
    /// An error was queued: nothing more is read.
    broken: bool,
}

impl Cursor {
    /// The next entry read ([Client::read_entries]), or the error that
    /// ended the reading.
    pub fn next(&mut self) -> Option<Result<(proto::CursorEntry, usize), Error>> {
        self.queue.pop_front()
    }

    /// Whether the reply was read to its end and every entry taken.
    pub fn finished(&self) -> bool {
        self.queue.is_empty() && (self.broken || (self.ended && self.start == self.buf.len()))
    }

    /// The byte range of the next whole line (without its newline), taken;
    /// at the end of the reply, what is left.
    fn line(&mut self) -> Option<(usize, usize)> {
        if self.start > (1 << 16) && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        let from = self.scanned.max(self.start);
        match memchr(b'\n', &self.buf[from..]) {
            Some(i) => {
                let line = (self.start, from + i);
                self.start = from + i + 1;
                self.scanned = self.start;
                Some(line)
            }
            None => {
                self.scanned = self.buf.len();
                if self.ended && self.start < self.buf.len() {
                    let line = (self.start, self.buf.len());
                    self.start = self.buf.len();
                    return Some(line);
                }
                None
            }
        }
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|x| *x == b)
}

/// The message of a result that holds an infinite REAL in `column`.
pub fn infinite_message(column: &str) -> String {
    format!(
        "column {column:?} holds an infinite REAL, which the remote protocol (JSON) cannot carry \
         (the server sends it as null, without its sign); select it as text (CAST(x AS TEXT)), \
         or read it on a replica outside a transaction"
    )
}

/// A stream's baton and base URL, as a pipeline reply gives them.
type Head = (Option<String>, Option<String>);

/// The baton and base URL at the start of a pipeline reply
/// (`{"baton":...,"base_url":...,`), from its first bytes alone: sqld
/// writes them first.
fn head_of(prefix: &[u8]) -> Option<Head> {
    let value = |bytes: &[u8]| -> Option<(Option<String>, usize)> {
        let mut it = serde_json::Deserializer::from_slice(bytes).into_iter::<Option<String>>();
        let v = it.next()?.ok()?;
        Some((v, it.byte_offset()))
    };
    let rest = prefix.strip_prefix(b"{\"baton\":")?;
    let (baton, used) = value(rest)?;
    let rest = rest[used..].strip_prefix(b",\"base_url\":")?;
    let (base_url, _) = value(rest)?;
    Some((baton, base_url))
}

/// Whether an error is a reply refused for its size, by this client
/// (`max_reply_size`) or by the server (sqld's `--max-response-size`).
pub fn is_too_large(e: &Error) -> bool {
    e.kind == Kind::Decode && e.message.starts_with(TOO_LARGE)
}

const TOO_LARGE: &str = "the server's reply is larger than";

/// The code of the error a result gets when it holds an infinite REAL.
pub const INFINITE_REAL: &str = "TURSO_INFINITE_REAL";

/// A reply that does not parse because a result holds a REAL that JSON
/// cannot carry (serde writes an infinity as `null`, without its sign):
/// the reply, with each such result turned into an error that says so.
/// The baton and the other results stay, so the stream goes on. Only
/// tried when a reply cannot be read.
fn with_infinities(bytes: &[u8]) -> Option<proto::PipelineRespBody> {
    let mut body: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let results = match body.get_mut("results")?.take() {
        serde_json::Value::Array(a) => a,
        _ => return None,
    };
    let mut fixed = Vec::with_capacity(results.len());
    for r in results {
        fixed.push(match infinite_in(&r) {
            None => serde_json::from_value(r).ok()?,
            Some(column) => proto::StreamResult::Error {
                error: proto::Error {
                    message: infinite_message(&column),
                    code: INFINITE_REAL.to_string(),
                },
            },
        });
    }
    let text = |k: &str| body.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
    Some(proto::PipelineRespBody { baton: text("baton"), base_url: text("base_url"), results: fixed })
}

/// The column of the first `{"type":"float","value":null}` in a result.
fn infinite_in(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value as J;
    match v {
        J::Object(o) => {
            if let (Some(J::Array(cols)), Some(J::Array(rows))) = (o.get("cols"), o.get("rows")) {
                for row in rows {
                    let J::Array(vals) = row else { continue };
                    for (c, x) in vals.iter().enumerate() {
                        if x.get("type").and_then(J::as_str) == Some("float") && x.get("value").is_some_and(J::is_null) {
                            let name = cols.get(c).and_then(|c| c.get("name")).and_then(J::as_str);
                            return Some(name.map_or_else(|| format!("{}", c + 1), str::to_string));
                        }
                    }
                }
            }
            o.values().find_map(infinite_in)
        }
        J::Array(a) => a.iter().find_map(infinite_in),
        _ => None,
    }
}

/// The HTTP URL of a database URL, and the token the URL carries:
/// - `libsql://host` is HTTPS, or HTTP with `?tls=0` (which needs a port:
///   there is no default port for plain HTTP to a Turso host);
/// - `https://`, `http://` are kept; `wss://`, `ws://` mean the same host
///   over HTTPS and HTTP (this library speaks Hrana over HTTP);
/// - query parameters: `tls=0|1` (libsql:// only) and `authToken`; any
///   other is a `Config` error that names it.
/// Errors never quote the URL's query (it may hold the token).
pub fn http_url(url: &str) -> Result<(String, Option<String>), Error> {
    let config = |m: String| Error::new(Kind::Config, m);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        config("a remote database URL starts with libsql://, https://, http://, wss:// or ws://".into())
    })?;
    let scheme = scheme.to_ascii_lowercase();
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let base = base.split('#').next().unwrap_or("");
    if base.is_empty() || base.starts_with('/') {
        return Err(config(format!("the {scheme}:// URL has no host")));
    }
    let mut tls: Option<bool> = None;
    let mut token = None;
    for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "tls" => {
                tls = Some(match v {
                    "1" => true,
                    "0" => false,
                    _ => return Err(config(format!("unsupported value {v:?} for the URL parameter tls (0 or 1)"))),
                })
            }
            "authToken" => token = Some(v.to_string()),
            _ => {
                return Err(config(format!(
                    "unknown URL parameter {k:?} (supported: tls, authToken)"
                )))
            }
        }
    }
    let host_port = base.split('/').next().unwrap_or("");
    let has_port = host_port.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let http = match scheme.as_str() {
        "libsql" => match tls {
            Some(false) if !has_port => {
                return Err(config("a libsql:// URL with tls=0 needs a port (for example libsql://localhost:8080?tls=0)".into()))
            }
            Some(false) => "http",
            _ => "https",
        },
        "https" | "wss" | "http" | "ws" if tls.is_some() => {
            return Err(config(format!("the URL parameter tls is for libsql:// URLs; {scheme}:// already says it")))
        }
        "https" | "wss" => "https",
        "http" | "ws" => "http",
        other => {
            return Err(config(format!(
                "unsupported URL scheme {other:?}: use libsql://, https://, http://, wss:// or ws:// (or a file path for a local database)"
            )))
        }
    };
    Ok((format!("{http}://{}", base.trim_end_matches('/')), token))
}

// The boundary's values and results in the protocol's terms.

const NO_INFINITY: &str = "infinity cannot be sent to a remote database or replica (its protocol, JSON, has no infinity)";

fn to_value(p: Param, what: &dyn Fn() -> String) -> Result<proto::Value, Error> {
    Ok(match p {
        Param::Null => proto::Value::Null,
        Param::Integer(i) => proto::Value::Integer { value: i },
        Param::Real(f) => {
            if f.is_nan() {
                return Err(Error::new(Kind::Misuse, format!("{}: NaN cannot be stored", what())));
            }
            if f.is_infinite() {
                return Err(Error::new(Kind::Misuse, format!("{}: {NO_INFINITY}", what())));
            }
            proto::Value::Float { value: f }
        }
        Param::Text(t) => proto::Value::Text {
            value: std::str::from_utf8(t)
                .map_err(|_| Error::new(Kind::Misuse, format!("{}: Text is not valid UTF-8 (use Blob for binary data)", what())))?
                .into(),
        },
        Param::Blob(b) => proto::Value::Blob { value: bytes::Bytes::copy_from_slice(b) },
    })
}

/// A statement for the server, with its parameters (wire bytes) as the
/// protocol's values. Named ones go under their names in the SQL, and
/// `?NNN` given by name become named (see [crate::sql]).
pub fn step(sql: &str, ps: &[u8], want_rows: bool) -> Result<Step, Error> {
    let mut st = Step { sql: String::new(), args: Vec::new(), named: Vec::new(), want_rows };
    if ps.is_empty() {
        st.sql = sql.to_string();
        return Ok(st);
    }
    let mut r = Reader::new(ps);
    let kind = r.u8()?;
    let n = r.u32()? as usize;
    if kind == wire::PARAMS_NAMED {
        let mut named = Vec::with_capacity(n);
        for _ in 0..n {
            let name = String::from_utf8_lossy(r.bytes()?).into_owned();
            let value = to_value(r.value()?, &|| format!("parameter {name:?}"))?;
            named.push((name, value));
        }
        let (sql, named) = crate::sql::bind_names(sql, named)?;
        st.sql = sql.into_owned();
        st.named = named;
    } else {
        st.sql = sql.to_string();
        st.args.reserve(n);
        for i in 1..=n {
            st.args.push(to_value(r.value()?, &|| format!("parameter {i}"))?);
        }
    }
    Ok(st)
}

/// Refuses an infinite `Real` parameter, as [step] does, without
/// converting the others (the replica read path binds them itself).
pub fn check_finite(buf: &[u8]) -> Result<(), Error> {
    if buf.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(buf);
    let kind = r.u8()?;
    for i in 1..=r.u32()? {
        if kind == wire::PARAMS_NAMED {
            r.bytes()?;
        }
        if let Param::Real(f) = r.value()? {
            if f.is_infinite() {
                return Err(Error::new(Kind::Misuse, format!("parameter {i}: {NO_INFINITY}")));
            }
        }
    }
    Ok(())
}

pub fn encode_value(v: &libsql::Value, out: &mut Out) {
    match v {
        libsql::Value::Null => out.u8(wire::TAG_NULL),
        libsql::Value::Integer(i) => {
            out.u8(wire::TAG_INTEGER);
            out.i64(*i)
        }
        libsql::Value::Real(f) => {
            out.u8(wire::TAG_REAL);
            out.i64(f.to_bits() as i64)
        }
        libsql::Value::Text(s) => {
            out.u8(wire::TAG_TEXT);
            out.bytes(s.as_bytes())
        }
        libsql::Value::Blob(b) => {
            out.u8(wire::TAG_BLOB);
            out.bytes(b)
        }
    }
}

/// A remote result: fetched whole, then handed out in chunks.
pub struct Fetched {
    pub names: Vec<String>,
    pub decltypes: Vec<Option<String>>,
    pub rows: Vec<Vec<libsql::Value>>,
}

pub fn from_hrana(v: libsql_hrana::proto::Value) -> libsql::Value {
    use libsql_hrana::proto::Value as V;
    match v {
        V::None | V::Null => libsql::Value::Null,
        V::Integer { value } => libsql::Value::Integer(value),
        V::Float { value } => libsql::Value::Real(value),
        V::Text { value } => libsql::Value::Text(value.to_string()),
        V::Blob { value } => libsql::Value::Blob(value.to_vec()),
    }
}

/// Appends one statement's whole result (layout: `wire`).
pub fn encode_result(out: &mut Out, f: &Fetched, changes: i64, rowid: Option<i64>) {
    out.u32(f.names.len() as u32);
    for (n, d) in f.names.iter().zip(&f.decltypes) {
        out.bytes(n.as_bytes());
        out.bytes(d.as_deref().unwrap_or("").as_bytes());
    }
    out.u32(f.rows.len() as u32);
    for row in &f.rows {
        for v in row {
            encode_value(v, out);
        }
    }
    out.i64(changes);
    out.u8(rowid.is_some() as u8);
    out.i64(rowid.unwrap_or(0));
}

pub fn fetched_of_hrana(r: libsql_hrana::proto::StmtResult) -> (Fetched, i64, Option<i64>) {
    let f = Fetched {
        names: r.cols.iter().map(|c| c.name.clone().unwrap_or_default()).collect(),
        decltypes: r.cols.into_iter().map(|c| c.decltype).collect(),
        rows: r.rows.into_iter().map(|row| row.values.into_iter().map(from_hrana).collect()).collect(),
    };
    (f, r.affected_row_count as i64, r.last_insert_rowid)
}

pub fn stmt_result(r: proto::StreamResult) -> Result<proto::StmtResult, proto::Error> {
    match r {
        proto::StreamResult::Ok { response: proto::StreamResponse::Execute(r) } => Ok(r.result),
        proto::StreamResult::Error { error } => Err(error),
        _ => Err(proto::Error { message: "unexpected reply from the server to a statement".into(), code: String::new() }),
    }
}

pub fn execute_req(s: Step) -> proto::StreamRequest {
    proto::StreamRequest::Execute(proto::ExecuteStreamReq { stmt: s.into_stmt() })
}

/// A statement without parameters, its rows wanted.
pub fn plain_step(sql: &str) -> Step {
    Step { sql: sql.to_string(), args: Vec::new(), named: Vec::new(), want_rows: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_of_a_cut_reply() {
        let h = head_of(br#"{"baton":"a\"b","base_url":null,"results":[{"type":"ok","resp"#);
        assert_eq!(h, Some((Some("a\"b".to_string()), None)));
        let h = head_of(br#"{"baton":null,"base_url":"http://x","results":["#);
        assert_eq!(h, Some((None, Some("http://x".to_string()))));
        assert_eq!(head_of(br#"{"baton":"abc"#), None);
        assert_eq!(head_of(br#"{"results":[],"baton":"x","base_url":null}"#), None);
    }
}
