//! Counts over one run: calls, exceptions, processes, and the most called functions.

use std::collections::HashMap;

use crate::error::Result;
use crate::query::Snapshot;

/// What a run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunCounts {
    /// Calls stored.
    pub calls: u64,
    /// Calls that raised.
    pub exceptions: u64,
    /// Processes that recorded calls.
    pub processes: u64,
    /// Tail calls stored with their arguments.
    pub tail_calls: u64,
}

/// How many calls a function of a run received (all arities together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCalls {
    /// The module.
    pub module: String,
    /// The function.
    pub function: String,
    /// How many calls.
    pub calls: u64,
}

impl Snapshot {
    /// The run's counts, from the block directory and the indexes' lengths: no block is
    /// decoded.
    pub fn counts(&self) -> Result<RunCounts> {
        Ok(RunCounts {
            calls: self.index.call_count(),
            exceptions: self.index.exception_count()?,
            processes: self.index.processes()?.len() as u64,
            tail_calls: self.index.tail_call_count()?,
        })
    }

    /// The `top` most called functions, most calls first (ties by name). Sums the function
    /// index's per-block counts: linear in the run's blocks, without decoding any.
    pub fn top_functions(&self, top: usize) -> Result<Vec<FunctionCalls>> {
        let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
        for ((module, function), calls) in self.index.function_totals()? {
            *counts.entry((module, function)).or_default() += calls;
        }
        let mut named: Vec<FunctionCalls> = counts
            .into_iter()
            .map(|((module, function), calls)| FunctionCalls {
                module: self.index.atom(module),
                function: self.index.atom(function),
                calls,
            })
            .collect();
        named.sort_by(|a, b| {
            b.calls
                .cmp(&a.calls)
                .then_with(|| a.module.cmp(&b.module))
                .then_with(|| a.function.cmp(&b.function))
        });
        named.truncate(top);
        Ok(named)
    }
}
