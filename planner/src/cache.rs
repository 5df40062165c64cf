//! The plan cache: analyses by beam, and the last plan, under the project's `.elixir_scope/`.
//!
//! Two JSON files in the cache directory (`ROOT/.elixir_scope/plan/`, next to `_build`):
//! - `analyses.json`: per beam path, the hash of the beam's original bytes and its facts (or
//!   why it has none). An entry is used only while the hash matches; entries of beams that no
//!   longer exist are dropped when the file is written.
//! - `plan.json`: the last plan and its key, a hash of every beam's path, hash and application
//!   and of the planning settings. A run with the same key uses the plan as it is: no beam is
//!   analyzed and nothing is planned.
//!
//! Unreadable or outdated files count as empty (the cache is rebuilt); files are replaced
//! atomically, so concurrent runs at worst redo work.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::facts::ModuleFacts;
use crate::report::PlanReport;

/// Version of the cache files' layout and of what the analyzer and planner compute: part of
/// every key, so that a new version starts from an empty cache.
pub const CACHE_FORMAT: &str = concat!("1/", env!("CARGO_PKG_VERSION"));

/// What the analyzer made of a beam.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Analysis {
    /// Its facts.
    Facts(ModuleFacts),
    /// It has no usable debug info.
    Unavailable {
        /// Why.
        why: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    hash: String,
    analysis: Analysis,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AnalysesFile {
    format: String,
    entries: BTreeMap<PathBuf, Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PlanFile {
    format: String,
    key: String,
    report: PlanReport,
}

/// Why the cache could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the plan cache in {dir}: {source}")]
pub struct CacheError {
    /// The cache directory.
    pub dir: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: std::io::Error,
}

/// The plan cache of one directory.
#[derive(Debug)]
pub struct PlanCache {
    dir: PathBuf,
    analyses: AnalysesFile,
}

impl PlanCache {
    /// The cache in `dir` (which need not exist yet).
    pub fn open(dir: &Path) -> PlanCache {
        let analyses = read_json::<AnalysesFile>(&dir.join("analyses.json"))
            .filter(|f| f.format == CACHE_FORMAT)
            .unwrap_or_default();
        PlanCache {
            dir: dir.to_path_buf(),
            analyses,
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The plan stored under `key`, if the last plan had that key.
    pub fn plan(&self, key: &str) -> Option<PlanReport> {
        read_json::<PlanFile>(&self.dir.join("plan.json"))
            .filter(|f| f.format == CACHE_FORMAT && f.key == key)
            .map(|f| f.report)
    }

    /// The analysis of the beam at `path`, if it was made from a beam with this hash.
    pub fn analysis(&self, path: &Path, hash: &str) -> Option<Analysis> {
        self.analyses
            .entries
            .get(path)
            .filter(|e| e.hash == hash)
            .map(|e| e.analysis.clone())
    }

    /// Remembers an analysis (written by [`PlanCache::save`]).
    pub fn remember(&mut self, path: &Path, hash: &str, analysis: Analysis) {
        self.analyses.entries.insert(
            path.to_path_buf(),
            Entry {
                hash: hash.to_string(),
                analysis,
            },
        );
    }

    /// Writes the analyses and the plan under `key`.
    pub fn save(&mut self, key: &str, report: &PlanReport) -> Result<(), CacheError> {
        let dir = self.dir.clone();
        let error = |source| CacheError {
            dir: dir.clone(),
            source,
        };
        self.write_analyses().map_err(error)?;
        let plan = PlanFile {
            format: CACHE_FORMAT.to_string(),
            key: key.to_string(),
            report: report.clone(),
        };
        write_json(&self.dir, "plan.json", &plan).map_err(error)
    }

    /// Writes the analyses and forgets the last plan: for a plan that depends on more than the
    /// beams and the settings (a module whose debug info this machine cannot read now), which
    /// must be made again next time.
    pub fn save_analyses_only(&mut self) -> Result<(), CacheError> {
        let dir = self.dir.clone();
        let error = |source| CacheError {
            dir: dir.clone(),
            source,
        };
        self.write_analyses().map_err(error)?;
        match std::fs::remove_file(self.dir.join("plan.json")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(error(e)),
            _ => Ok(()),
        }
    }

    fn write_analyses(&mut self) -> std::io::Result<()> {
        claim(&self.dir)?;
        self.analyses.format = CACHE_FORMAT.to_string();
        self.analyses.entries.retain(|path, _| path.is_file());
        write_json(&self.dir, "analyses.json", &self.analyses)
    }
}

/// Creates the cache directory readable by its owner only (`store::private`), and narrows
/// `.elixir_scope/` above it: the recordings live there too.
pub(crate) fn claim(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir
        .parent()
        .filter(|p| p.file_name() == Some(".elixir_scope".as_ref()))
    {
        store::private::claim_dir(parent)?;
    }
    store::private::claim_dir(dir)
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let file = std::fs::File::open(path).ok()?;
    serde_json::from_reader(std::io::BufReader::new(file)).ok()
}

pub(crate) fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> std::io::Result<()> {
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)?;
    {
        let mut out = std::io::BufWriter::new(temp.as_file_mut());
        serde_json::to_writer(&mut out, value).map_err(std::io::Error::other)?;
        out.flush()?;
    }
    temp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PlanReport {
        PlanReport {
            strategy: "balanced".into(),
            apps: "project".into(),
            config: None,
            modules: Vec::new(),
        }
    }

    #[test]
    fn keeps_analyses_by_path_and_hash_and_the_last_plan_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let beam = dir.path().join("m.beam");
        std::fs::write(&beam, b"beam").unwrap();
        let gone = dir.path().join("gone.beam");
        let cache_dir = dir.path().join(".elixir_scope/plan");
        let mut cache = PlanCache::open(&cache_dir);
        let unavailable = Analysis::Unavailable { why: "none".into() };
        cache.remember(&beam, "h1", unavailable.clone());
        cache.remember(&gone, "h2", unavailable.clone());
        cache.save("k1", &report()).unwrap();

        let cache = PlanCache::open(&cache_dir);
        assert_eq!(cache.analysis(&beam, "h1"), Some(unavailable));
        assert_eq!(cache.analysis(&beam, "other"), None, "another hash misses");
        assert_eq!(
            cache.analysis(&gone, "h2"),
            None,
            "deleted beams are dropped"
        );
        assert_eq!(cache.plan("k1"), Some(report()));
        assert_eq!(cache.plan("k2"), None);

        std::fs::write(cache_dir.join("plan.json"), b"{not json").unwrap();
        assert_eq!(
            PlanCache::open(&cache_dir).plan("k1"),
            None,
            "garbage is a miss"
        );
    }

    #[test]
    fn a_plan_that_depends_on_the_machine_is_forgotten_its_analyses_kept() {
        let dir = tempfile::tempdir().unwrap();
        let beam = dir.path().join("m.beam");
        std::fs::write(&beam, b"beam").unwrap();
        let cache_dir = dir.path().join("plan");
        let mut cache = PlanCache::open(&cache_dir);
        let unavailable = Analysis::Unavailable { why: "none".into() };
        cache.remember(&beam, "h1", unavailable.clone());
        cache.save("k1", &report()).unwrap();
        cache.save_analyses_only().unwrap();
        let cache = PlanCache::open(&cache_dir);
        assert_eq!(cache.plan("k1"), None);
        assert_eq!(cache.analysis(&beam, "h1"), Some(unavailable));
    }
}
