//! A run in speedscope's file format (<https://www.speedscope.app/file-format-schema.json>),
//! which <https://www.speedscope.app> and its command line open:
//!
//! - `shared.frames`: one frame per function, named `Mod.fun/arity` or `mod:fun/arity`
//!   (shared by every profile);
//! - one `evented` profile per BEAM process, named by its pid (`<0.150.0>`), in the order
//!   processes first recorded a call: an open event (`"type": "O"`) when a call starts and a
//!   close event (`"type": "C"`) when it ends, properly nested, with `at` in nanoseconds since
//!   the run started (`"unit": "nanoseconds"`); a call that never finished closes at its
//!   process's next call outside it, or its last event.
//!
//! The events come from `analysis::flame::evented` (held in memory until written: 16 bytes
//! an event, two per call); the file is written as it goes.

use std::io::{self, Write};

use analysis::flame::Evented;
use serde_json::json;
use store::Snapshot;

use crate::tree::pid_text;

/// What the export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Calls (open events).
    pub calls: u64,
    /// Profiles (processes).
    pub processes: u64,
}

/// Writes the events of `snap`'s run to `out`.
pub fn write(snap: &Snapshot, evented: &Evented, out: &mut impl Write) -> io::Result<Written> {
    let run = snap.run();
    let origin = run.info.monotonic_origin_ns;
    let frames: Vec<_> = evented
        .functions
        .iter()
        .map(|f| json!({ "name": f.text() }))
        .collect();
    write!(
        out,
        "{{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\
         \"exporter\":{},\"name\":{},\"activeProfileIndex\":0,\
         \"shared\":{{\"frames\":{}}},\"profiles\":[",
        json!(format!("elixir-scope {}", run.info.tool_version)),
        json!(format!("{} (run {})", run.info.node, run.id)),
        serde_json::Value::Array(frames)
    )?;
    let mut written = Written::default();
    for (i, p) in evented.processes.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            "\n{{\"type\":\"evented\",\"name\":{},\"unit\":\"nanoseconds\",\
             \"startValue\":{},\"endValue\":{},\"events\":[",
            json!(pid_text(snap, p.pid)),
            p.start.saturating_sub(origin),
            p.end.saturating_sub(origin)
        )?;
        for (j, e) in p.events.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write!(
                out,
                "{{\"type\":\"{}\",\"frame\":{},\"at\":{}}}",
                if e.open { "O" } else { "C" },
                e.function,
                e.at.saturating_sub(origin)
            )?;
            if e.open {
                written.calls += 1;
            }
        }
        out.write_all(b"]}")?;
        written.processes += 1;
    }
    out.write_all(b"\n]}\n")?;
    Ok(written)
}
