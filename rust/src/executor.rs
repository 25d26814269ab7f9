//! Work run off the calling thread, for the Lwt API.
//!
//! One tokio runtime for the process, created on first use. Each connection
//! (and each database) has a [Serial] queue: its jobs run one after the
//! other, in the order they were submitted, on tokio's blocking pool, so a
//! connection keeps the ordering a program expects and at most one pool
//! thread per busy connection is taken.
//!
//! A finished job leaves its reply in a completion list and wakes the OCaml
//! side through a socket pair that the Lwt event loop watches: one byte
//! when the list goes from empty to non-empty, however many jobs finish.
//! The OCaml side then takes all completions in one call.

use std::any::Any;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Kind};
use crate::wire::{self, Out};

/// The process's tokio runtime.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(64)
            .thread_name("turso-worker")
            .enable_all()
            .build()
            .expect("cannot start the tokio runtime")
    })
}

type Task = Box<dyn FnOnce() + Send>;

/// How long an idle queue keeps its thread, spinning, for the next job.
const LINGER: Duration = Duration::from_micros(30);

/// A queue of jobs that run one at a time, in order.
#[derive(Default)]
pub struct Serial {
    state: Mutex<(VecDeque<Task>, bool)>,
    /// Jobs submitted and not finished: none means the connection is
    /// exactly as the program's earlier calls left it (see [Serial::idle]).
    pending: std::sync::atomic::AtomicUsize,
}

impl Serial {
    pub fn new() -> Arc<Serial> {
        Arc::new(Serial::default())
    }

    /// No job of this queue is waiting or running.
    pub fn idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    /// A job's work is done: called before its completion is published,
    /// so that the OCaml side, once it sees the completion, sees the queue
    /// idle too (when nothing else was submitted).
    fn finished(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }

    fn push(self: &Arc<Serial>, task: Task) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let mut st = self.state.lock();
        st.0.push_back(task);
        if !st.1 {
            st.1 = true;
            let me = self.clone();
            runtime().spawn_blocking(move || me.drain());
        }
    }

    fn drain(&self) {
        while let Some(task) = self.next_task() {
            task();
        }
    }

    /// The next job; when there is none, waits a little for one before
    /// giving the thread back: a program that issues its requests one after
    /// the other then does not pay a thread wake-up for each.
    fn next_task(&self) -> Option<Task> {
        let deadline = Instant::now() + LINGER;
        loop {
            {
                let mut st = self.state.lock();
                if let Some(t) = st.0.pop_front() {
                    return Some(t);
                }
                if Instant::now() >= deadline {
                    st.1 = false;
                    return None;
                }
            }
            // Yield rather than spin: on a busy machine the thread that
            // would submit the next job must get the CPU.
            std::thread::yield_now();
        }
    }
}

/// A job: the queue it runs on, and the work.
pub struct Job<T> {
    pub serial: Arc<Serial>,
    pub run: Box<dyn FnOnce() -> T + Send>,
}

impl<T> Job<T> {
    pub fn new(serial: &Arc<Serial>, run: impl FnOnce() -> T + Send + 'static) -> Job<T> {
        Job { serial: serial.clone(), run: Box::new(run) }
    }
}

#[derive(Default)]
struct Completions {
    done: Vec<(u64, Vec<u8>)>,
    /// A wake-up byte is on its way and not yet consumed: set with the
    /// first completion after a take, under this lock, so that none is
    /// missed.
    signaled: bool,
    cancelled: HashSet<u64>,
    /// Handles made by finished jobs, until the OCaml side takes them.
    stash: HashMap<u64, Box<dyn Any + Send>>,
}

/// Completions are waiting (read without a lock by [ready]).
static READY: AtomicBool = AtomicBool::new(false);

/// The OCaml loop is polling [ready] (see [set_polling]).
static POLLING: AtomicBool = AtomicBool::new(false);

/// Set while the OCaml loop spins on [ready]: completions then skip the
/// wake-up byte (two system calls saved per request issued one at a time).
pub fn set_polling(on: bool) {
    POLLING.store(on, Ordering::SeqCst);
}

/// Whether completions are waiting: a cheap check for a caller that polls
/// before sleeping.
pub fn ready() -> bool {
    READY.load(Ordering::SeqCst)
}

fn completions() -> &'static Mutex<Completions> {
    static C: OnceLock<Mutex<Completions>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn notifier() -> &'static (UnixStream, UnixStream) {
    static N: OnceLock<(UnixStream, UnixStream)> = OnceLock::new();
    N.get_or_init(|| {
        let (r, w) = UnixStream::pair().expect("cannot create the notification socket pair");
        r.set_nonblocking(true).expect("nonblocking");
        w.set_nonblocking(true).expect("nonblocking");
        (r, w)
    })
}

