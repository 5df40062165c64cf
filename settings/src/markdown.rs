//! The README's table of the runtime's settings, from [`SETTINGS`].
//!
//! README.md holds the table between [`BEGIN`] and [`END`]; `tests/readme.rs` fails when it is
//! not [`table`], and rewrites it when run with `UPDATE_README=1`.

use crate::error::{bytes, grouped};
use crate::memory::formula;
use crate::setting::{DefaultValue, Kind, Setting, Unit};
use crate::table::SETTINGS;
use crate::value::Values;

/// The line before the table in README.md.
pub const BEGIN: &str = "<!-- The runtime's settings: generated from settings/src/table.rs \
                         (UPDATE_README=1 cargo test -p elixir_scope_settings) -->";
/// The line after it.
pub const END: &str = "<!-- End of the runtime's settings -->";

/// The table, in markdown, with the note on memory under it.
pub fn table() -> String {
    let mut out = String::from("| key | default | allowed | meaning |\n|---|---|---|---|\n");
    for setting in SETTINGS {
        let key = match setting.section.table() {
            Some(_) => format!("`{}`", setting.toml_key()),
            None => format!(
                "`{}` (installed by `instrument`, not in the file)",
                setting.key
            ),
        };
        out.push_str(&format!(
            "| {key} | {} | {} | {} |\n",
            default(setting),
            allowed(setting),
            setting.doc
        ));
    }
    out.push_str(&format!(
        "\nSettings marked \u{2020} size the runtime's buffers: together, `{}` bytes may \
         take at most half of the machine's memory (its cgroup's limit, when lower), or what the \
         defaults take ({}) when that is more.\n",
        formula(),
        bytes(Values::default().demand())
    ));
    out
}

/// README's text with the table between [`BEGIN`] and [`END`] replaced by [`table`]; `None`
/// when the markers are missing.
pub fn updated(readme: &str) -> Option<String> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = start + readme[start..].find(END)?;
    Some(format!(
        "{}\n{}{}",
        &readme[..start],
        table(),
        &readme[end..]
    ))
}

fn default(setting: &Setting) -> String {
    match (setting.default, setting.kind) {
        (
            DefaultValue::Integer(n),
            Kind::Integer {
                unit: Unit::Bytes, ..
            },
        ) if n >= 1024 => {
            format!("`{n}` ({})", bytes(u128::from(n)))
        }
        (DefaultValue::Integer(n), _) => format!("`{n}`"),
        (DefaultValue::Choice(choice), _) => format!("`{choice}`"),
        (DefaultValue::Flag(flag), _) => format!("`{flag}`"),
        (DefaultValue::Names(names), _) => {
            let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            format!("`[{}]`", names.join(", "))
        }
        (DefaultValue::Empty, _) => "none".into(),
        (DefaultValue::Computed(how), _) => how.into(),
    }
}

fn allowed(setting: &Setting) -> String {
    let text = match setting.kind {
        Kind::Integer {
            min,
            max,
            unit: Unit::Bytes,
        } => format!("{} to {}", bytes(u128::from(min)), bytes(u128::from(max))),
        Kind::Integer { min, max, .. } => format!("{} to {}", grouped(min), grouped(max)),
        Kind::Choice(choices) => {
            let choices: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
            choices.join(", ")
        }
        Kind::Flag => "`true`, `false`".into(),
        Kind::Path => format!("a path of 1 to {} bytes", grouped(Kind::MAX_PATH as u64)),
        Kind::Names { max } => format!(
            "at most {} names of 1 to {} bytes",
            grouped(max as u64),
            Kind::MAX_NAME
        ),
        Kind::StructFields { max } => format!("at most {} structs", grouped(max as u64)),
    };
    if setting.memory {
        format!("{text} \u{2020}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_well() {
        let table = table();
        assert!(
            table.contains(
                "| `runtime.ring_bytes` | `33554432` (32 MiB) | 1 B to 1 TiB \u{2020} | ring budget"
            ),
            "{table}"
        );
        assert!(table.contains("| `capture.max_nodes` | `32` | 1 to 100,000 |"));
        assert!(table.contains("| `runtime.overflow` | `block` | `block`, `drop` |"));
        assert_eq!(
            updated(&format!("a\n{BEGIN}\nold\n{END}\nb")),
            Some(format!("a\n{BEGIN}\n{table}{END}\nb"))
        );
        assert_eq!(updated("no markers"), None);
    }
}
