//! The event store of ElixirScope: recorded calls in compressed blocks, in sealed redb
//! segment files, one directory per run; and queries over them.
//!
//! The runtime captures [`Event`]s; a [`RunWriter`] turns them into blocks and seals them
//! into segments every checkpoint; a [`StoreReader`] lists runs (live ones too) and opens a
//! [`Snapshot`] of one, which answers queries (a call, its children or subtree, filtered
//! lists, trees, processes and their origins, counts). Every VM start is a new [`Run`]; any
//! number of VMs record into one store at once, and readers never block them.
//!
//! - [`event`] – what the runtime captures.
//! - [`store`] – a store: where runs are created ([`Store`]) and the path rules.
//! - [`writer`] – writing one run ([`RunWriter`]): staging, blocks, seals.
//! - [`reader`] – reading a store ([`StoreReader`]): runs, snapshots.
//! - [`query`] – a run's queries ([`Snapshot`], [`CallFilter`]); [`query_tree`] – call trees
//!   with folding ([`Tree`]); [`query_stats`] – counts ([`RunCounts`]); [`query_heads`] –
//!   walks over calls' heads without their values ([`CallHead`], for timings: profiles,
//!   flame graphs, timelines); [`query_messages`] – messages sent and received
//!   ([`SentMessage`], matched by [`messages`]); [`query_exits`] – how processes ended, and
//!   crashes with what they caused ([`Crash`]); [`query_view`] – calls read in place with their
//!   values ([`CallView`], for patterns and searches); [`query_cluster`] – runs of several
//!   nodes read together, links across nodes ([`Cluster`]).
//! - [`model`] – what queries return ([`Call`], [`Run`], [`Process`], [`Counters`]).
//! - [`retention`] – compaction and the cap ([`Maintenance`], [`Retention`]).
//! - `layout` – the files on disk; `segment` – a segment's tables; `block` – a block's
//!   columns; `index` – a run's segments read as one index; `codec` – record layouts.
//! - [`private`] – who may read what ElixirScope writes: its owner only (`0700`/`0600`).
//! - [`error`] – errors.

mod block;
mod codec;
mod encoding;
pub mod error;
mod etf;
pub mod event;
mod index;
mod layout;
pub mod messages;
pub mod model;
pub mod private;
pub mod query;
pub mod query_cluster;
pub mod query_exits;
pub mod query_heads;
pub mod query_messages;
pub mod query_stats;
pub mod query_tree;
pub mod query_view;
pub mod reader;
pub mod retention;
mod segment;
pub mod store;
pub mod writer;

pub use error::{Result, StoreError};
pub use event::{
    is_name_text, is_remote_key, remote_key, AtomKey, AtomNames, Bytes, Class, End, Enter, Event,
    EventKind, Origin, OriginKind, Outcome, ProcessExit, ProcessStart, RemoteProcess, RunEvent,
    Send, SendKind, TailCall, Test, TestFramework, TestOutcome,
};
pub use model::{
    Call, CallEnd, Counters, Pause, Process, ProcessOrigin, RecordedTest, Run, RunInfo, RunSummary,
    StoredTailCall,
};
pub use private::{DIR_MODE, FILE_MODE};
pub use query::{CallFilter, Snapshot, Subtree};
pub use query_cluster::{Cluster, CrossMessage, CrossRequest, CrossStart, Delivery};
pub use query_exits::{Crash, Notice, NoticeKind, ProcessEnd};
pub use query_heads::CallHead;
pub use query_messages::{MessageLink, SentMessage};
pub use query_stats::{FunctionCalls, RunCounts};
pub use query_tree::{
    tree_prefixes, Cause, CauseKind, Fold, FoldReason, FunctionCount, MessageLine, Prefixes,
    ServedRequest, StartedProcess, Tree, TreeItem, TreeLimits,
};
pub use query_view::CallView;
pub use reader::StoreReader;
pub use retention::{Maintenance, MaintenanceReport, Retention, INPUTS_KEPT_FOR};
pub use segment::FORMAT;
pub use store::{resolve_path, Store, DB_ENV, DEFAULT_RELATIVE_PATH};
pub use writer::{RunWriter, SealReport};

/// Nanoseconds since the UNIX epoch, for unique temporary names.
pub(crate) fn clock_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