/// The file descriptor the Lwt loop watches.
pub fn notify_fd() -> i64 {
    notifier().0.as_raw_fd() as i64
}

fn complete(id: u64, reply: Vec<u8>, handle: Option<Box<dyn Any + Send>>) {
    let wake = {
        let mut c = completions().lock();
        if c.cancelled.remove(&id) {
            return; // the handle, if any, is dropped (and so closed) here
        }
        c.done.push((id, reply));
        if let Some(h) = handle {
            c.stash.insert(id, h);
        }
        READY.store(true, Ordering::SeqCst);
        // While the OCaml loop polls [ready], it needs no wake-up byte; it
        // checks [ready] once more after it stops polling.
        !POLLING.load(Ordering::SeqCst) && !std::mem::replace(&mut c.signaled, true)
    };
    if wake {
        let _ = (&notifier().1).write(&[1]);
    }
}

fn panic_reply(p: Box<dyn Any + Send>) -> Vec<u8> {
    wire::error_reply(&crate::error::panic_error(p))
}

/// Runs a job that replies with bytes; its reply goes to completion `id`.
pub fn submit_reply(job: Job<Vec<u8>>, id: u64) {
    let Job { serial, run } = job;
    let me = serial.clone();
    serial.push(Box::new(move || {
        if completions().lock().cancelled.remove(&id) {
            return me.finished();
        }
        let reply = catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(panic_reply);
        me.finished();
        complete(id, reply, None);
    }));
}

/// Runs a job that makes a handle; an OK reply tells the OCaml side to take
/// the handle with [take_handle].
pub fn submit_handle<T: Send + 'static>(job: Job<Result<T, Error>>, id: u64) {
    let Job { serial, run } = job;
    let me = serial.clone();
    serial.push(Box::new(move || {
        if completions().lock().cancelled.remove(&id) {
            return me.finished();
        }
        let r = catch_unwind(AssertUnwindSafe(run));
        me.finished();
        match r {
            Ok(Ok(h)) => complete(id, Out::ok().buf, Some(Box::new(h))),
            Ok(Err(e)) => complete(id, wire::error_reply(&e), None),
            Err(p) => complete(id, panic_reply(p), None),
        }
    }));
}

/// Runs a job that replies with bytes and may make a handle too (a query's
/// statement and its first rows): one job, so that the operation keeps its
/// place in the connection's order. With a handle, the OCaml side takes it
/// with [take_handle] after an OK reply.
pub fn submit_reply_and_handle<T: Send + 'static>(job: Job<(Vec<u8>, Option<T>)>, id: u64) {
    let Job { serial, run } = job;
    let me = serial.clone();
    serial.push(Box::new(move || {
        if completions().lock().cancelled.remove(&id) {
            return me.finished();
        }
        let r = catch_unwind(AssertUnwindSafe(run));
        me.finished();
        match r {
            Ok((reply, h)) => complete(id, reply, h.map(|h| Box::new(h) as Box<dyn Any + Send>)),
            Err(p) => complete(id, panic_reply(p), None),
        }
    }));
}

pub fn take_handle<T: 'static>(id: u64) -> Result<T, Error> {
    let h = completions().lock().stash.remove(&id);
    match h.map(|b| b.downcast::<T>()) {
        Some(Ok(h)) => Ok(*h),
        _ => Err(Error::new(Kind::Internal, format!("no handle for request {id}"))),
    }
}

/// Forgets request `id`: its job does not run if it has not started, and
/// its result is dropped.
pub fn cancel(id: u64) {
    let mut c = completions().lock();
    let before = c.done.len();
    c.done.retain(|(i, _)| *i != id);
    c.stash.remove(&id);
    if c.done.len() == before {
        c.cancelled.insert(id);
    }
}

/// Takes every completion: u32 count, then for each an i64 id and the
/// reply bytes (u32 length, bytes). `woken`: called because the wake-up
/// byte arrived (it is consumed); otherwise the byte, if one is on its way,
/// is left for the event loop, which will call again.
pub fn take_completions(woken: bool) -> Vec<u8> {
    // First consume the wake-up bytes, then take the list and clear the
    // flag together: a completion that comes after sees the flag clear and
    // writes a byte that is still there for the next wake-up.
    if woken {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&notifier().0).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    let done = {
        let mut c = completions().lock();
        if woken {
            c.signaled = false;
        }
        READY.store(false, Ordering::SeqCst);
        std::mem::take(&mut c.done)
    };
    let mut o = Out { buf: Vec::with_capacity(8 + done.iter().map(|(_, r)| 12 + r.len()).sum::<usize>()) };
    o.u32(done.len() as u32);
    for (id, reply) in done {
        o.i64(id as i64);
        o.bytes(&reply);
        wire::give_buf(reply);
    }
    o.buf
}
