//! Why a setting's value is refused. The message says what was given and what is allowed; the
//! key travels beside it (the toml reader shows it with the line, `start/1` returns
//! `{error, {bad_setting, Key, Message}}`).

use std::fmt;

/// A refused value of the setting `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The setting, as the runtime names it.
    pub key: &'static str,
    /// The element of a list the error is about (0-based), if it is about one.
    pub element: Option<usize>,
    /// What is wrong.
    pub why: Why,
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The key is not a setting.
    Unknown,
    /// The value has the wrong type.
    Type {
        /// What the setting takes.
        expected: &'static str,
        /// What was given.
        found: String,
    },
    /// An integer outside the setting's bounds.
    OutOfRange {
        /// The value given.
        given: i128,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A word that is none of the choices.
    NotAChoice {
        /// The word given.
        given: String,
        /// The words allowed.
        choices: &'static [&'static str],
    },
    /// A text (path, name) that is empty or too long.
    Length {
        /// What the text is.
        what: &'static str,
        /// Its length in bytes.
        given: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A list with too many elements.
    TooMany {
        /// How many were given.
        given: usize,
        /// The most allowed.
        max: usize,
    },
    /// The memory settings together ask for more than the machine allows (see
    /// [`crate::memory`]).
    Memory {
        /// The value given.
        given: u64,
        /// The largest value that fits, with the other settings as they are.
        max: u64,
        /// The bytes the buffers would take.
        demand: u128,
        /// The most they may take on this machine.
        limit: u128,
        /// The machine's memory.
        machine: u64,
    },
}

impl SettingError {
    /// An error about the whole value of `key`.
    pub fn new(key: &'static str, why: Why) -> SettingError {
        SettingError {
            key,
            element: None,
            why,
        }
    }
}

/// `1073741824` as `1,073,741,824`.
pub fn grouped(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// Bytes in binary units: `32 MiB`, `1.5 GiB`, `700 B`.
pub fn bytes(n: u128) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Unknown => write!(f, "not a setting of the runtime"),
            Why::Type { expected, found } => write!(f, "expected {expected}, found {found}"),
            Why::OutOfRange { given, min, max } => write!(
                f,
                "{given} is out of range: expected {} to {}",
                grouped(*min),
                grouped(*max)
            ),
            Why::NotAChoice { given, choices } => {
                let choices: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
                write!(f, "`{given}` is not one of {}", choices.join(", "))
            }
            Why::Length { what, given, max } => {
                write!(f, "{what} of {given} bytes: expected 1 to {max} bytes")
            }
            Why::TooMany { given, max } => {
                write!(
                    f,
                    "{given} elements: expected at most {}",
                    grouped(*max as u64)
                )
            }
            Why::Memory {
                given,
                max,
                demand,
                limit,
                machine,
            } => write!(
                f,
                "{} does not fit this machine: at most {} fits with the other memory settings \
                 as they are (the runtime's buffers would take {}, more than the {} allowed: \
                 half of the machine's {})",
                grouped(*given),
                grouped(*max),
                bytes(*demand),
                bytes(*limit),
                bytes(u128::from(*machine))
            ),
        }
    }
}

impl fmt::Display for SettingError {
    /// The message without the key (whoever shows it names the key its own way).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.element {
            Some(i) => write!(f, "element {}: {}", i + 1, self.why),
            None => write!(f, "{}", self.why),
        }
    }
}

impl std::error::Error for SettingError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(1u64 << 30), "1,073,741,824");
        assert_eq!(grouped(999u64), "999");
        assert_eq!(grouped(-1000i64), "-1,000");
        assert_eq!(bytes(32 << 20), "32 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(700), "700 B");
    }
}
