//! Exports of whole runs for other tools: [`chrome`], the Chrome trace event format that
//! Perfetto and chrome://tracing open.

pub mod chrome;
