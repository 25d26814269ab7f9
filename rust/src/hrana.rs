//! A Hrana (HTTP) pipeline client for what the libsql crate does not offer
//! over HTTP: a batch of statements *with parameters* in one request.
//! `execute_many` and `Conn.batch_list` on a remote database or replica
//! send their statements this way: one round trip, whatever their number.
//!
//! The batch runs on a fresh server stream: BEGIN, the statements (each
//! only if the previous one succeeded), COMMIT, and a ROLLBACK if the
//! commit did not happen. So it is all or nothing, and it cannot join a
//! transaction open on a libsql connection (callers check for that).

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

/// How a batch begins.
#[derive(Clone, Copy)]
pub enum Begin {
    Deferred,
    Immediate,
    ReadOnly,
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

    /// Runs `steps` all or nothing in one request. On success, each
    /// statement's result; on failure, the failing statement's index and
    /// its error.
    pub async fn batch(&self, begin: Begin, steps: Vec<Step>) -> Result<Vec<proto::StmtResult>, (Option<usize>, Error)> {
        let n = steps.len();
        let begin_sql = match begin {
            Begin::Deferred => "BEGIN DEFERRED",
            Begin::Immediate => "BEGIN IMMEDIATE",
            Begin::ReadOnly => "BEGIN TRANSACTION READONLY",
        };
        let mut batch_steps = Vec::with_capacity(n + 3);
        batch_steps.push(proto::BatchStep { condition: None, stmt: proto::Stmt::new(begin_sql, false) });
        for (i, s) in steps.into_iter().enumerate() {
            let mut stmt = proto::Stmt::new(s.sql, s.want_rows);
            stmt.args = s.args;
            stmt.named_args =
                s.named.into_iter().map(|(name, value)| proto::NamedArg { name, value }).collect();
            batch_steps.push(proto::BatchStep { condition: Some(proto::BatchCond::Ok { step: i as u32 }), stmt });
        }
        let commit = (n + 1) as u32;
        batch_steps.push(proto::BatchStep {
            condition: Some(proto::BatchCond::Ok { step: n as u32 }),
            stmt: proto::Stmt::new("COMMIT", false),
        });
        batch_steps.push(proto::BatchStep {
            condition: Some(proto::BatchCond::Not { cond: Box::new(proto::BatchCond::Ok { step: commit }) }),
            stmt: proto::Stmt::new("ROLLBACK", false),
        });
        let body = proto::PipelineReqBody {
            baton: None,
            requests: vec![
                proto::StreamRequest::Batch(proto::BatchStreamReq {
                    batch: proto::Batch { steps: batch_steps, replication_index: None },
                }),
                proto::StreamRequest::Close(proto::CloseStreamReq {}),
            ],
        };
        let sqls: Vec<String> = match &body.requests[0] {
            proto::StreamRequest::Batch(b) => {
                b.batch.steps[1..=n].iter().map(|s| s.stmt.sql.clone().unwrap_or_default()).collect()
            }
            _ => Vec::new(),
        };
        let resp = self.pipeline(&body).await.map_err(|e| (None, e))?;
        let result = match resp.results.into_iter().next() {
            Some(proto::StreamResult::Ok { response: proto::StreamResponse::Batch(b) }) => b.result,
            Some(proto::StreamResult::Error { error }) => {
                // sqld parses the whole batch first: a syntax error fails the
                // request, without the statement's index. Describing each
                // statement (one more request, only on this path) finds it.
                let index = if error.code == "SQL_PARSE_ERROR" { self.first_unparsable(&sqls).await } else { None };
                return Err((index, self.server_error(error)));
            }
            _ => return Err((None, Error::new(Kind::Network, "unexpected reply from the server to a batch"))),
        };
        // The first statement that failed (BEGIN is step 0).
        for (k, e) in result.step_errors.iter().enumerate() {
            if let Some(e) = e {
                let index = if k == 0 || k > n { None } else { Some(k - 1) };
                return Err((index, self.server_error(e.clone())));
            }
        }
        if result.step_results.get(commit as usize).map_or(true, |r| r.is_none()) {
            return Err((None, Error::new(Kind::Sql, "the batch was not committed")));
        }
        Ok(result.step_results.into_iter().skip(1).take(n).map(|r| r.unwrap_or_default()).collect())
    }

