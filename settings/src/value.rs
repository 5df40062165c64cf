//! Values: as given (from a toml file or an Erlang term), checked against their setting, and a
//! set of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{SettingError, Why};
use crate::setting::{DefaultValue, Kind, Setting};
use crate::table::SETTINGS;

/// A value as its source gives it, before it is checked: the common shape of a toml value
/// and of an Erlang term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// An integer.
    Integer(i128),
    /// A string (toml), a binary or a character list (Erlang).
    Text(String),
    /// An atom other than `true` and `false`.
    Atom(String),
    /// A boolean (toml), `true` or `false` (Erlang).
    Flag(bool),
    /// A list (an array in toml).
    List(Vec<Given>),
    /// A tuple (Erlang; a map's pairs are given as 2-tuples).
    Tuple(Vec<Given>),
    /// Anything else, described (`a float`, `a pid`).
    Other(String),
}

impl Given {
    /// What the value is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Given::Integer(n) => format!("the integer {n}"),
            Given::Text(text) => format!("the text {text:?}"),
            Given::Atom(atom) => format!("the atom {atom}"),
            Given::Flag(flag) => format!("{flag}"),
            Given::List(_) => "a list".into(),
            Given::Tuple(_) => "a tuple".into(),
            Given::Other(what) => what.clone(),
        }
    }

    /// The text of a name: a string or an atom.
    fn name(&self) -> Option<&str> {
        match self {
            Given::Text(text) | Given::Atom(text) => Some(text),
            _ => None,
        }
    }
}

/// A checked value: within its setting's type and bounds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// An integer within the bounds.
    Integer(u64),
    /// One of the choices.
    Choice(&'static str),
    /// A flag.
    Flag(bool),
    /// A path.
    Path(PathBuf),
    /// Names, trimmed.
    Names(Vec<String>),
    /// Struct fields by struct module.
    StructFields(Vec<(String, Vec<String>)>),
}

impl Value {
    /// `given` as a value of `setting`, or why it is not one.
    pub fn check(setting: &'static Setting, given: &Given) -> Result<Value, SettingError> {
        let refuse = |why| Err(SettingError::new(setting.key, why));
        let wrong_type = |expected| {
            refuse(Why::Type {
                expected,
                found: given.describe(),
            })
        };
        match setting.kind {
            Kind::Integer { min, max, .. } => match given {
                Given::Integer(n) if i128::from(min) <= *n && *n <= i128::from(max) => {
                    Ok(Value::Integer(*n as u64))
                }
                Given::Integer(n) => refuse(Why::OutOfRange {
                    given: *n,
                    min,
                    max,
                }),
                _ => wrong_type("an integer"),
            },
            Kind::Choice(choices) => match given.name() {
                Some(word) => match choices.iter().find(|c| **c == word) {
                    Some(choice) => Ok(Value::Choice(choice)),
                    None => refuse(Why::NotAChoice {
                        given: word.to_string(),
                        choices,
                    }),
                },
                None => wrong_type("one of the words the setting takes"),
            },
            Kind::Flag => match given {
                Given::Flag(flag) => Ok(Value::Flag(*flag)),
                _ => wrong_type("true or false"),
            },
            Kind::Path => match given {
                Given::Text(text) if (1..=Kind::MAX_PATH).contains(&text.len()) => {
                    Ok(Value::Path(PathBuf::from(text)))
                }
                Given::Text(text) => refuse(Why::Length {
                    what: "a path",
                    given: text.len(),
                    max: Kind::MAX_PATH,
                }),
                _ => wrong_type("a path (a string)"),
            },
            Kind::Names { max } => {
                let items = list(setting, given, max, "a list of names")?;
                let names = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| name(setting, item).map_err(|e| at(e, i)))
                    .collect::<Result<_, _>>()?;
                Ok(Value::Names(names))
            }
            Kind::StructFields { max } => {
                let items = list(setting, given, max, "a list of {StructModule, [Field]}")?;
                let structs = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| struct_fields(setting, item).map_err(|e| at(e, i)))
                    .collect::<Result<_, _>>()?;
                Ok(Value::StructFields(structs))
            }
        }
    }
}

/// The most fields named for one struct.
const MAX_FIELDS: usize = 1024;

/// `{StructModule, [Field]}`.
fn struct_fields(
    setting: &'static Setting,
    given: &Given,
) -> Result<(String, Vec<String>), SettingError> {
    let (module, fields) = match given {
        Given::Tuple(pair) if pair.len() == 2 => (&pair[0], &pair[1]),
        other => {
            return Err(SettingError::new(
                setting.key,
                Why::Type {
                    expected: "{StructModule, [Field]}",
                    found: other.describe(),
                },
            ))
        }
    };
    let fields = list(setting, fields, MAX_FIELDS, "a list of field names")?
        .iter()
        .map(|field| name(setting, field))
        .collect::<Result<_, _>>()?;
    Ok((name(setting, module)?, fields))
}

