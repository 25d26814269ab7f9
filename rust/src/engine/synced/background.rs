//! A synced database's background work, when asked for: a push every
//! `push_every`, a pull every `pull_every`, and a push after every commit
//! (`auto_push`). One thread per database, asleep between its deadlines;
//! it holds the database weakly (dropping the last handle ends it) and
//! runs the same push and pull as the caller's, in their turn. A push
//! asked for by commits that fails (offline) is tried again, after 1 s,
//! then 2, 4 … up to 30 s, until one succeeds; the writes wait in the
//! local file meanwhile. Failures are in the stats (`last sync error`),
//! never in the way of the writes; a pull that finds result sets open or
//! a transaction under way is skipped until its next turn.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Db;

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);

pub struct Background {
    push_every: Option<Duration>,
    pull_every: Option<Duration>,
    pub auto_push: bool,
    state: Mutex<State>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    /// A commit since the last push began.
    committed: bool,
    stop: bool,
}

impl Background {
    pub fn new(push_every: Option<Duration>, pull_every: Option<Duration>, auto_push: bool) -> Arc<Background> {
        Arc::new(Background {
            push_every,
            pull_every,
            auto_push,
            state: Mutex::new(State { committed: false, stop: false }),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        })
    }

    pub fn start(self: &Arc<Self>, db: Weak<Db>) {
        let me = self.clone();
        let t = std::thread::Builder::new()
            .name("turso-synced-background".into())
            .spawn(move || me.run(db))
            .expect("spawning the synced database's background thread");
        *self.thread.lock() = Some(t);
    }

    /// A connection committed: push soon.
    pub fn committed(&self) {
        let mut s = self.state.lock();
        if !s.committed {
            s.committed = true;
            self.wake.notify_one();
        }
    }

    /// Ends the thread, after the push or pull it may be running.
    pub fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_one();
        let t = self.thread.lock().take();
        if let Some(t) = t {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }

    fn run(&self, db: Weak<Db>) {
        let after = |d: Option<Duration>| d.map(|d| Instant::now() + d);
        let mut next_push = after(self.push_every);
        let mut next_pull = after(self.pull_every);
        // after a failed push asked for by commits: when to try again
        let mut retry: Option<Instant> = None;
        let mut backoff = FIRST_RETRY;
        loop {
            let (push, pull) = {
                let mut s = self.state.lock();
                loop {
                    if s.stop {
                        return;
                    }
                    let now = Instant::now();
                    let due = |t: Option<Instant>| t.is_some_and(|t| now >= t);
                    let push = (s.committed && retry.is_none_or(|t| now >= t)) || due(next_push);
                    let pull = due(next_pull);
                    if push || pull {
                        if push {
                            s.committed = false;
                        }
                        break (push, pull);
                    }
                    let retry_at = if s.committed { retry } else { None };
                    match [next_push, next_pull, retry_at].into_iter().flatten().min() {
                        Some(t) => {
                            self.wake.wait_until(&mut s, t);
                        }
                        None => self.wake.wait(&mut s),
                    }
                }
            };
            let Some(db) = db.upgrade() else { return };
            if pull {
                // skipped (result sets open, say) or failed: in the stats;
                // the next turn tries again
                let _ = guarded(&db, "pull", || db.pull_changes());
                next_pull = after(self.pull_every);
            }
            if push {
                match guarded(&db, "push", || db.push_changes()) {
                    Ok(_) => {
                        retry = None;
                        backoff = FIRST_RETRY;
                    }
                    Err(_) => {
                        if self.auto_push {
                            self.state.lock().committed = true;
                            retry = Some(Instant::now() + backoff);
                            backoff = (backoff * 2).min(LAST_RETRY);
                        }
                    }
                }
                next_push = after(self.push_every);
            }
            drop(db);
        }
    }
}

/// Runs a background operation; a panic in the engine (it has a few on
/// its sync paths) is a failure in the stats instead of the silent end of
/// the thread.
fn guarded<T>(db: &Db, what: &str, f: impl FnOnce() -> Result<T, crate::error::Error>) -> Result<T, ()> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(drop),
        Err(_) => {
            let message = format!("background {what}: the Turso engine panicked");
            db.stats.sync_done(std::time::SystemTime::now(), Duration::ZERO, Err(&message));
            Err(())
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(bg) = &self.background {
            bg.stop();
        }
    }
}
