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
            auth: if token.is_empty() { None } else { Some(format!("Bearer {token}")) },
            token: token.to_string(),
            timeout,
            max_reply,
            stats,
        }))
    }

    fn too_large(&self) -> Error {
        Error::new(
            Kind::Decode,
            format!(
                "the server's reply is larger than max_reply_size ({} bytes): ask for fewer rows (LIMIT, or \
                 stream them with Conn.query on a local replica), or open the database with a larger \
                 max_reply_size",
                self.max_reply
            ),
        )
    }

    /// The body of a reply, refused as soon as it passes [Client::max_reply]
    /// (at once when its declared length does).
    async fn read_body(&self, resp: hyper::Response<hyper::Body>) -> Result<Vec<u8>, Error> {
        use hyper::body::HttpBody;
        let declared = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.map_or(false, |n| n > self.max_reply as u64) {
            return Err(self.too_large());
        }
        let mut body = resp.into_body();
        let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(1 << 20) as usize);
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| Error::new(Kind::Network, self.scrub(format!("reading the reply: {e}"))))?;
            if buf.len() + chunk.len() > self.max_reply {
                return Err(self.too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
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
        let resp = self.pipeline(&url, stream.baton.as_deref(), requests).await?;
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
        let resp = self.pipeline(&self.pipeline_url, None, &requests).await?;
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

    async fn pipeline(
        &self,
        url: &str,
        baton: Option<&str>,
        requests: &[proto::StreamRequest],
    ) -> Result<proto::PipelineRespBody, Error> {
        let encode = |e: serde_json::Error| Error::new(Kind::Internal, format!("encoding a request: {e}"));
        let mut json = b"{\"baton\":".to_vec();
        serde_json::to_writer(&mut json, &baton).map_err(encode)?;
        json.extend_from_slice(b",\"requests\":");
        serde_json::to_writer(&mut json, requests).map_err(encode)?;
        json.push(b'}');
        let mut req = hyper::Request::post(url).header("content-type", "application/json");
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        let req = req
            .body(hyper::Body::from(json))
            .map_err(|e| Error::new(Kind::Config, self.scrub(format!("building the request: {e}"))))?;
        self.stats.request();
        let work = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| Error::new(Kind::Network, self.scrub(format!("HTTP request failed: {e}"))))?;
            let status = resp.status();
            let bytes = self.read_body(resp).await?;
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let kind = match status.as_u16() {
                    401 | 403 => Kind::Auth,
                    408 | 429 | 502 | 503 | 504 => Kind::Network,
                    _ => Kind::Sql,
                };
                return Err(Error::new(kind, self.scrub(format!("status={status}, body={text}"))));
            }
            serde_json::from_slice::<proto::PipelineRespBody>(&bytes)
                .or_else(|e| with_infinities(&bytes).ok_or(e))
                .map_err(|e| Error::new(Kind::Network, format!("unreadable reply from the server: {e}")))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(Kind::Timeout, format!("batch: no answer from the server within {:?}", self.timeout))),
        }
    }
}

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
                    message: format!(
                        "column {column:?} holds an infinite REAL, which the remote protocol (JSON) cannot carry \
                         (the server sends it as null, without its sign); select it as text (CAST(x AS TEXT)), \
                         or read it on a replica outside a transaction"
                    ),
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

fn from_hrana(v: libsql_hrana::proto::Value) -> libsql::Value {
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
