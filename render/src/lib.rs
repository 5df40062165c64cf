//! Recordings drawn for people and for other tools, the same way everywhere the CLI shows them
//! (and the way the IEx helpers draw them: `runtime_nif/elixir/elixir_scope/format.ex`, held
//! equal by a golden test):
//!
//! - [`call`]: one call on one line, `#12 Shop.Checkout.place(...) → {:ok, 3} (1.2ms)`;
//! - [`tree`]: a call tree with its folds, links and messages;
//! - [`table`]: listings of calls and runs;
//! - [`json`]: the same as JSON, for scripts;
//! - [`text`]: widths, counts, durations and clocks the others share;
//! - [`export`]: whole runs for Perfetto (Chrome trace events), speedscope and flame graphs.

pub mod call;
pub mod export;
pub mod json;
pub mod table;
pub mod text;
pub mod tree;
