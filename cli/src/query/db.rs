//! Finding and opening the recording the runtime wrote: `--db`, else the `runtime.db_path` of
//! `elixir_scope.toml`, else `$ELIXIR_SCOPE_DB`, else `.elixir_scope` in the project
//! root (the directory of `elixir_scope.toml`, else the working directory). That is the
//! runtime's own order: the file's setting and the project root reach it through the settings
//! `instrument` installs (see `bundle`), so a VM whose working directory moves (Common Test's
//! log directories, an umbrella app's directory) still records where these commands look.

use std::path::{Path, PathBuf};

use store::{Cluster, Snapshot, StoreError, StoreReader};

use super::cluster;

/// Where the recording of the project of `config` is when no `--db` names it (see the module
/// documentation).
pub fn default_path(config: &config::Config, cwd: &Path) -> PathBuf {
    match config.runtime.db_path() {
        Some(path) => path.to_path_buf(),
        None => store::resolve_path(cwd, &config.project_root(cwd)),
    }
}

/// What the query commands share: where the database is and which run to read.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Source {
    /// The recording: a store directory [default: runtime.db_path of elixir_scope.toml, else
    /// $ELIXIR_SCOPE_DB, else .elixir_scope in the project (the directory of
    /// elixir_scope.toml, else the working directory)].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Which run to read (1 is the first VM start recorded) [default: the latest]. Listing
    /// commands (calls, search, origin, log) also take `all` and ranges: `3..5`, `3..`, `..5`.
    #[arg(long, value_name = "N", value_parser = Runs::parse,
          conflicts_with_all = ["node", "cluster"])]
    pub run: Option<Runs>,
    /// Which node's run to read (`name@host`, or `name`): its latest run in the recording;
    /// with --cookie, the run it records now, reached over Erlang distribution.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Read every node of a cluster, one run each (listings merge their calls by time; trees
    /// and exports cross nodes). With --cookie: --node and every node it is connected to,
    /// over Erlang distribution. Else: the runs other nodes recorded into this recording
    /// while the latest run (of --node, if given) did: nodes sharing a project directory.
    #[arg(long)]
    pub cluster: bool,
    /// The cookie of --node: reach it over Erlang distribution as a hidden node, and read
    /// its run where it is when this machine sees it, else a copy in the user's cache
    /// directory ($XDG_CACHE_HOME/elixir-scope/cluster).
    #[arg(long, value_name = "COOKIE", requires = "node")]
    pub cookie: Option<String>,
    /// With --cookie: copy each node's run into the cache directory even when this machine
    /// can read it where it is (a copy that outlives the nodes' recordings; later copies only
    /// add the segments sealed since).
    #[arg(long, requires = "cookie")]
    pub copy: bool,
}

/// One node's run, where it can be read.
pub struct NodeSource {
    /// The store holding it.
    pub store: StoreReader,
    /// Its number there.
    pub run: u64,
}

/// Which runs: one, or a range (`all` is the range with no bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// The run with this number.
    One(u64),
    /// The runs numbered within these bounds (inclusive; `None` for no bound).
    Range(Option<u64>, Option<u64>),
}

impl Runs {
    /// `N`, `latest`, `all`, `A..B`, `A..`, `..B`.
    pub fn parse(text: &str) -> Result<Runs, String> {
        let number = |t: &str| -> Result<Option<u64>, String> {
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<u64>()
                .map(Some)
                .map_err(|_| format!("`{t}` is not a run number (runs are numbered from 1)"))
        };
        match text.trim() {
            "all" => Ok(Runs::Range(None, None)),
            t => match t.split_once("..") {
                Some((a, b)) => {
                    let (a, b) = (number(a)?, number(b)?);
                    if let (Some(a), Some(b)) = (a, b) {
                        if a > b {
                            return Err(format!("the range {t} is empty ({a} > {b})"));
                        }
                    }
                    Ok(Runs::Range(a, b))
                }
                None => Ok(Runs::One(
                    number(t)?.ok_or("a run number, `all` or a range like 3..5")?,
                )),
            },
        }
    }
}

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No recording where one was expected.
    #[error(
        "{0}: no recording here (run instrumented code first, or give --db PATH or \
         ELIXIR_SCOPE_DB)"
    )]
    NoDatabase(PathBuf),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A pattern is wrong, or a question could not be answered.
    #[error(transparent)]
    Analysis(#[from] analysis::QueryError),
    /// `elixir_scope.toml` is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The working directory cannot be read.
    #[error("cannot read the working directory: {0}")]
    Cwd(std::io::Error),
    /// A call id that the run does not hold.
    #[error(
        "run {run} has no call {id} (ids run from 1 to {last}; `elixir-scope calls` lists them)"
    )]
    NoSuchCall {
        /// The id asked for.
        id: u64,
        /// The run.
        run: u64,
        /// The highest id stored.
        last: u64,
    },
    /// A call id asked of a run that recorded no calls at all.
    #[error("run {run} has no call {id}: it recorded no calls")]
    EmptyRun {
        /// The id asked for.
        id: u64,
        /// The run.
        run: u64,
    },
    /// A process the run did not record.
    #[error("run {run} recorded no process {pid}")]
    NoSuchProcess {
        /// The pid as given.
        pid: String,
        /// The run.
        run: u64,
    },
    /// A test the run did not record.
    #[error(
        "run {run} has no test named {name:?} ({})",
        if *tests == 0 {
            "it recorded no test: run `mix test` with the compile alias of the README".to_string()
        } else {
            format!("it recorded {tests}: `elixir-scope tests` lists them")
        }
    )]
    NoSuchTest {
        /// The name asked for.
        name: String,
        /// The run.
        run: u64,
        /// How many tests the run recorded.
        tests: usize,
    },
    /// An option's value is wrong.
    #[error("{option}: {problem}")]
    Option {
        /// The option.
        option: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Writing the output failed.
    #[error("{path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A node or cluster could not be read.
    #[error("{0}")]
    Cluster(String),
}

