//! Benchmarks of ElixirScope.
//!
//! - criterion benches are the `[[bench]]` targets of this crate: `cargo bench -p
//!   elixir-scope-benches` runs them;
//! - `runtime_overhead.sh` and `rewrite_vs_cover.sh` measure side by side against OTP's own
//!   `dbg` and `cover`, in one run each;
//! - `cargo run --release -p elixir-scope-benches --bin bench-all` reruns all of them and
//!   rewrites the summary table of BENCHMARKS.md.
//!
//! [`fixture`] builds the shop-like recording of 10 M calls that the benches of questions
//! asked of a run (profiles, patterns, searches) share.
pub mod fixture;
