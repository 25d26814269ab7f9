//! A prepared statement on a synced database's local file, and the result
//! being read from it: rows stepped in chunks of bounded size, as a local
//! statement's. A result read to its end, reset or closed lets go of its
//! snapshot at once (one left open would keep an old snapshot, and after a
//! pull the connection's next write would fail).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{encode_value, error, params, Conn};
use crate::error::{Error, Kind};
use crate::executor::{runtime, Serial};
use crate::wire::{Out, Reader};

/// Upper bound on the bytes of one chunk of rows (as a local statement's).
const CHUNK_BYTES: usize = 1 << 18;

pub struct Stmt {
    pub conn: Arc<Conn>,
    sql: String,
    state: Mutex<State>,
}

struct State {
    /// `None` once closed.
    stmt: Option<turso::Statement>,
    generation: u64,
    header_sent: bool,
    rows: Option<turso::Rows>,
}

impl Stmt {
    pub fn new(conn: &Arc<Conn>, sql: &[u8]) -> Result<Arc<Stmt>, Error> {
        let text = crate::sql::text(sql)?;
        if crate::sql::split(text).len() > 1 {
            return Err(Error::new(Kind::Misuse, "more than one statement: use a batch").with_sql(sql));
        }
        let c = conn.c()?;
        let stmt = conn
            .again_if_busy(|| {
                let _running = conn.gate.read_recursive();
                runtime().block_on(c.prepare(text))
            })
            .map_err(|e| error(e).with_sql(sql))?;
        Ok(Arc::new(Stmt {
            conn: conn.clone(),
            sql: text.to_string(),
            state: Mutex::new(State { stmt: Some(stmt), generation: 0, header_sent: false, rows: None }),
        }))
    }