impl Source {
    /// The database path (see the module documentation).
    pub fn path(&self) -> Result<PathBuf, QueryError> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        let cwd = std::env::current_dir().map_err(QueryError::Cwd)?;
        let config = config::Config::discover(&cwd)?;
        Ok(default_path(&config, &cwd))
    }

    /// Opens the recording read-only (it must exist: queries never create one).
    pub fn open(&self) -> Result<StoreReader, QueryError> {
        let path = self.path()?;
        open(&path)
    }

    /// The one run `--run` names (`None`: the latest); a range is an error for commands
    /// that read one run.
    pub fn one_run(&self) -> Result<Option<u64>, QueryError> {
        match self.run {
            None => Ok(None),
            Some(Runs::One(n)) => Ok(Some(n)),
            Some(Runs::Range(..)) => Err(QueryError::Option {
                option: "--run",
                problem: "this command reads one run: give its number".to_string(),
            }),
        }
    }

    /// Opens the recording and a snapshot of the chosen run (with `--node`, that node's).
    pub fn snapshot(&self) -> Result<Snapshot, QueryError> {
        if self.cluster {
            return Err(QueryError::Option {
                option: "--cluster",
                problem: "this command reads one run: name its node with --node alone".to_string(),
            });
        }
        if let Some(nodes) = self.node_sources()? {
            let first = nodes.into_iter().next().ok_or_else(no_node_runs)?;
            return Ok(first.store.snapshot(Some(first.run))?);
        }
        let run = self.one_run()?;
        Ok(self.open()?.snapshot(run)?)
    }

    /// The store to read and the run asked for (`None`: the latest): `--run`'s, or with
    /// `--node` that node's run and the store that holds it here; `--cluster` is refused (for
    /// commands that show one store, such as `stats` and `serve`).
    pub fn store_and_run(&self) -> Result<(StoreReader, Option<u64>), QueryError> {
        if self.cluster {
            return Err(QueryError::Option {
                option: "--cluster",
                problem: "this command reads one recording: name one node with --node".to_string(),
            });
        }
        if let Some(nodes) = self.node_sources()? {
            let first = nodes.into_iter().next().ok_or_else(no_node_runs)?;
            return Ok((first.store, Some(first.run)));
        }
        Ok((self.open()?, self.one_run()?))
    }

    /// Whether the runs of several nodes are read (`--cluster`).
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The runs `--node` and `--cluster` name, one per node, the one of `--node` (else the
    /// latest) first; `None` without either option.
    pub fn node_sources(&self) -> Result<Option<Vec<NodeSource>>, QueryError> {
        if let (Some(node), Some(cookie)) = (&self.node, &self.cookie) {
            let target = crate::commands::attach::Target {
                node: node.clone(),
                cookie: cookie.clone(),
            };
            let mut readers: Vec<StoreReader> = Vec::new();
            let mut out = Vec::new();
            for found in cluster::fetch_runs(&target, self.cluster, self.copy)? {
                // Nodes that share a store share one reader (and what it keeps of segments).
                let store = match readers.iter().find(|r| r.path() == found.store) {
                    Some(reader) => reader.clone(),
                    None => {
                        let reader = open(&found.store)?;
                        readers.push(reader.clone());
                        reader
                    }
                };
                out.push(NodeSource {
                    store,
                    run: found.run,
                });
            }
            return Ok(Some(out));
        }
        if self.node.is_none() && !self.cluster {
            return Ok(None);
        }
        let store = self.open()?;
        let runs = store.runs()?;
        let anchor = match &self.node {
            Some(node) => runs
                .iter()
                .rev()
                .find(|r| same_node(&r.info.node, node))
                .ok_or_else(|| {
                    let mut nodes: Vec<&str> = runs.iter().map(|r| r.info.node.as_str()).collect();
                    nodes.sort_unstable();
                    nodes.dedup();
                    QueryError::Cluster(format!(
                        "{}: no run of node {node} (its runs are of {})",
                        store.path().display(),
                        nodes.join(", ")
                    ))
                })?,
            None => runs
                .iter()
                .rev()
                .find(|r| r.info.node != cluster::NO_NODE)
                .ok_or_else(|| {
                    QueryError::Cluster(format!(
                        "{}: no run of a named node (nodes started with -sname or -name)",
                        store.path().display()
                    ))
                })?,
        };
        let mut out = vec![NodeSource {
            store: store.clone(),
            run: anchor.id,
        }];
        if self.cluster {
            for peer in cluster::peer_runs(&runs, anchor) {
                out.push(NodeSource {
                    store: store.clone(),
                    run: peer,
                });
            }
        }
        Ok(Some(out))
    }

    /// The runs to read as one cluster, with the run of the call asked about first: those of
    /// `--cluster`, else the chosen run (of `--node`, if given) and the runs other nodes
    /// recorded into its store meanwhile (see [`cluster::peers_in_store`]).
    pub fn cluster(&self) -> Result<Cluster, QueryError> {
        let nodes = self.node_sources()?;
        if let (true, Some(nodes)) = (self.cluster, &nodes) {
            let snapshots = nodes
                .iter()
                .map(|n| Ok(n.store.snapshot(Some(n.run))?))
                .collect::<Result<Vec<_>, QueryError>>()?;
            return Ok(Cluster::new(snapshots));
        }
        let (store, snap) = match nodes.and_then(|n| n.into_iter().next()) {
            Some(node) => {
                let snap = node.store.snapshot(Some(node.run))?;
                (node.store, snap)
            }
            None => {
                let store = self.open()?;
                let snap = store.snapshot(self.one_run()?)?;
                (store, snap)
            }
        };
        let peers = cluster::peers_in_store(&store, &snap)?;
        Ok(Cluster::new(std::iter::once(snap).chain(peers).collect()))
    }

    /// Opens the recording and snapshots of the chosen runs, newest first (the latest alone
    /// when `--run` is not given); with `--node` or `--cluster`, one run per node.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, QueryError> {
        if let Some(nodes) = self.node_sources()? {
            return nodes
                .into_iter()
                .map(|n| Ok(n.store.snapshot(Some(n.run))?))
                .collect();
        }
        let store = self.open()?;
        let (lo, hi) = match self.run {
            None => return Ok(vec![store.snapshot(None)?]),
            Some(Runs::One(n)) => return Ok(vec![store.snapshot(Some(n))?]),
            Some(Runs::Range(lo, hi)) => (lo.unwrap_or(0), hi.unwrap_or(u64::MAX)),
        };
        let mut runs: Vec<u64> = store
            .runs()?
            .into_iter()
            .map(|r| r.id)
            .filter(|id| (lo..=hi).contains(id))
            .collect();
        runs.sort_unstable_by(|a, b| b.cmp(a));
        runs.into_iter()
            .map(|id| Ok(store.snapshot(Some(id))?))
            .collect()
    }
}

