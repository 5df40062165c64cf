//! A segment: one redb file holding a stretch of a run, written whole and never changed.
//!
//! [`tables!`] is the one list of what a segment holds: the writer fills these tables,
//! compaction copies every one of them, and retention deletes segments whole, so no table can
//! be forgotten by one of them. Composite keys are `u128`s (most significant part first), so
//! they sort like the tuples they stand for.
//!
//! A segment is self-contained: it names every atom its rows use and holds the process record
//! of every process its blocks hold, so deleting older segments leaves it readable.

use std::path::{Path, PathBuf};

use redb::{
    Builder, Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, TableError, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::block::BlockMeta;
use crate::error::{guarded, Context, IoContext, Result, StoreError};
use crate::layout::{self, SegmentName};

/// The segment format this build reads and writes; bumped on any incompatible change.
pub const FORMAT: u32 = 2;

/// redb's page cache for a segment being written.
const CACHE_BYTES: usize = 16 << 20;

/// redb's page cache for a segment opened for reading: readers decode a block once and keep it
/// (see `index::ReaderCache`), and a reader may hold hundreds of segments open.
const READ_CACHE_BYTES: usize = 2 << 20;

macro_rules! tables {
    ($( $(#[$doc:meta])* $name:ident: $key:ty => $value:ty = $text:literal; )*) => {
        $( $(#[$doc])* pub(crate) const $name: TableDefinition<$key, $value> = TableDefinition::new($text); )*

        /// Copies every row of every table but [`META`] from `from` into `to`.
        pub(crate) fn copy_rows(from: &ReadTransaction, to: &WriteTransaction) -> Result<()> {
            $( if stringify!($name) != "META" { copy_table(from, to, $name)?; } )*
            Ok(())
        }
    };
}

tables! {
    /// `format` → `u32`, `segment` → [`SegmentMeta`].
    META: &str => &[u8] = "meta";
    /// Atom id → text, for every atom the segment's rows name.
    ATOMS: u32 => &str = "atoms";
    /// Block number → the block (see [`crate::block`]).
    BLOCKS: u32 => &[u8] = "blocks";
    /// Block number → its [`BlockMeta`], loaded whole by readers.
    BLOCK_DIR: u32 => &[u8] = "block_dir";
    /// `pid << 64 | block` → the process's calls in the block.
    PID_BLOCKS: u128 => u32 = "pid_blocks";
    /// `module << 96 | function << 64 | block` → the function's calls in the block.
    FUNCTION_BLOCKS: u128 => u32 = "function_blocks";
    /// Call id → `module << 32 | function` of every call that raised (0 when unknown).
    EXCEPTIONS: u64 => u64 = "exceptions";
    /// Call id → end record, for ends that came after their call's block was written.
    LATE_ENDS: u64 => &[u8] = "late_ends";
    /// `call << 64 | index` → tail call record, for tail calls that came after their call's
    /// block was written.
    LATE_TAILS: u128 => &[u8] = "late_tails";
    /// Pid → process record, for every process of the segment's blocks the writer knew.
    PROCESSES: u64 => &[u8] = "processes";
    /// `origin pid << 64 | first call` → pid: processes by where they came from.
    STARTED: u128 => u64 = "started";
    /// `client pid << 64 | serving call` → the serving process's pid: requests by client.
    SERVED: u128 => u64 = "served";
    /// Serving call → the client's pid: the other way of `served`.
    CLIENTS: u64 => u64 = "clients";
    /// `time << 64 | n` → a test that finished then (see `codec`): what the run's tests were,
    /// in the order they finished.
    TESTS: u128 => &[u8] = "tests";
    /// `time << 64 | n` → 1 when recording was paused globally then, 0 when it resumed.
    PAUSES: u128 => u8 = "pauses";
    /// Remote key (see `crate::remote_key`) → `node` and `text` of the process of another
    /// node it stands for (`codec`), for every key the segment's rows name.
    REMOTE_PROCESSES: u64 => &[u8] = "remote_processes";
    /// `sending call << 64 | n` → send record (see `codec`): the messages a call sent, `n`
    /// counting the run's sends in the order the writer took them.
    SENDS: u128 => &[u8] = "sends";
    /// `group << 64 | n` → `(receiver pid, message hash, sending call, time, available time)`:
    /// the sends to a known process, by receiver and message (`group` hashes both; see
    /// `crate::messages`). `available` is when the message could be received: the send's time,
    /// plus the delay of a `send_after`.
    MAILBOX: u128 => MailboxRow = "mailbox";
    /// `group << 64 | receiving call` → `(receiver pid, message hash, start)`: the calls that
    /// received a message (`handle_cast/2`, `handle_info/2`, gen_statem events).
    RECEIPTS: u128 => ReceiptRow = "receipts";
    /// `pid hash << 64 | receiving call` → 1 for `{'EXIT', Pid, _}`, 2 for `{'DOWN', _,
    /// process, Pid, _}`: the calls that received news of a process's end.
    NOTICES: u128 => u8 = "notices";
    /// `time << 64 | n` → exit record (see `codec`): processes that recorded calls and ended.
    EXITS: u128 => &[u8] = "exits";
}

/// A row of `mailbox`: `(receiver pid, message hash, sending call, time, available time)`.
pub(crate) type MailboxRow = (u64, u64, u64, u64, u64);

/// A row of `receipts`: `(receiver pid, message hash, start)`.
pub(crate) type ReceiptRow = (u64, u64, u64);

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<()> {
    const DURING: &str = "merging segments";
    let source = match from.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e).during(DURING),
    };
    let mut target = to.open_table(def).during(DURING)?;
    for row in source.iter().during(DURING)? {
        let (k, v) = row.during(DURING)?;
        target.insert(k.value(), v.value()).during(DURING)?;
    }
    Ok(())
}

/// What a segment says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentMeta {
    /// The run it belongs to.
    pub run: u64,
    /// Its level and range of segment numbers.
    pub level: u32,
    pub first: u64,
    pub last: u64,
    /// The recorder's counters when its last input was sealed: what a live run shows.
    pub counters: crate::model::Counters,
}

/// Everything a segment holds, in memory: what the writer accumulated since its last seal.
#[derive(Debug, Default)]
pub(crate) struct Contents {
    pub atoms: Vec<(u32, String)>,
    pub blocks: Vec<(u32, Vec<u8>, BlockMeta)>,
    pub pid_blocks: Vec<(u128, u32)>,
    pub function_blocks: Vec<(u128, u32)>,
    pub exceptions: Vec<(u64, u64)>,
    pub late_ends: Vec<(u64, Vec<u8>)>,
    pub late_tails: Vec<(u128, Vec<u8>)>,
    pub processes: Vec<(u64, Vec<u8>)>,
    pub started: Vec<(u128, u64)>,
    pub served: Vec<(u128, u64)>,
    pub clients: Vec<(u64, u64)>,
    pub tests: Vec<(u128, Vec<u8>)>,
    pub pauses: Vec<(u128, u8)>,
    pub remote_processes: Vec<(u64, Vec<u8>)>,
    pub sends: Vec<(u128, Vec<u8>)>,
    pub mailbox: Vec<(u128, MailboxRow)>,
    pub receipts: Vec<(u128, ReceiptRow)>,
    pub notices: Vec<(u128, u8)>,
    pub exits: Vec<(u128, Vec<u8>)>,
}

impl Contents {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.late_ends.is_empty()
            && self.late_tails.is_empty()
            && self.started.is_empty()
            && self.served.is_empty()
            && self.tests.is_empty()
            && self.pauses.is_empty()
            && self.sends.is_empty()
            && self.receipts.is_empty()
            && self.exits.is_empty()
    }

    /// The bytes it holds, about.
    pub fn bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.1.len()).sum::<usize>()
            + self.late_ends.iter().map(|e| e.1.len() + 8).sum::<usize>()
            + self
                .late_tails
                .iter()
                .map(|e| e.1.len() + 16)
                .sum::<usize>()
            + self.tests.iter().map(|t| t.1.len() + 16).sum::<usize>()
            + self.sends.iter().map(|t| t.1.len() + 16).sum::<usize>()
            + self.exits.iter().map(|t| t.1.len() + 16).sum::<usize>()
            + 48 * (self.mailbox.len() + self.receipts.len())
            + 16 * (self.notices.len()
                + self.pid_blocks.len()
                + self.function_blocks.len()
                + self.exceptions.len()
                + self.pauses.len())
    }
}

