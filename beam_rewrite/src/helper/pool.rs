//! The helpers of one run, shared by its steps.
//!
//! Starting a helper is the slowest fixed cost of a run (booting `erl` and compiling the helper:
//! about 0.3 s of CPU). The planner's analysis and the rewriter both need helpers; with one
//! [`HelperPool`] for the whole run, a helper the analysis started serves the rewriter next, so
//! a run that changes one module boots one `erl`, not two in a row.
//!
//! A worker takes a helper through a [`Lease`]: the lease starts one (or takes an idle one)
//! when first needed, drops it when it failed in a way that leaves it unusable
//! ([`HelperError::is_fatal`]), and gives it back to the pool when the worker is done. The pool
//! stops its idle helpers, all at once, when it is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{Helper, HelperConfig, HelperError, Launcher};

/// Helpers for one run: started on first need, reused until the pool is dropped.
pub struct HelperPool {
    /// How helpers are started: given, or found on `PATH` on first need (an error is kept as
    /// text: it is reported to every request that needed a helper).
    launcher: OnceLock<Result<Launcher, String>>,
    /// The configuration to start helpers with when the launcher is made on first need
    /// (`None`: [`HelperConfig::discover`]).
    config: Option<HelperConfig>,
    /// Helpers no worker holds now.
    idle: Mutex<Vec<Helper>>,
    /// How many helpers were started.
    started: AtomicUsize,
}

impl HelperPool {
    /// A pool whose helpers `launcher` starts.
    pub fn new(launcher: Launcher) -> HelperPool {
        HelperPool {
            launcher: OnceLock::from(Ok(launcher)),
            config: None,
            idle: Mutex::new(Vec::new()),
            started: AtomicUsize::new(0),
        }
    }

    /// A pool that finds `erl` (or uses `config`) only when a helper is first needed, so that
    /// runs needing none work without Erlang installed.
    pub fn on_demand(config: Option<HelperConfig>) -> HelperPool {
        HelperPool {
            launcher: OnceLock::new(),
            config,
            idle: Mutex::new(Vec::new()),
            started: AtomicUsize::new(0),
        }
    }

    /// The launcher, made on first call for an on-demand pool.
    pub fn launcher(&self) -> Result<&Launcher, HelperError> {
        self.launcher
            .get_or_init(|| {
                let config = match &self.config {
                    Some(config) => Ok(config.clone()),
                    None => HelperConfig::discover(),
                };
                config.and_then(Launcher::new).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|why| HelperError::Refused(why.clone()))
    }

    /// How many helpers this pool started so far.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// An idle helper, or a new one.
    fn take(&self) -> Result<Helper, HelperError> {
        if let Some(helper) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(helper);
        }
        let helper = self.launcher()?.start()?;
        self.started.fetch_add(1, Ordering::Relaxed);
        Ok(helper)
    }

    fn give_back(&self, helper: Helper) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(helper);
        }
    }
}

impl std::fmt::Debug for HelperPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperPool")
            .field("launcher", &self.launcher.get())
            .field("started", &self.started())
            .finish_non_exhaustive()
    }
}

impl Drop for HelperPool {
    /// Stops the idle helpers side by side (each waits for its process to end).
    fn drop(&mut self) {
        let helpers = match self.idle.get_mut() {
            Ok(idle) => std::mem::take(idle),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        std::thread::scope(|scope| {
            for helper in helpers {
                scope.spawn(move || drop(helper));
            }
        });
    }
}

/// A worker's use of the pool: at most one helper, taken on first need, given back on drop.
pub struct Lease<'a> {
    pool: &'a HelperPool,
    helper: Option<Helper>,
}

impl<'a> Lease<'a> {
    /// A lease that holds no helper yet.
    pub fn new(pool: &'a HelperPool) -> Lease<'a> {
        Lease { pool, helper: None }
    }

    /// The pool's helper configuration (finding `erl` if not done yet).
    pub fn config(&self) -> Result<&'a HelperConfig, HelperError> {
        Ok(self.pool.launcher()?.config())
    }

    /// Runs `request` on this lease's helper (taking one first if needed); a helper that
    /// failed fatally is dropped, so the next request gets another.
    pub fn run<T>(
        &mut self,
        request: impl FnOnce(&mut Helper) -> Result<T, HelperError>,
    ) -> Result<T, HelperError> {
        let helper = match &mut self.helper {
            Some(helper) => helper,
            empty => empty.insert(self.pool.take()?),
        };
        let result = request(helper);
        if result.as_ref().is_err_and(HelperError::is_fatal) {
            self.helper = None;
        }
        result
    }
}

impl Lease<'_> {
    /// Stops this lease's helper instead of giving it back (after a bug of ours interrupted
    /// its work: the next request gets a fresh one).
    pub fn discard(&mut self) {
        self.helper = None;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(helper) = self.helper.take() {
            self.pool.give_back(helper);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn missing_erl() -> HelperConfig {
        HelperConfig {
            erl: PathBuf::from("/nonexistent/erl"),
            elixir_ebin: None,
            timeout: Duration::from_secs(5),
            backends: Vec::new(),
            compiled_cache: None,
        }
    }

    #[test]
    fn an_on_demand_pool_starts_nothing_until_asked() {
        let pool = HelperPool::on_demand(Some(missing_erl()));
        assert_eq!(pool.started(), 0);
        let mut lease = Lease::new(&pool);
        let error = lease.run(|helper| helper.check("m", b"")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/erl"), "{error}");
        assert_eq!(pool.started(), 0);
    }
}
