//! Benchmarks of ElixirScope. The criterion benches are `[[bench]]` targets of this crate;
//! `cargo bench -p elixir-scope-benches` runs them.
