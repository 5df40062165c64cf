//! A run's stacks in the folded format that inferno (`inferno-flamegraph`) and Brendan Gregg's
//! `flamegraph.pl` read: one line per distinct stack, root function first, frames separated by
//! `;`, then a space and the **nanoseconds of own time** spent with exactly that stack, summed
//! over the run's processes (`Shop.Web.handle/2;Shop.Repo.get/2 48200`). Stacks without own
//! time are left out; the tools sum and sort lines themselves. Frames are named
//! `Mod.fun/arity` or `mod:fun/arity`; a `;` inside a name (a quoted atom) becomes `:`.
//! The stacks come from `analysis::flame::folded`.

use std::io::{self, Write};

use analysis::flame::Folded;

/// What the export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Lines (distinct stacks with own time).
    pub stacks: u64,
    /// Calls those stacks hold.
    pub calls: u64,
}

/// Writes the stacks to `out`.
pub fn write(folded: &Folded, out: &mut impl Write) -> io::Result<Written> {
    let names: Vec<String> = folded
        .functions
        .iter()
        .map(|f| f.text().replace(';', ":"))
        .collect();
    let mut written = Written {
        calls: folded.nodes.iter().map(|n| n.calls).sum(),
        ..Written::default()
    };
    let mut line = String::new();
    for (path, own) in folded.lines() {
        line.clear();
        for (i, function) in path.iter().enumerate() {
            if i > 0 {
                line.push(';');
            }
            line.push_str(&names[*function as usize]);
        }
        writeln!(out, "{line} {own}")?;
        written.stacks += 1;
    }
    Ok(written)
}
