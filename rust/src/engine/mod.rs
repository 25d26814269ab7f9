//! The engines: what runs statements. An engine is a database type with its
//! connections and statements (`Db`, `Conn`, `Stmt`), which have the same
//! methods whatever the engine and reply in the `wire` format, so that
//! `ffi` dispatches on the engine in one place and the OCaml side never
//! knows which one ran. Engines depend on `sql`, `error`, `wire`, `stats`,
//! `executor` and `fork`, never on `ffi`; `local` and `remote` never depend on each
//! other, and nothing but `ffi` depends on `replica`, which composes
//! `local` (its reads) and `hrana` (its writes); `synced` (the Turso
//! engine and its sync) uses no other engine. Adding an engine is one
//! module here and one variant in each of `ffi`'s handle types.

pub mod hrana;
pub mod local;
pub mod remote;
pub mod replica;
pub mod synced;