    /// Runs one statement in one request, on the stream `baton` names
    /// (updated from the reply). Keeping a stream open between requests
    /// saves the server opening a connection each time (about 1 ms with
    /// sqld). A stream the server has dropped (it expires idle ones) is
    /// replaced once, transparently: the statement did not run.
    pub async fn execute(&self, baton: &mut Option<String>, s: Step) -> Result<proto::StmtResult, Error> {
        let mut stmt = proto::Stmt::new(s.sql, s.want_rows);
        stmt.args = s.args;
        stmt.named_args = s.named.into_iter().map(|(name, value)| proto::NamedArg { name, value }).collect();
        let body = |baton: Option<String>, stmt: proto::Stmt| proto::PipelineReqBody {
            baton,
            requests: vec![proto::StreamRequest::Execute(proto::ExecuteStreamReq { stmt })],
        };
        let resp = match self.pipeline(&body(baton.take(), stmt.clone())).await {
            Err(e) if e.kind == Kind::Sql && e.message.starts_with("status=") => {
                // an unknown or expired baton: a fresh stream
                self.pipeline(&body(None, stmt)).await?
            }
            r => r?,
        };
        *baton = resp.baton;
        match resp.results.into_iter().next() {
            Some(proto::StreamResult::Ok { response: proto::StreamResponse::Execute(r) }) => Ok(r.result),
            Some(proto::StreamResult::Error { error }) => Err(self.server_error(error)),
            _ => Err(Error::new(Kind::Network, "unexpected reply from the server to a statement")),
        }
    }

    /// Runs a script (statements separated by `;`) in one request: in
    /// order, stopping at the first error. Replies whether the stream was
    /// back in autocommit mode at the end (it is closed either way, which
    /// rolls back a transaction left open).
    pub async fn sequence(&self, sql: &str) -> Result<bool, Error> {
        let body = proto::PipelineReqBody {
            baton: None,
            requests: vec![
                proto::StreamRequest::Sequence(proto::SequenceStreamReq {
                    sql: Some(sql.to_string()),
                    sql_id: None,
                    replication_index: None,
                }),
                proto::StreamRequest::GetAutocommit(proto::GetAutocommitStreamReq {}),
                proto::StreamRequest::Close(proto::CloseStreamReq {}),
            ],
        };
        let resp = self.pipeline(&body).await?;
        let mut results = resp.results.into_iter();
        match results.next() {
            Some(proto::StreamResult::Ok { .. }) => {}
            Some(proto::StreamResult::Error { error }) => return Err(self.server_error(error)),
            _ => return Err(Error::new(Kind::Network, "unexpected reply from the server to a script")),
        }
        Ok(match results.next() {
            Some(proto::StreamResult::Ok { response: proto::StreamResponse::GetAutocommit(a) }) => a.is_autocommit,
            _ => true,
        })
    }

    async fn first_unparsable(&self, sqls: &[String]) -> Option<usize> {
        let requests = sqls
            .iter()
            .map(|sql| {
                proto::StreamRequest::Describe(proto::DescribeStreamReq {
                    sql: Some(sql.clone()),
                    sql_id: None,
                    replication_index: None,
                })
            })
            .chain(std::iter::once(proto::StreamRequest::Close(proto::CloseStreamReq {})))
            .collect();
        let resp = self.pipeline(&proto::PipelineReqBody { baton: None, requests }).await.ok()?;
        resp.results.iter().take(sqls.len()).position(|r| {
            matches!(r, proto::StreamResult::Error { error }
                if error.code == "SQL_PARSE_ERROR" || error.code == "SQL_INPUT_ERROR")
        })
    }

    fn server_error(&self, e: proto::Error) -> Error {
        let code = if e.code == "SQL_PARSE_ERROR" || e.code == "SQL_INPUT_ERROR" {
            Some(1)
        } else {
            crate::remote::sqlite_code_by_name(&e.code).map(|c| crate::remote::refine_code(c, &e.message))
        };
        let kind = match code {
            Some(c) => crate::error::kind_of_sqlite_code(c),
            None if e.code.contains("AUTH") => Kind::Auth,
            None => Kind::Sql,
        };
        Error { kind, code, message: self.scrub(crate::remote::plain_message(e.message)), sql: None }
    }

    async fn pipeline(&self, body: &proto::PipelineReqBody) -> Result<proto::PipelineRespBody, Error> {
        let json = serde_json::to_vec(body).map_err(|e| Error::new(Kind::Internal, format!("encoding a batch: {e}")))?;
        let mut req = hyper::Request::post(&self.pipeline_url).header("content-type", "application/json");
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
                .map_err(|e| Error::new(Kind::Network, format!("unreadable reply from the server: {e}")))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(Kind::Timeout, format!("batch: no answer from the server within {:?}", self.timeout))),
        }
    }
}