/// The error about element `i` of a list.
fn at(error: SettingError, i: usize) -> SettingError {
    SettingError {
        element: Some(i),
        ..error
    }
}

/// The elements of a list of at most `max`.
fn list<'g>(
    setting: &'static Setting,
    given: &'g Given,
    max: usize,
    expected: &'static str,
) -> Result<&'g [Given], SettingError> {
    match given {
        Given::List(items) if items.len() <= max => Ok(items),
        Given::List(items) => Err(SettingError::new(
            setting.key,
            Why::TooMany {
                given: items.len(),
                max,
            },
        )),
        other => Err(SettingError::new(
            setting.key,
            Why::Type {
                expected,
                found: other.describe(),
            },
        )),
    }
}

/// A name: a string or an atom of 1 to 255 bytes once trimmed.
fn name(setting: &'static Setting, given: &Given) -> Result<String, SettingError> {
    let Some(text) = given.name() else {
        return Err(SettingError::new(
            setting.key,
            Why::Type {
                expected: "a name (a string or an atom)",
                found: given.describe(),
            },
        ));
    };
    let text = text.trim();
    if (1..=Kind::MAX_NAME).contains(&text.len()) {
        Ok(text.to_string())
    } else {
        Err(SettingError::new(
            setting.key,
            Why::Length {
                what: "a name",
                given: text.len(),
                max: Kind::MAX_NAME,
            },
        ))
    }
}

/// The position of `setting` in [`SETTINGS`].
fn index(setting: &Setting) -> Option<usize> {
    SETTINGS.iter().position(|s| s.key == setting.key)
}

/// Checked values of some settings (the others keep their defaults), in [`SETTINGS`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Values {
    set: BTreeMap<usize, Value>,
}

impl Values {
    /// Checks `given` and sets it as the value of `setting`.
    pub fn set(&mut self, setting: &'static Setting, given: &Given) -> Result<(), SettingError> {
        let at = index(setting).ok_or_else(|| SettingError::new(setting.key, Why::Unknown))?;
        self.set.insert(at, Value::check(setting, given)?);
        Ok(())
    }

    /// Sets a value without checking it (for what-if computations).
    pub(crate) fn force(&mut self, setting: &Setting, value: Value) {
        if let Some(at) = index(setting) {
            self.set.insert(at, value);
        }
    }

    /// Relative paths taken from `base` (a file's paths are relative to its directory).
    pub fn rebase_paths(&mut self, base: &Path) {
        for value in self.set.values_mut() {
            if let Value::Path(path) = value {
                *path = base.join(&*path);
            }
        }
    }

    /// The value set for `setting`, if any.
    pub fn get(&self, setting: &Setting) -> Option<&Value> {
        self.set.get(&index(setting)?)
    }

