//! Exports of whole runs for other tools: [`chrome`], the Chrome trace event format that
//! Perfetto and chrome://tracing open; flame graphs: [`speedscope`], speedscope's evented
//! profiles, and [`folded`], the folded stacks of inferno and flamegraph.pl.

pub mod chrome;
pub mod folded;
pub mod speedscope;
