//! What a database has done: statements run and syncs made. One `Stats` per
//! database, shared by its connections; updated without a lock on the hot
//! path (one relaxed atomic add per statement).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::wire::Out;

/// The database's mode, as `Db.stats` reports it (numbering shared with
/// `lib/turso.ml`).
#[derive(Clone, Copy)]
#[repr(u8)]
pub enum Mode {
    File = 0,
    Memory = 1,
    Remote = 2,
    Replica = 3,
    Synced = 4,
}

#[derive(Default)]
struct Sync {
    syncs: u64,
    failed: u64,
    frames: u64,
    last_frame: Option<u64>,
    last_at_ms: Option<i64>,
    last_duration_us: Option<i64>,
    last_error: Option<String>,
}

pub struct Stats {
    mode: Mode,
    statements: AtomicU64,
    /// HTTP requests sent by this library's Hrana client (libsql's own
    /// sync requests are not seen here; syncs are counted apart).
    requests: AtomicU64,
    sync: Mutex<Sync>,
}

impl Stats {
    pub fn new(mode: Mode) -> Stats {
        Stats { mode, statements: AtomicU64::new(0), requests: AtomicU64::new(0), sync: Mutex::new(Sync::default()) }
    }

    pub fn statements(&self, n: u64) {
        self.statements.fetch_add(n, Ordering::Relaxed);
    }

    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a sync that started at `started` and took `took`: its frame
    /// and frames applied, or its (already scrubbed) error.
    pub fn sync_done(&self, started: SystemTime, took: Duration, r: Result<(Option<u64>, u64), &str>) {
        let mut s = self.sync.lock();
        s.last_at_ms = started.duration_since(UNIX_EPOCH).ok().map(|d| d.as_millis() as i64);
        s.last_duration_us = Some(took.as_micros() as i64);
        match r {
            Ok((frame, frames)) => {
                s.syncs += 1;
                s.frames += frames;
                if frame.is_some() {
                    s.last_frame = frame;
                }
                s.last_error = None;
            }
            Err(msg) => {
                s.failed += 1;
                s.last_error = Some(msg.to_string());
            }
        }
    }

    /// The reply of `Db.stats`: mode, statements, syncs, failed syncs,
    /// frames, then -1 or the value for last frame, last sync time (ms
    /// since the epoch), last sync duration (µs), HTTP requests, then a flag
    /// and the last sync error (lib/stats.ml reads these offsets). `frame_now` is the replica's current frame, if known.
    pub fn encode(&self, frame_now: Option<u64>) -> Out {
        let s = self.sync.lock();
        let mut o = Out::ok();
        o.u8(self.mode as u8);
        o.i64(self.statements.load(Ordering::Relaxed) as i64);
        o.i64(s.syncs as i64);
        o.i64(s.failed as i64);
        o.i64(s.frames as i64);
        let opt = |v: Option<i64>| v.unwrap_or(-1);
        o.i64(opt(frame_now.or(s.last_frame).map(|f| f as i64)));
        o.i64(opt(s.last_at_ms));
        o.i64(opt(s.last_duration_us));
        o.i64(self.requests.load(Ordering::Relaxed) as i64);
        match &s.last_error {
            Some(e) => {
                o.u8(1);
                o.bytes(e.as_bytes())
            }
            None => o.u8(0),
        }
        o
    }
}
