//! Rust side of the `turso` OCaml library: converts, runs libSQL, and
//! reports errors as data. Policy lives in OCaml.
//!
//! The modules, and whom each may use (an arrow is "uses"; nothing imports
//! in a circle):
//!
//! ```text
//! ffi        the OCaml boundary; its handle types are the one dispatch on
//!   │        the engine
//!   └──> engine::{local, remote, replica, synced}, executor, fork, sql, wire, error
//!
//! engine     what runs statements; an engine may use sql, error, wire,
//!            stats, executor and fork, never ffi
//!   local                      a file or :memory: on libSQL's SQLite
//!   hrana                      the Hrana protocol (client, URLs, values),
//!                              and hrana::session: a connection over it
//!   remote  ──> hrana          never local, never replica
//!   replica ──> hrana, local   a local reader plus a Hrana session
//!   synced                     a Turso-engine file and its sync (crate
//!                              `turso`); no other engine
//!
//! executor ──> wire, error     the tokio runtime, serial queues
//! sql      ──> error           the one SQL-text scanner
//! stats    ──> wire            what a database has done
//! wire     ──> error           the boundary's byte format
//! error                        Error, Kind, SQLite codes, caught panics
//! fork     ──> error           a fork's child is refused, never crashed
//! ```
//!
//! `local` does not use `hrana` and `hrana` uses no engine. A new engine
//! is one module under `engine` and one variant in each `ffi` handle type.

pub mod engine;
pub mod error;
pub mod executor;
mod ffi;
mod fork;
pub mod sql;
pub mod stats;
pub mod wire;
