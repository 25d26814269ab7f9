//! Remote databases: sqld or Turso over HTTP, where every statement goes to
//! the server. What a connection does there is the Hrana session's
//! ([hrana::session]), with no hooks: a remote database keeps no copy, so
//! this engine is the database alone (its client, its stats, open or
//! closed). Replies use the same wire format as a local database, so the
//! OCaml side does not know the engine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::hrana::{self, session};
use crate::error::{Error, Kind};
use crate::executor::Serial;
use crate::stats::{Mode, Stats};
use crate::wire::{Out, Reader};

/// A remote database's connections and statements are the session's.
pub type Conn = session::Conn;
pub type Stmt = session::Stmt;

pub struct Db {
    /// One HTTP client (and one TLS root load) for all its connections.
    client: Arc<hrana::Client>,
    stats: Arc<Stats>,
    closed: AtomicBool,
    pub serial: Arc<Serial>,
}

impl Db {
    /// Opens nothing on the server: the first statement of a connection
    /// opens its stream. `url` (see [hrana::http_url]) may carry the token.
    /// Options (wire bytes): i64 timeout in ms, i64 largest reply in bytes.
    pub fn open(url: &str, token: &str, opts: &[u8]) -> Result<Db, Error> {
        let mut r = Reader::new(opts);
        let (timeout_ms, max_reply) = (r.i64()?, r.i64()?);
        let (url, url_token) = hrana::http_url(url)?;
        let token = if token.is_empty() { url_token.as_deref().unwrap_or("") } else { token };
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        let stats = Arc::new(Stats::new(Mode::Remote));
        Ok(Db {
            client: hrana::Client::new(&url, token, timeout, max_reply.max(1) as usize, stats.clone())?,
            stats,
            closed: AtomicBool::new(false),
            serial: Serial::new(),
        })
    }

    fn live(&self) -> Result<(), Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed("database"));
        }
        Ok(())
    }

    /// A remote database has nothing to sync: it is the primary.
    pub fn sync(&self) -> Result<Out, Error> {
        self.live()?;
        Err(Error::new(Kind::Misuse, "sync is for embedded replicas; this database is remote"))
    }

    /// See [Stats::encode] (no frame: nothing is replicated here).
    pub fn stats(&self) -> Result<Out, Error> {
        self.live()?;
        Ok(self.stats.encode(None))
    }

    pub fn connect(&self, _busy_timeout_ms: i64) -> Result<Arc<Conn>, Error> {
        self.live()?;
        Ok(Conn::new(self.client.clone(), self.stats.clone(), None))
    }

    /// Its connections stay open, as a local database's do: each holds
    /// what it needs.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}
