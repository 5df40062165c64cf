//! The event store of ElixirScope: recorded calls in a redb database, and queries over them.
//!
//! The runtime captures [`Event`]s; a [`RunWriter`] writes them in batches; a [`Snapshot`]
//! answers queries (a call, its children or subtree, filtered lists, processes and their
//! origins). Each VM start is a new [`Run`]; queries default to the latest.
//!
//! - [`event`] – what the runtime captures.
//! - [`store`] – opening a database ([`Store`]), its path, its runs.
//! - [`writer`] – writing a run's events in batches ([`RunWriter`]).
//! - [`query`] – reading ([`Snapshot`], [`CallFilter`]); [`query_tree`] – call trees with
//!   folding ([`Tree`]); [`query_stats`] – counts ([`RunCounts`]); [`query_open`] – opening
//!   read-only ([`StoreReader`]).
//! - [`model`] – what queries return ([`Call`], [`Run`], [`Process`]).
//! - [`retention`] – the cap on what a store holds.
//! - [`private`] – who may read what ElixirScope writes: its owner only (`0700`/`0600`).
//! - [`schema`] – the tables; `codec` – the byte layout of records.
//! - [`error`] – errors.

mod codec;
pub mod error;
pub mod event;
pub mod model;
pub mod private;
pub mod query;
pub mod query_open;
pub mod query_stats;
pub mod query_tree;
pub mod retention;
pub mod schema;
pub mod store;
pub mod writer;

pub use error::{Result, StoreError};
pub use event::{
    AtomKey, AtomNames, Bytes, Class, End, Enter, Event, EventKind, Origin, OriginKind, Outcome,
    ProcessStart, TailCall,
};
pub use model::{Call, CallEnd, Process, ProcessOrigin, Run, RunInfo, RunSummary, StoredTailCall};
pub use query::{CallFilter, Snapshot, Subtree};
pub use query_open::StoreReader;
pub use query_stats::{FunctionCalls, RunCounts};
pub use query_tree::{
    Cause, CauseKind, Fold, FoldReason, FunctionCount, ServedRequest, StartedProcess, Tree,
    TreeItem, TreeLimits, TreeLine,
};
pub use retention::Retention;
pub use store::{resolve_path, Store, DB_ENV, DEFAULT_CACHE_BYTES, DEFAULT_RELATIVE_PATH};
pub use writer::{Commit, RunWriter, WriteReport};
