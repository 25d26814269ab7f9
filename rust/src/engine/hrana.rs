//! A Hrana (HTTP) pipeline client. Every statement of a remote database,
//! and of a replica other than its local reads, goes through it, on the
//! connection's own server stream (see `remote::Conn`): one request per
//! call, batches of statements *with parameters* in one request whatever
//! their number (libsql does not offer that over HTTP), declared column
//! types in every result, and transactions that span requests.

use std::sync::Arc;
use std::time::Duration;

use libsql_hrana::proto;

use crate::error::{Error, Kind};

type Https = hyper_rustls::HttpsConnector<hyper::client::HttpConnector>;

pub struct Client {
    http: hyper::Client<Https, hyper::Body>,
    pipeline_url: String,
    auth: Option<String>,
    token: String,
    timeout: Duration,
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
    pub fn new(url: &str, token: &str, timeout: Duration) -> Result<Arc<Client>, Error> {
        Ok(Arc::new(Client {
            http: hyper::Client::builder().build(connector()?),
            pipeline_url: format!("{}/v3/pipeline", url.trim_end_matches('/')),
            auth: if token.is_empty() { None } else { Some(format!("Bearer {token}")) },
            token: token.to_string(),
            timeout,
        }))
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
        let work = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| Error::new(Kind::Network, self.scrub(format!("HTTP request failed: {e}"))))?;
            let status = resp.status();
            let bytes = hyper::body::to_bytes(resp.into_body())
                .await
                .map_err(|e| Error::new(Kind::Network, self.scrub(format!("reading the reply: {e}"))))?;
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
