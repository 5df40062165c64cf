//! The tables of a store.
//!
//! Global tables hold the format, the runs and the interned atoms. Each run has its own set of
//! tables, named `run{N}/{table}`, so that dropping the oldest run is deleting its tables.
//! Composite keys are packed into `u128`s (most significant part first), so they sort like the
//! tuples they stand for and compare as plain integers.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `&str` | `&[u8]` (`format` → `u32`) |
//! | `runs` | run `u64` | run record |
//! | `run_bytes` | run `u64` | estimated bytes of the run's rows, `u64` |
//! | `atoms` | atom id `u32` | text |
//! | `atom_ids` | text | atom id `u32` |
//! | `run{N}/calls` | call id `u64` | call record (with its end when both came in one batch) |
//! | `run{N}/ends` | call id `u64` | end record (ends that came after their call was written) |
//! | `run{N}/children` | `parent << 64 \| child` | `()` |
//! | `run{N}/by_pid` | `pid << 64 \| call id` | start time `u64` |
//! | `run{N}/by_mfa` | `module << 96 \| function << 64 \| call id` | `()` |
//! | `run{N}/exceptions` | call id `u64` | `module << 32 \| function` |
//! | `run{N}/tail_calls` | `call id << 64 \| index` | tail call record |
//! | `run{N}/processes` | pid `u64` | process record |
//! | `run{N}/started` | `origin pid << 64 \| first call id` | pid `u64` (processes by where they came from) |

use redb::TableDefinition;

/// The format this build reads and writes; bumped on any incompatible change.
pub const FORMAT: u32 = 1;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("runs");
pub(crate) const RUN_BYTES: TableDefinition<u64, u64> = TableDefinition::new("run_bytes");
pub(crate) const ATOMS: TableDefinition<u32, &str> = TableDefinition::new("atoms");
pub(crate) const ATOM_IDS: TableDefinition<&str, u32> = TableDefinition::new("atom_ids");

/// The names of one run's tables.
#[derive(Debug, Clone)]
pub(crate) struct RunTables {
    calls: String,
    ends: String,
    children: String,
    by_pid: String,
    by_mfa: String,
    exceptions: String,
    tail_calls: String,
    processes: String,
    started: String,
    served: String,
    clients: String,
}

impl RunTables {
    /// The tables of run `run`.
    pub fn new(run: u64) -> Self {
        let name = |table: &str| format!("run{run}/{table}");
        RunTables {
            calls: name("calls"),
            ends: name("ends"),
            children: name("children"),
            by_pid: name("by_pid"),
            by_mfa: name("by_mfa"),
            exceptions: name("exceptions"),
            tail_calls: name("tail_calls"),
            processes: name("processes"),
            started: name("started"),
            served: name("served"),
            clients: name("clients"),
        }
    }

    pub fn calls(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.calls)
    }

    pub fn ends(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.ends)
    }

    pub fn children(&self) -> TableDefinition<'_, u128, ()> {
        TableDefinition::new(&self.children)
    }

    pub fn by_pid(&self) -> TableDefinition<'_, u128, u64> {
        TableDefinition::new(&self.by_pid)
    }

    pub fn by_mfa(&self) -> TableDefinition<'_, u128, ()> {
        TableDefinition::new(&self.by_mfa)
    }

    pub fn exceptions(&self) -> TableDefinition<'_, u64, u64> {
        TableDefinition::new(&self.exceptions)
    }

    pub fn tail_calls(&self) -> TableDefinition<'_, u128, &'static [u8]> {
        TableDefinition::new(&self.tail_calls)
    }

    pub fn processes(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.processes)
    }

    /// Processes by origin: `origin pid << 64 | first call` → pid. Stores written before this
    /// table existed lack it; queries then find no started processes.
    pub fn started(&self) -> TableDefinition<'_, u128, u64> {
        TableDefinition::new(&self.started)
    }

    /// Requests by client: `client pid << 64 | serving call` → the serving process's pid (see
    /// [`crate::Enter::client`]). Stores written before this table existed lack it; queries
    /// then find no requests.
    pub fn served(&self) -> TableDefinition<'_, u128, u64> {
        TableDefinition::new(&self.served)
    }

    /// The other way: serving call → its client's pid. Written and missing like `served`.
    pub fn clients(&self) -> TableDefinition<'_, u64, u64> {
        TableDefinition::new(&self.clients)
    }
}

/// `parent << 64 | child`, and the like.
pub(crate) fn pair(high: u64, low: u64) -> u128 {
    (high as u128) << 64 | low as u128
}

/// The `by_mfa` key.
pub(crate) fn mfa_key(module: u32, function: u32, call: u64) -> u128 {
    (module as u128) << 96 | (function as u128) << 64 | call as u128
}

/// The low 64 bits of a packed key.
pub(crate) fn low(key: u128) -> u64 {
    key as u64
}

/// `module << 32 | function`.
pub(crate) fn mf(module: u32, function: u32) -> u64 {
    (module as u64) << 32 | function as u64
}
