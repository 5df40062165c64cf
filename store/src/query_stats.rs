//! Counts over one run: calls, exceptions, processes, and the most called functions.

use std::collections::HashMap;

use redb::{ReadableTable, ReadableTableMetadata};

use crate::error::{Context, Result};
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
    /// The run's counts: table lengths, so this costs the same at any size.
    pub fn counts(&self) -> Result<RunCounts> {
        const DURING: &str = "counting";
        let t = &self.tables;
        let calls = match self.table(t.calls())? {
            Some(table) => table.len().during(DURING)?,
            None => 0,
        };
        let exceptions = match self.table(t.exceptions())? {
            Some(table) => table.len().during(DURING)?,
            None => 0,
        };
        let processes = match self.table(t.processes())? {
            Some(table) => table.len().during(DURING)?,
            None => 0,
        };
        let tail_calls = match self.table(t.tail_calls())? {
            Some(table) => table.len().during(DURING)?,
            None => 0,
        };
        Ok(RunCounts {
            calls,
            exceptions,
            processes,
            tail_calls,
        })
    }

    /// The `top` most called functions, most calls first (ties by name). Reads the whole
    /// module/function index: linear in the run's calls, without decoding any call.
    pub fn top_functions(&self, top: usize) -> Result<Vec<FunctionCalls>> {
        const DURING: &str = "counting calls per function";
        let Some(by_mfa) = self.table(self.tables.by_mfa())? else {
            return Ok(Vec::new());
        };
        let mut counts: HashMap<u64, u64> = HashMap::new();
        let mut current = (u64::MAX, 0u64);
        for entry in by_mfa.iter().during(DURING)? {
            let (key, _) = entry.during(DURING)?;
            let mf = (key.value() >> 64) as u64;
            if mf == current.0 {
                current.1 += 1;
            } else {
                if current.1 > 0 {
                    *counts.entry(current.0).or_default() += current.1;
                }
                current = (mf, 1);
            }
        }
        if current.1 > 0 {
            *counts.entry(current.0).or_default() += current.1;
        }
        let mut named = Vec::with_capacity(counts.len());
        for (mf, calls) in counts {
            named.push(FunctionCalls {
                module: self.atom((mf >> 32) as u32)?,
                function: self.atom(mf as u32)?,
                calls,
            });
        }
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
