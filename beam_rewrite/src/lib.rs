//! Rewrite compiled BEAM files: wrap the planned functions of a beam so that their calls are
//! recorded, keep every other chunk, and restore the originals (`elixir-scope instrument` and
//! `restore`). Malformed input is an error that names the file, never a panic.
//!
//! The file format is the `beam_format` crate's (the container, tables, debug info, guarded ETF
//! decoding, the marker of rewritten beams) and the plan the `beam_plan` crate's; callers use
//! both crates directly. The modules are private; what callers use is re-exported below:
//!
//! - `rewrite` – one file start to finish, many files in parallel ([`instrument_all`]),
//!   restoring originals ([`restore_file`]), one rewrite of a build at a time ([`BuildLock`]),
//!   files replaced atomically ([`Replacement`]).
//! - `patch` – wrapping functions in forms ([`patch_module`]): every call into the runtime from
//!   one table ([`contract`]), tail calls, what cannot be wrapped and why ([`WrapFacts`],
//!   [`SkipReason`]).
//! - `helper` – the BEAM helper processes ([`HelperPool`]): debug info to forms, compiling, the
//!   loader check, what structs hide from `Inspect`.
//! - `emit` – the rewritten beam: new code chunks, original metadata chunks, the marker.
//! - [`forms`] – Erlang abstract forms as ETF terms; public as a module, since the planner's
//!   analyzer reads forms with it too.

mod emit;
pub mod forms;
mod helper;
mod patch;
mod rewrite;

// Many files, one file restored, and what became of each.
pub use rewrite::batch::{instrument_all, BatchOptions};
pub use rewrite::{is_elixir_scope_module, restore_file, FileReport, Outcome, Totals};

// One rewrite of a build at a time, and files replaced atomically.
pub use rewrite::atomic::{Permissions, Replacement};
pub use rewrite::lock::{BuildLock, LockError};

// The BEAM helpers.
pub use helper::{
    FormsReply, Helper, HelperConfig, HelperError, HelperPool, Hidden, InspectPair, Launcher, Lease,
};

// Wrapping, and the rule the planner asks so that its plan and the rewrite agree.
pub use patch::contract;
pub use patch::options::{has_export_all, SKIP_LINT};
pub use patch::{patch_module, PatchError, Patched, SkipReason, WrapFacts};