fn put_meta(txn: &WriteTransaction, meta: &SegmentMeta) -> Result<()> {
    const DURING: &str = "writing a segment";
    let mut table = txn.open_table(META).during(DURING)?;
    table
        .insert("format", FORMAT.to_le_bytes().as_slice())
        .during(DURING)?;
    let bytes = postcard::to_stdvec(meta).map_err(|_| StoreError::Corrupt {
        what: "segment",
        problem: "cannot serialize its description",
    })?;
    table.insert("segment", bytes.as_slice()).during(DURING)?;
    Ok(())
}

/// Writes a segment into `dir`: a temporary file, one durable transaction, a clean close, then
/// a rename to its name, so that a reader sees it whole or not at all. Returns its path.
pub(crate) fn write(dir: &Path, meta: &SegmentMeta, contents: &mut Contents) -> Result<PathBuf> {
    let name = SegmentName {
        level: meta.level,
        first: meta.first,
        last: meta.last,
    };
    let temp = layout::temp_path(dir, "segment");
    let written = write_file(&temp, |txn| {
        put_meta(txn, meta)?;
        fill(txn, contents)
    });
    let path = dir.join(name.file_name());
    let renamed = written.and_then(|()| std::fs::rename(&temp, &path).at(&path, "sealing"));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    layout::sync_dir(dir);
    Ok(path)
}

