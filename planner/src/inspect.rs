//! The struct fields a project's own code says must not be shown: those each struct's
//! `Inspect` implementation leaves out (`@derive {Inspect, except: [:password_hash]}` or
//! `only:`, or an implementation of its own that prints a placeholder).
//!
//! A struct `Elixir.MyApp.User` whose implementation `Elixir.Inspect.MyApp.User` is in the same
//! build is inspected by a BEAM helper with a distinct atom in every field (the helper's
//! `inspect_hidden`: both original modules loaded into it for a second, then unloaded); the
//! fields whose atom the text lacks are hidden. The runtime then records them as
//! `{'$elixir_scope_cut', redacted, field}`, in arguments, results, exceptions and stack traces.
//!
//! Why this way: the implementation is the authority on what it hides, whatever macro or Elixir
//! version generated it (the derived code differs between versions), and running it once per
//! build costs nothing at run time, where the NIF only looks up a table. What it cannot know
//! (an implementation that fails on such values, one that needs modules not loaded, a module
//! with an `on_load` function) is `unknown`: nothing is hidden by this rule for that struct,
//! `redact_keys` still applies.
//!
//! Results are cached in the plan cache (`inspect.json`) by the hashes of both original beams,
//! so an unchanged build starts no helper for this.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use beam_format::container::{self, Beam};
use beam_format::Marker;
use beam_rewrite::{HelperError, Hidden, InspectPair};
use config::RedactFields;
use serde::{Deserialize, Serialize};

use crate::cache::{claim, read_json, write_json, CACHE_FORMAT};

/// The prefix of `Inspect` implementations' module names.
const IMPLEMENTATION: &str = "Elixir.Inspect.";
/// The cache file, in the plan cache directory.
const CACHE_FILE: &str = "inspect.json";

/// A beam of the build: its path, module and original hash.
#[derive(Debug, Clone)]
pub struct BuildBeam {
    /// The file.
    pub path: PathBuf,
    /// Its module.
    pub module: String,
    /// Hex BLAKE3 of its original bytes.
    pub hash: String,
}

/// What was found, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HiddenFields {
    /// Fields to redact, by struct module (structs that hide nothing are left out).
    pub fields: RedactFields,
    /// Structs with an `Inspect` implementation in the build.
    pub structs: usize,
    /// Of those, the ones probed in a helper this run (the others came from the cache).
    pub probed: usize,
    /// Structs whose implementation could not be run on a probe value.
    pub unknown: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    format: String,
    /// `IMPLEMENTATION_HASH STRUCT_HASH` → the hidden fields, `None` for unknown.
    entries: BTreeMap<String, Option<Vec<String>>>,
}

/// The hidden fields of every struct of `beams` whose `Inspect` implementation is among them
/// too; `probe` asks a BEAM helper ([`beam_rewrite::Helper::inspect_hidden`]) about the
/// pairs the cache does not know, and is not called when it knows them all.
pub fn hidden_fields(
    beams: &[BuildBeam],
    cache_dir: Option<&Path>,
    probe: impl FnOnce(&[InspectPair]) -> Result<Vec<(String, Hidden)>, HelperError>,
) -> Result<HiddenFields, HelperError> {
    let by_module: BTreeMap<&str, &BuildBeam> =
        beams.iter().map(|b| (b.module.as_str(), b)).collect();
    let pairs: Vec<(&BuildBeam, &BuildBeam)> = beams
        .iter()
        .filter_map(|implementation| {
            let target = implementation.module.strip_prefix(IMPLEMENTATION)?;
            let structure = by_module.get(format!("Elixir.{target}").as_str())?;
            Some((*structure, implementation))
        })
        .collect();
    let cache_path = cache_dir.map(|d| d.join(CACHE_FILE));
    let mut cache = cache_path
        .as_deref()
        .and_then(read_json::<CacheFile>)
        .filter(|c| c.format == CACHE_FORMAT)
        .unwrap_or_default();
    let key = |s: &BuildBeam, i: &BuildBeam| format!("{} {}", i.hash, s.hash);
    let missing: Vec<(&BuildBeam, &BuildBeam)> = pairs
        .iter()
        .copied()
        .filter(|(s, i)| !cache.entries.contains_key(&key(s, i)))
        .collect();
    let mut found = HiddenFields {
        structs: pairs.len(),
        probed: missing.len(),
        ..HiddenFields::default()
    };
    if !missing.is_empty() {
        let mut request = Vec::with_capacity(missing.len());
        for (s, i) in &missing {
            request.push(InspectPair {
                structure: s.module.clone(),
                structure_beam: original_bytes(&s.path)?,
                implementation: i.module.clone(),
                implementation_beam: original_bytes(&i.path)?,
            });
        }
        let answers = probe(&request)?;
        for ((s, i), (_, fields)) in missing.iter().zip(answers) {
            cache.entries.insert(key(s, i), fields);
        }
        if let Some(dir) = cache_dir {
            cache.format = CACHE_FORMAT.to_string();
            let live: std::collections::BTreeSet<String> =
                pairs.iter().map(|(s, i)| key(s, i)).collect();
            cache.entries.retain(|k, _| live.contains(k));
            // A cache that cannot be written only costs a probe next time.
            let _ = claim(dir).and_then(|_| write_json(dir, CACHE_FILE, &cache));
        }
    }
    for (s, i) in &pairs {
        match cache.entries.get(&key(s, i)) {
            Some(Some(fields)) if !fields.is_empty() => {
                found.fields.insert(s.module.clone(), fields.clone());
            }
            Some(Some(_)) => {}
            _ => found.unknown.push(s.module.clone()),
        }
    }
    Ok(found)
}

/// A beam's original bytes (from its marker, when the rewriter changed it).
fn original_bytes(path: &Path) -> Result<Vec<u8>, HelperError> {
    let unreadable = |e: String| HelperError::Refused(format!("{}: {e}", path.display()));
    let bytes = container::read_file(path).map_err(|e| unreadable(e.to_string()))?;
    let beam = Beam::parse(&bytes).map_err(|e| unreadable(e.to_string()))?;
    match Marker::find(&beam).map_err(|e| unreadable(e.to_string()))? {
        Some(marker) => marker
            .original_bytes(&beam)
            .map_err(|e| unreadable(e.to_string())),
        None => Ok(bytes),
    }
}