    /// The settings that are set, with their values, in [`SETTINGS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Setting, &Value)> + '_ {
        self.set.iter().map(|(i, value)| (&SETTINGS[*i], value))
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The integer set for `setting`, if any.
    pub fn given_integer(&self, setting: &Setting) -> Option<u64> {
        match self.get(setting)? {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The integer of `setting`: set, else its default.
    pub fn integer(&self, setting: &Setting) -> u64 {
        self.given_integer(setting)
            .unwrap_or_else(|| setting.default_integer())
    }

    /// The choice of `setting`: set, else its default (`""` for a setting that is no choice).
    pub fn choice(&self, setting: &Setting) -> &'static str {
        match (self.get(setting), setting.default) {
            (Some(&Value::Choice(choice)), _) | (_, DefaultValue::Choice(choice)) => choice,
            _ => "",
        }
    }

    /// The flag of `setting`: set, else its default.
    pub fn flag(&self, setting: &Setting) -> bool {
        match (self.get(setting), setting.default) {
            (Some(&Value::Flag(flag)), _) | (_, DefaultValue::Flag(flag)) => flag,
            _ => false,
        }
    }

    /// The path set for `setting`, if any.
    pub fn path(&self, setting: &Setting) -> Option<&Path> {
        match self.get(setting)? {
            Value::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The names set for `setting`, if any.
    pub fn names(&self, setting: &Setting) -> Option<&[String]> {
        match self.get(setting)? {
            Value::Names(names) => Some(names),
            _ => None,
        }
    }

    /// The struct fields set for `setting` (none when unset).
    pub fn struct_fields(&self, setting: &Setting) -> &[(String, Vec<String>)] {
        match self.get(setting) {
            Some(Value::StructFields(structs)) => structs,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::*;

    fn text(s: &str) -> Given {
        Given::Text(s.into())
    }

    #[test]
    fn values_are_checked_against_their_setting() {
        let mut values = Values::default();
        values.set(&RING_CAPACITY, &Given::Integer(4096)).unwrap();
        values
            .set(&DROP_POLICY, &Given::Atom("drop_oldest".into()))
            .unwrap();
        values.set(&OVERFLOW, &text("block")).unwrap();
        values.set(&PAUSED, &Given::Flag(true)).unwrap();
        values
            .set(
                &REDACT_KEYS,
                &Given::List(vec![text(" pin "), Given::Atom("cvv".into())]),
            )
            .unwrap();
        assert_eq!(values.integer(&RING_CAPACITY), 4096);
        assert_eq!(values.integer(&RING_BYTES), 32 << 20, "the default");
        assert_eq!(values.given_integer(&RING_BYTES), None);
        assert_eq!(values.choice(&DROP_POLICY), "drop_oldest");
        assert_eq!(values.choice(&OVERFLOW), "block");
        assert!(values.flag(&PAUSED));
        assert_eq!(values.names(&REDACT_KEYS).unwrap(), ["pin", "cvv"]);
        let keys: Vec<&str> = values.iter().map(|(s, _)| s.key).collect();
        assert_eq!(
            keys,
            [
                "drop_policy",
                "overflow",
                "ring_capacity",
                "paused",
                "redact_keys"
            ],
            "in table order"
        );

        let refused = |setting: &'static Setting, given: Given| {
            Values::default().set(setting, &given).unwrap_err()
        };
        let e = refused(&RING_CAPACITY, Given::Integer(1 << 40));
        assert_eq!(e.key, "ring_capacity");
        assert_eq!(
            e.to_string(),
            "1099511627776 is out of range: expected 1 to 1,073,741,824"
        );
        assert!(matches!(
            refused(&SHARDS, Given::Integer(100_000)).why,
            Why::OutOfRange { max: 1024, .. }
        ));
        assert!(matches!(
            refused(&RETENTION_BYTES, Given::Integer(0)).why,
            Why::OutOfRange { min: 1048576, .. }
        ));
        assert_eq!(
            refused(&RING_BYTES, Given::Integer(-5)).to_string(),
            "-5 is out of range: expected 1 to 1,099,511,627,776"
        );
        assert_eq!(
            refused(&DROP_POLICY, text("drop_all")).to_string(),
            "`drop_all` is not one of `drop_newest`, `drop_oldest`"
        );
        assert_eq!(
            refused(&PAUSED, Given::Atom("yes".into())).to_string(),
            "expected true or false, found the atom yes"
        );
        assert_eq!(
            refused(&MAX_NODES, Given::Other("a float".into())).to_string(),
            "expected an integer, found a float"
        );
        let e = refused(&REDACT_KEYS, Given::List(vec![text("pin"), text("  ")]));
        assert_eq!(e.element, Some(1));
        assert_eq!(
            e.to_string(),
            "element 2: a name of 0 bytes: expected 1 to 255 bytes"
        );
        assert!(matches!(
            refused(&DB_PATH, text("")).why,
            Why::Length { .. }
        ));
        let fields = Given::List(vec![Given::Tuple(vec![
            Given::Atom("Elixir.User".into()),
            Given::List(vec![Given::Atom("password_hash".into())]),
        ])]);
        let mut values = Values::default();
        values.set(&REDACT_FIELDS, &fields).unwrap();
        assert_eq!(
            values.struct_fields(&REDACT_FIELDS),
            [("Elixir.User".to_string(), vec!["password_hash".to_string()])]
        );
        let e = refused(&REDACT_FIELDS, Given::List(vec![Given::Atom("x".into())]));
        assert_eq!(e.element, Some(0));
    }

    #[test]
    fn relative_paths_are_taken_from_a_base() {
        let mut values = Values::default();
        values.set(&DB_PATH, &text("traces")).unwrap();
        values.rebase_paths(Path::new("/project"));
        assert_eq!(values.path(&DB_PATH), Some(Path::new("/project/traces")));
        values.set(&DB_PATH, &text("/abs")).unwrap();
        values.rebase_paths(Path::new("/project"));
        assert_eq!(values.path(&DB_PATH), Some(Path::new("/abs")));
    }
}
