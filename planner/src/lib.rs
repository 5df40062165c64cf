//! The planner: which functions of a build to wrap, and why.
//!
//! `elixir-scope plan` and `instrument` run it: the [`Orchestrator`] finds the beams of the
//! given paths and their applications, reads each beam's original abstract code, the
//! [`analyzer`] turns it into facts ([`ModuleFacts`]), the [`graph`] connects the modules'
//! calls, the [`strategy`] decides per function ([`Decision`], with a [`Reason`] for every
//! function), and the result is a [`beam_plan::Plan`] for the rewriter plus a
//! [`PlanReport`] for people. The [`cache`] keeps analyses and plans under the project's
//! `.elixir_scope/`, so a run over unchanged beams does no analysis at all.
//!
//! - [`source`] – a beam's original code: module, hash, abstract forms.
//! - [`facts`] – what the analyzer finds out (serializable, cached).
//! - [`analyzer`] – from abstract forms to facts: functions, calls, effects, behaviours.
//! - [`effects`] – the side effects a debugger cares about, by remote function.
//! - [`behaviours`] – known behaviours and their callbacks.
//! - [`graph`] – the project's call graph: recursion, callers, loops, purity.
//! - [`strategy`] – the strategies and patterns: a decision and reason per function.
//! - [`reason`] – why a function is or is not wrapped.
//! - [`report`] – the plan as people and `--json` see it.
//! - [`inspect`] – struct fields the structs' own `Inspect` implementations hide (redacted
//!   by the runtime).
//! - [`cache`] – the plan cache.
//! - [`orchestrator`] – runs it all over paths.

pub mod analyzer;
pub mod behaviours;
pub mod cache;
pub mod effects;
pub mod facts;
pub mod graph;
pub mod inspect;
pub mod orchestrator;
pub mod reason;
pub mod report;
pub mod source;
pub mod strategy;

#[cfg(test)]
mod test_support;

pub use facts::{Effect, FunctionFacts, ModuleFacts};
pub use orchestrator::{Orchestrator, OrchestratorError, RunStats};
pub use reason::{Decision, Reason};
pub use report::PlanReport;