/// Whether a run's node `recorded` is the node `asked` (`name@host`, or `name` alone).
fn same_node(recorded: &str, asked: &str) -> bool {
    recorded == asked || (!asked.contains('@') && recorded.split('@').next() == Some(asked))
}

fn no_node_runs() -> QueryError {
    QueryError::Cluster("no node answered with a recording".to_string())
}

/// Opens an existing recording for reading: any number of commands read it at once, while
/// VMs record into it.
pub fn open(path: &Path) -> Result<StoreReader, QueryError> {
    if !path.exists() {
        return Err(QueryError::NoDatabase(path.to_path_buf()));
    }
    Ok(StoreReader::open(path)?)
}

/// The call `id` of the snapshot's run, or an error naming the ids it holds.
pub fn call(snap: &Snapshot, id: u64) -> Result<store::Call, QueryError> {
    match snap.call(id)? {
        Some(call) => Ok(call),
        None => Err(no_such_call(snap, id)?),
    }
}

/// The error for a call `id` the snapshot's run does not hold, naming the ids it does.
pub fn no_such_call(snap: &Snapshot, id: u64) -> Result<QueryError, QueryError> {
    let run = snap.run().id;
    Ok(match last_id(snap)? {
        0 => QueryError::EmptyRun { id, run },
        last => QueryError::NoSuchCall { id, run, last },
    })
}

fn last_id(snap: &Snapshot) -> Result<u64, QueryError> {
    let newest = snap.calls(&store::CallFilter {
        limit: 1,
        ..Default::default()
    })?;
    Ok(newest.first().map_or(0, |c| c.id))
}