/// Creates the redb file `path` (0600), runs `fill` in one durable write transaction and
/// closes the database cleanly (so that read-only opens need no repair).
pub(crate) fn write_file(
    path: &Path,
    fill: impl FnOnce(&WriteTransaction) -> Result<()>,
) -> Result<()> {
    const DURING: &str = "writing a segment";
    let file = layout::private_file(path, true)?;
    let db = Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create_with_backend(redb::backends::FileBackend::new(file).map_err(|e| {
            StoreError::Open {
                path: path.to_path_buf(),
                source: Box::new(e),
            }
        })?)
        .map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
    let txn = db.begin_write().during(DURING)?;
    fill(&txn)?;
    txn.commit().during(DURING)?;
    close(db, path)
}

fn close(db: Database, path: &Path) -> Result<()> {
    db.close().map_err(|e| StoreError::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Inserts rows sorted by key: B-tree pages fill in order.
fn insert_sorted<K, V>(
    txn: &WriteTransaction,
    def: TableDefinition<K, V>,
    rows: &mut [(K, V)],
) -> Result<()>
where
    K: redb::Key + for<'a> redb::Value<SelfType<'a> = K> + Ord + 'static,
    V: for<'a> redb::Value<SelfType<'a> = V> + 'static,
{
    const DURING: &str = "writing a segment";
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut table = txn.open_table(def).during(DURING)?;
    for (k, v) in rows.iter() {
        table.insert(k, v).during(DURING)?;
    }
    Ok(())
}

fn fill(txn: &WriteTransaction, c: &mut Contents) -> Result<()> {
    const DURING: &str = "writing a segment";
    {
        let mut atoms = txn.open_table(ATOMS).during(DURING)?;
        for (id, text) in &c.atoms {
            atoms.insert(id, text.as_str()).during(DURING)?;
        }
        let mut blocks = txn.open_table(BLOCKS).during(DURING)?;
        let mut dir = txn.open_table(BLOCK_DIR).during(DURING)?;
        for (no, blob, meta) in &c.blocks {
            blocks.insert(no, blob.as_slice()).during(DURING)?;
            let meta = postcard::to_stdvec(meta).map_err(|_| StoreError::Corrupt {
                what: "block directory",
                problem: "cannot serialize an entry",
            })?;
            dir.insert(no, meta.as_slice()).during(DURING)?;
        }
        let mut ends = txn.open_table(LATE_ENDS).during(DURING)?;
        c.late_ends.sort_unstable_by_key(|e| e.0);
        for (id, row) in &c.late_ends {
            ends.insert(id, row.as_slice()).during(DURING)?;
        }
        let mut tails = txn.open_table(LATE_TAILS).during(DURING)?;
        c.late_tails.sort_unstable_by_key(|e| e.0);
        for (key, row) in &c.late_tails {
            tails.insert(key, row.as_slice()).during(DURING)?;
        }
        let mut processes = txn.open_table(PROCESSES).during(DURING)?;
        c.processes.sort_unstable_by_key(|e| e.0);
        for (pid, row) in &c.processes {
            processes.insert(pid, row.as_slice()).during(DURING)?;
        }
        if !c.tests.is_empty() {
            let mut tests = txn.open_table(TESTS).during(DURING)?;
            c.tests.sort_unstable_by_key(|e| e.0);
            for (key, row) in &c.tests {
                tests.insert(key, row.as_slice()).during(DURING)?;
            }
        }
    }
    if !c.pauses.is_empty() {
        insert_sorted(txn, PAUSES, &mut c.pauses)?;
    }
    if !c.remote_processes.is_empty() {
        let mut remote = txn.open_table(REMOTE_PROCESSES).during(DURING)?;
        for (key, row) in &c.remote_processes {
            remote.insert(key, row.as_slice()).during(DURING)?;
        }
    }
    insert_sorted(txn, PID_BLOCKS, &mut c.pid_blocks)?;
    insert_sorted(txn, FUNCTION_BLOCKS, &mut c.function_blocks)?;
    insert_sorted(txn, EXCEPTIONS, &mut c.exceptions)?;
    insert_sorted(txn, STARTED, &mut c.started)?;
    insert_sorted(txn, SERVED, &mut c.served)?;
    insert_sorted(txn, CLIENTS, &mut c.clients)?;
    for (table, rows) in [(SENDS, &mut c.sends), (EXITS, &mut c.exits)] {
        if !rows.is_empty() {
            rows.sort_unstable_by_key(|e| e.0);
            let mut table = txn.open_table(table).during(DURING)?;
            for (key, row) in rows.iter() {
                table.insert(key, row.as_slice()).during(DURING)?;
            }
        }
    }
    if !c.mailbox.is_empty() {
        insert_sorted(txn, MAILBOX, &mut c.mailbox)?;
    }
    if !c.receipts.is_empty() {
        insert_sorted(txn, RECEIPTS, &mut c.receipts)?;
    }
    if !c.notices.is_empty() {
        insert_sorted(txn, NOTICES, &mut c.notices)?;
    }
    Ok(())
}

/// A sealed segment opened for reading.
pub(crate) struct Segment {
    // Declared before `db`: dropped first.
    txn: ReadTransaction,
    _db: ReadOnlyDatabase,
    /// Where it is.
    pub path: PathBuf,
    /// What it says about itself.
    pub meta: SegmentMeta,
    /// A number no other segment opened by this process has: caches key blocks by it.
    pub uid: u64,
    /// Its block directory: block number and what the block holds, by number.
    pub blocks: Vec<(u32, BlockMeta)>,
    /// The atoms its rows name.
    pub atoms: Vec<(u32, String)>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("path", &self.path).finish()
    }
}

impl Segment {
    /// Opens a sealed segment read-only (a shared lock: any number of readers at once).
    pub fn open(path: &Path) -> Result<Segment> {
        let opened = guarded(path, || {
            let db = Builder::new()
                .set_cache_size(READ_CACHE_BYTES)
                .open_read_only(path)
                .map_err(|e| match e {
                    redb::DatabaseError::Storage(redb::StorageError::Io(io)) => StoreError::Io {
                        path: path.to_path_buf(),
                        during: "opening a segment",
                        source: io,
                    },
                    other => StoreError::Open {
                        path: path.to_path_buf(),
                        source: Box::new(other),
                    },
                })?;
            let txn = db.begin_read().during("opening a segment")?;
            let meta = read_meta(&txn, path)?;
            let (blocks, atoms) = read_directory(&txn, path)?;
            static UIDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
            Ok(Segment {
                txn,
                _db: db,
                path: path.to_path_buf(),
                meta,
                uid: UIDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                blocks,
                atoms,
            })
        });
        opened.map_err(|e| naming(path, e))
    }

    /// Runs `f` over the segment's read transaction; what goes wrong (a panic inside redb, an
    /// error of redb, a record that does not decode) becomes an error naming the file.
    pub fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
        guarded(&self.path, || f(&self.txn)).map_err(|e| naming(&self.path, e))
    }
}

