//! Owns the library's one rule about `fork()`: a child of a process that
//! has opened a database gets a `Misuse` error from every call, never a
//! crash or a hang. The tokio runtime's threads, the per-connection queues
//! and the completion socket do not exist in the child (threads do not
//! survive fork), and SQLite connections must not cross a fork; so the
//! child is told, at once, to open its databases in a new process (fork,
//! then exec) or to fork before opening any. The local engine's handles,
//! when the child's GC drops them, are left alone rather than closed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::error::{Error, Kind};

static STARTED: AtomicBool = AtomicBool::new(false);
static FORKED: AtomicBool = AtomicBool::new(false);
static PARENT: AtomicU32 = AtomicU32::new(0);

extern "C" {
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> std::os::raw::c_int;
}

extern "C" fn in_child() {
    FORKED.store(true, Ordering::SeqCst);
}

/// Called when a database is opened: from then on, a fork's child is
/// refused. (A process that forks before opening anything is not.)
pub fn started() {
    if !STARTED.swap(true, Ordering::SeqCst) {
        PARENT.store(std::process::id(), Ordering::SeqCst);
        unsafe { pthread_atfork(None, None, Some(in_child)) };
    }
}

/// Whether this process is such a child (one relaxed load: every call
/// checks it).
#[inline]
pub fn forked() -> bool {
    FORKED.load(Ordering::Relaxed)
}

pub fn error() -> Error {
    Error::new(
        Kind::Misuse,
        format!(
            "this process is a fork() of one that had opened databases (pid {}): the library's \
             threads, queues and connections do not survive a fork; open databases in a new \
             process (fork, then exec), or fork before opening any",
            PARENT.load(Ordering::SeqCst)
        ),
    )
}
