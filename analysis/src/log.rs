//! Retroactive logging: a line about each recorded call, from a format string with `#{...}`
//! placeholders, as if a log statement had been in the code when it ran
//! (`"#{id} #{mfa} #{args} -> #{result}"`). Values print in the style of the call's module
//! (Elixir's `inspect`, Erlang's `~p`) with the capture's cuts and redactions marked.
//!
//! | placeholder | what |
//! |---|---|
//! | `id`, `parent` | the call's id, its caller's (empty for none) |
//! | `pid` | its process, `#PID<0.1.0>` / `<0.1.0>` |
//! | `mfa`, `module`, `function`, `arity` | what was called |
//! | `args` | the arguments, comma-separated |
//! | `result` | the value returned, or the exception's banner (`** (ArgumentError) ...`) |
//! | `outcome` | `return`, `error`, `exit`, `throw` or `running` |
//! | `duration` | how long it ran, in microseconds (empty while running) |
//! | `start` | when it started, as microseconds since the run began |

use store::{Call, Outcome};
use term::Style;

use crate::pattern::PatternError;

/// A parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// What a placeholder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Parent,
    Pid,
    Mfa,
    Module,
    Function,
    Arity,
    Args,
    Result,
    Outcome,
    Duration,
    Start,
}

const FIELDS: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("parent", Field::Parent),
    ("pid", Field::Pid),
    ("mfa", Field::Mfa),
    ("module", Field::Module),
    ("function", Field::Function),
    ("arity", Field::Arity),
    ("args", Field::Args),
    ("result", Field::Result),
    ("outcome", Field::Outcome),
    ("duration", Field::Duration),
    ("start", Field::Start),
];

/// The format when none is given.
pub const DEFAULT_FORMAT: &str = "#{id} #{pid} #{mfa}(#{args}) -> #{result}";

impl LogFormat {
    /// Parses a format string; an unknown placeholder or an unclosed `#{` is an error at its
    /// column. `\n` and `\t` stand for a newline and a tab.
    pub fn parse(text: &str) -> Result<LogFormat, PatternError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut column = 1;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("#{") {
                let Some(close) = after.find('}') else {
                    return Err(PatternError::new(
                        text,
                        column,
                        "this `#{` is never closed".to_owned(),
                    ));
                };
                let name = after[..close].trim();
                let Some((_, field)) = FIELDS.iter().find(|(n, _)| *n == name) else {
                    let known: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
                    return Err(PatternError::new(
                        text,
                        column + 2,
                        format!("unknown placeholder `{name}` (known: {})", known.join(", ")),
                    ));
                };
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field(*field));
                column += after[..close].chars().count() + 3;
                rest = &after[close + 1..];
                continue;
            }
            if let Some(after) = rest.strip_prefix("\\n") {
                literal.push('\n');
                rest = after;
                column += 2;
                continue;
            }
            if let Some(after) = rest.strip_prefix("\\t") {
                literal.push('\t');
                rest = after;
                column += 2;
                continue;
            }
            let c = rest.chars().next().unwrap_or_default();
            literal.push(c);
            rest = &rest[c.len_utf8()..];
            column += 1;
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(LogFormat { parts })
    }

    /// The line about `call`, whose process prints as `pid` (`<0.1.0>`) and whose run began
    /// at monotonic time `run_start` (ns).
    pub fn line(&self, call: &Call, pid: &str, run_start: u64) -> String {
        let style = Style::of_module(&call.module);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(&field(*f, call, pid, run_start, style)),
            }
        }
        out
    }
}

fn field(f: Field, call: &Call, pid: &str, run_start: u64, style: Style) -> String {
    match f {
        Field::Id => call.id.to_string(),
        Field::Parent => call.parent.map(|p| p.to_string()).unwrap_or_default(),
        Field::Pid => style.pid_text(pid),
        Field::Mfa => style.mfa(&call.module, &call.function, call.arity),
        Field::Module => style.module(&call.module),
        Field::Function => style.function(&call.function),
        Field::Arity => call.arity.to_string(),
        Field::Args => args(&call.args, style),
        Field::Result => match &call.end {
            None => "(running)".to_owned(),
            Some(end) => match end.outcome {
                Outcome::Return => term::value(&end.value, style),
                Outcome::Exception(class) => match term::decode(&end.value) {
                    Ok(eetf::Term::Tuple(t)) if t.elements.len() == 2 => {
                        format!("** {}", term::banner(&t.elements[0], class.as_str(), style))
                    }
                    _ => format!("** ({}) {}", class.as_str(), term::value(&end.value, style)),
                },
            },
        },
        Field::Outcome => match &call.end {
            None => "running".to_owned(),
            Some(end) => match end.outcome {
                Outcome::Return => "return".to_owned(),
                Outcome::Exception(class) => class.as_str().to_owned(),
            },
        },
        Field::Duration => call
            .duration_ns()
            .map(|ns| format!("{:.1}", ns as f64 / 1000.0))
            .unwrap_or_default(),
        Field::Start => format!(
            "{:.1}",
            call.start.saturating_sub(run_start) as f64 / 1000.0
        ),
    }
}

/// The arguments without their list's brackets.
fn args(bytes: &[u8], style: Style) -> String {
    match term::decode(bytes) {
        Ok(list) => term::argument_texts(&list, style).join(style.comma()),
        Err(e) => format!("<undecodable: {e}>"),
    }
}