    fn live(&self) -> Result<parking_lot::MutexGuard<'_, State>, Error> {
        drop(self.conn.live()?);
        let s = self.state.lock();
        if s.stmt.is_none() {
            return Err(Error::closed("statement"));
        }
        Ok(s)
    }

    /// Ends the result being read (its snapshot let go); a writing
    /// statement (`INSERT ... RETURNING`) has committed then, in
    /// autocommit mode.
    fn end_rows(&self, s: &mut State) {
        if s.rows.take().is_some() {
            self.conn.open_results.fetch_sub(1, Ordering::AcqRel);
            if let Some(st) = &s.stmt {
                let _ = st.reset();
            }
            self.conn.maybe_committed(&self.sql);
        }
    }

    pub fn execute(&self, ps: Vec<u8>) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        self.end_rows(&mut s);
        let p = params(&self.sql, &ps).map_err(|e| e.with_sql(self.sql.as_bytes()))?;
        let st = s.stmt.as_mut().expect("live");
        self.conn.stats.statements(1);
        let n = self.conn.again_if_busy(|| {
            let _running = self.conn.gate.read_recursive();
            runtime().block_on(st.execute(p.clone()))
        });
        let n = n.map_err(|e| self.conn.err(e).with_sql(self.sql.as_bytes()))?;
        drop(s);
        self.conn.note_changes(&self.sql, n);
        self.conn.exec_reply()
    }

    /// Every parameter set, all or nothing (a transaction, or a savepoint
    /// inside an open one). Reply: rows changed in all, last rowid.
    pub fn execute_many(&self, sets: Vec<u8>) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        self.end_rows(&mut s);
        drop(s);
        let mut r = Reader::new(&sets);
        let n = r.u32()? as usize;
        let mut all = Vec::with_capacity(n);
        for _ in 0..n {
            all.push(r.bytes()?);
        }
        let total = self.conn.atomically("BEGIN IMMEDIATE", || {
            let mut s = self.live()?;
            let st = s.stmt.as_mut().expect("live");
            let mut total = 0u64;
            for (k, ps) in all.iter().enumerate() {
                let tag = |mut e: Error| {
                    e.message = format!("parameter set {k}: {}", e.message);
                    e.with_sql(self.sql.as_bytes())
                };
                let p = params(&self.sql, ps).map_err(tag)?;
                self.conn.stats.statements(1);
                let n = {
                    let _running = self.conn.gate.read_recursive();
                    runtime().block_on(st.execute(p))
                };
                total += n.map_err(|e| tag(self.conn.err(e)))?;
            }
            Ok(total)
        })?;
        self.conn.note_changes(&self.sql, total);
        let mut o = Out::ok();
        o.i64(total as i64);
        o.i64(self.conn.last_insert_rowid()?);
        Ok(o)
    }

    /// Starts a query: generation, a has-header byte and (if asked for, or
    /// the first time) the column header, then the first chunk.
    pub fn query(&self, ps: Vec<u8>, max_rows: usize, want_header: bool) -> Result<Out, Error> {
        let mut s = self.live()?;
        s.generation += 1;
        self.end_rows(&mut s);
        let p = params(&self.sql, &ps).map_err(|e| e.with_sql(self.sql.as_bytes()))?;
        self.conn.stats.statements(1);
        let failed = |e| self.conn.err(e).with_sql(self.sql.as_bytes());
        // a Busy before the first row: started again (see Conn::again_if_busy)
        let mut busy = self.conn.busy_retries();
        loop {
            // held from the query to its first chunk: a pull between them
            // would find the result open
            let running = self.conn.gate.read_recursive();
            let st = s.stmt.as_mut().expect("live");
            let rows = match runtime().block_on(st.query(p.clone())) {
                Ok(rows) => rows,
                Err(turso::Error::Busy(m)) => {
                    let _ = st.reset();
                    drop(running);
                    if busy.again() {
                        continue;
                    }
                    return Err(failed(turso::Error::Busy(m)));
                }
                Err(e) => return Err(failed(e)),
            };
            let cols = st.columns();
            let mut out = Out::ok();
            out.i64(s.generation as i64);
            let header = want_header || !s.header_sent;
            if header {
                out.u8(1);
                out.u32(cols.len() as u32);
                for c in &cols {
                    out.bytes(c.name().as_bytes());
                    out.bytes(c.decl_type().unwrap_or("").as_bytes());
                }
            } else {
                out.u8(0);
            }
            s.rows = Some(rows);
            self.conn.open_results.fetch_add(1, Ordering::AcqRel);
            let filled = self.fill_rows(&mut s, &mut out, max_rows, cols.len());
            drop(running);
            match filled {
                Ok(()) => {
                    s.header_sent |= header;
                    return Ok(out);
                }
                Err((turso::Error::Busy(_), 0)) if busy.again() => continue,
                Err((e, _)) => return Err(failed(e)),
            }
        }
    }

    pub fn fetch(&self, generation: u64, max_rows: usize) -> Result<Out, Error> {
        let mut s = self.live()?;
        if s.generation != generation {
            return Err(Error::new(Kind::Misuse, "this result set was invalidated: its statement was executed again"));
        }
        let ncols = s.stmt.as_ref().map_or(0, |st| st.column_count());
        let mut out = Out::ok();
        self.fill(&mut s, &mut out, max_rows, ncols)?;
        Ok(out)
    }

    /// Up to `max_rows` rows (0: the first row only, then the result
    /// ends) into `out`: u32 count, the values, u8 done.
    fn fill(&self, s: &mut State, out: &mut Out, max_rows: usize, ncols: usize) -> Result<(), Error> {
        self.fill_rows(s, out, max_rows, ncols).map_err(|(e, _)| self.conn.err(e).with_sql(self.sql.as_bytes()))
    }

    /// [Stmt::fill]; an error comes with the rows read before it (the
    /// result is ended).
    fn fill_rows(
        &self,
        s: &mut State,
        out: &mut Out,
        max_rows: usize,
        ncols: usize,
    ) -> Result<(), (turso::Error, u32)> {
        let count_at = out.buf.len();
        out.u32(0);
        let mut n = 0u32;
        let mut done = true;
        if let Some(rows) = s.rows.as_mut() {
            done = false;
            let _running = self.conn.gate.read_recursive();
            let r: Result<(), turso::Error> = runtime().block_on(async {
                while (n as usize) < max_rows.max(1) && (n == 0 || out.buf.len() - count_at < CHUNK_BYTES) {
                    match rows.next().await? {
                        Some(row) => {
                            for i in 0..ncols {
                                encode_value(&row.get_value(i)?, out);
                            }
                            n += 1;
                        }
                        None => {
                            done = true;
                            break;
                        }
                    }
                }
                Ok(())
            });
            if let Err(e) = r {
                self.end_rows(s);
                return Err((e, n));
            }
            if max_rows == 0 {
                done = true;
            }
        }
        if done {
            self.end_rows(s);
        }
        out.patch_u32(count_at, n);
        out.u8(done as u8);
        Ok(())
    }

    /// Counted in the SQL, as SQLite counts.
    pub fn parameter_count(&self) -> Result<i64, Error> {
        drop(self.live()?);
        Ok(crate::sql::parameter_count(&self.sql) as i64)
    }

    pub fn serial(&self) -> &Arc<Serial> {
        &self.conn.serial
    }

    /// Ends the result (if `generation` is still the current one), even
    /// on a closed connection, so that the count of open results is right.
    pub fn reset(&self, generation: Option<u64>) -> Result<(), Error> {
        {
            let mut s = self.state.lock();
            if generation.is_none_or(|g| g == s.generation) {
                self.end_rows(&mut s);
                s.generation += 1;
            }
        }
        self.live().map(drop)
    }

    pub fn close(&self) {
        let mut s = self.state.lock();
        self.end_rows(&mut s);
        s.stmt = None;
    }
}

/// A statement freed with its result still open gives the count back.
impl Drop for Stmt {
    fn drop(&mut self) {
        if self.state.get_mut().rows.take().is_some() {
            self.conn.open_results.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