/// A segment's block directory and atoms, which every reader needs.
fn read_directory(txn: &ReadTransaction, path: &Path) -> Result<DirectoryAndAtoms> {
    const DURING: &str = "reading a segment's directory";
    let mut blocks = Vec::new();
    let mut atoms = Vec::new();
    match txn.open_table(BLOCK_DIR) {
        Ok(dir) => {
            for row in dir.iter().during(DURING)? {
                let (no, meta) = row.during(DURING)?;
                let meta: BlockMeta =
                    postcard::from_bytes(meta.value()).map_err(|_| StoreError::Damaged {
                        path: path.to_path_buf(),
                        problem: "a block directory entry does not parse".into(),
                    })?;
                blocks.push((no.value(), meta));
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e).during(DURING),
    }
    match txn.open_table(ATOMS) {
        Ok(table) => {
            for row in table.iter().during(DURING)? {
                let (id, text) = row.during(DURING)?;
                atoms.push((id.value(), text.value().to_owned()));
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e).during(DURING),
    }
    Ok((blocks, atoms))
}

type DirectoryAndAtoms = (Vec<(u32, BlockMeta)>, Vec<(u32, String)>);

/// `e`, naming the segment it came from.
fn naming(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Redb { during, source } => match *source {
            redb::Error::Io(io) => StoreError::Io {
                path: path.to_path_buf(),
                during,
                source: io,
            },
            other => StoreError::Damaged {
                path: path.to_path_buf(),
                problem: format!("{during}: {other}"),
            },
        },
        StoreError::Corrupt { what, problem } => StoreError::Damaged {
            path: path.to_path_buf(),
            problem: format!("a {what} record: {problem}"),
        },
        other => other,
    }
}

fn read_meta(txn: &ReadTransaction, path: &Path) -> Result<SegmentMeta> {
    const DURING: &str = "opening a segment";
    let damaged = |problem: &str| StoreError::Damaged {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    };
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Err(damaged("no meta table")),
        Err(e) => return Err(e).during(DURING),
    };
    let format = meta
        .get("format")
        .during(DURING)?
        .and_then(|v| <[u8; 4]>::try_from(v.value()).ok().map(u32::from_le_bytes))
        .ok_or_else(|| damaged("no format"))?;
    if format != FORMAT {
        return Err(StoreError::Format {
            path: path.to_path_buf(),
            found: format,
            expected: FORMAT,
        });
    }
    let segment = meta
        .get("segment")
        .during(DURING)?
        .ok_or_else(|| damaged("no description"))?;
    postcard::from_bytes(segment.value()).map_err(|_| damaged("its description does not parse"))
}

/// Merges `inputs` (sealed segments of one run, in order) into one segment of `meta` in `dir`.
pub(crate) fn merge(dir: &Path, inputs: &[Segment], meta: &SegmentMeta) -> Result<PathBuf> {
    let name = SegmentName {
        level: meta.level,
        first: meta.first,
        last: meta.last,
    };
    let temp = layout::temp_path(dir, "merge");
    let written = write_file(&temp, |txn| {
        put_meta(txn, meta)?;
        for input in inputs {
            input.read(|from| copy_rows(from, txn))?;
        }
        Ok(())
    });
    let path = dir.join(name.file_name());
    let renamed = written.and_then(|()| std::fs::rename(&temp, &path).at(&path, "merging"));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    layout::sync_dir(dir);
    Ok(path)
}
