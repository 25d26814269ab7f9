//! Rust side of the `turso` OCaml library: converts, runs libSQL, and
//! reports errors as data. Policy lives in OCaml.

pub mod error;
pub mod executor;
mod ffi;
pub mod hrana;
pub mod local;
pub mod remote;
pub mod sql;
pub mod stats;
pub mod wire;
