//! Rust side of the `turso` OCaml library: converts, runs libSQL, and
//! reports errors as data. Policy lives in OCaml.

pub mod error;
pub mod executor;
mod ffi;
pub mod engine;
pub mod sql;
pub mod stats;
pub mod wire;
