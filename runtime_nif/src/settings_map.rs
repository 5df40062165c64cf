//! The runtime's settings as an Erlang map gives them (`start/1`, the caps of a capture rule):
//! terms read into `settings::Given`, and the settings' key atoms.
//!
//! Which keys exist, their types, bounds and defaults are the `settings` crate's: this module
//! only reads terms, whatever the key.

use std::sync::OnceLock;

use runtime_core::encoder::{CapSlot, Caps};
use rustler::{Atom, Env, Term, TermType};
use settings::{Given, Setting, SettingError, Values, SETTINGS};

use crate::term::atom_text;

/// Deepest nesting read (no setting is nested more than three levels: a list of
/// `{Module, [Field]}`).
const MAX_DEPTH: u8 = 4;

/// Longest list read (longer ones are refused, not read).
const MAX_LIST: usize = 1 << 20;

/// The settings of [`SETTINGS`] with their key atoms, in its order.
fn settings_with_keys(env: Env<'_>) -> &'static [(&'static Setting, Atom)] {
    static KEYS: OnceLock<Vec<(&'static Setting, Atom)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        SETTINGS
            .iter()
            .filter_map(|s| Some((s, Atom::from_str(env, s.key).ok()?)))
            .collect()
    })
}

/// The key atoms of the settings, in [`SETTINGS`] order.
pub(crate) fn keys(env: Env<'_>) -> Vec<Atom> {
    settings_with_keys(env)
        .iter()
        .map(|(_, key)| *key)
        .collect()
}

/// The caps' key atoms, with where [`Caps`] keeps each.
fn cap_slots(env: Env<'_>) -> &'static [(Atom, CapSlot)] {
    static SLOTS: OnceLock<Vec<(Atom, CapSlot)>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        settings::caps()
            .filter_map(|s| Some((Atom::from_str(env, s.key).ok()?, Caps::slot(s.key)?)))
            .collect()
    })
}

/// The settings `map` sets, checked (each on its own, then the memory ones against this
/// machine). Keys that are no setting are left alone.
pub(crate) fn read(map: Term<'_>) -> Result<Values, SettingError> {
    let mut values = Values::default();
    for (setting, key) in settings_with_keys(map.get_env()) {
        if let Ok(term) = map.map_get(*key) {
            values.set(setting, &given(term, 0))?;
        }
    }
    values.check_machine(&settings::Machine::this())?;
    Ok(values)
}

/// `base` with the caps `map` sets (`max_nodes`, ...) replaced; `None` if one is not a
/// non-negative integer of 32 bits. The values are not checked: the caller clamps them.
pub(crate) fn caps_over(map: Term<'_>, base: &Caps) -> Option<Caps> {
    let mut caps = *base;
    for (key, slot) in cap_slots(map.get_env()) {
        if let Ok(value) = map.map_get(*key) {
            *slot(&mut caps) = value.decode().ok()?;
        }
    }
    Some(caps)
}

/// A term as a settings value: atoms (`true` and `false` as flags), integers, binaries and
/// character lists as text, lists, tuples, and maps as lists of pairs.
fn given(term: Term<'_>, depth: u8) -> Given {
    let other = |what: &str| Given::Other(what.to_string());
    if depth > MAX_DEPTH {
        return other("a term nested deeper than any setting");
    }
    match term.get_type() {
        TermType::Atom => match atom_text(term).as_deref() {
            Some("true") => Given::Flag(true),
            Some("false") => Given::Flag(false),
            Some(text) => Given::Atom(text.to_string()),
            None => other("an atom"),
        },
        TermType::Integer => match (term.decode::<i64>(), term.decode::<u64>()) {
            (Ok(n), _) => Given::Integer(n.into()),
            (_, Ok(n)) => Given::Integer(n.into()),
            _ => other("an integer beyond 64 bits"),
        },
        TermType::Binary => match term.decode::<rustler::Binary>() {
            Ok(binary) => match std::str::from_utf8(binary.as_slice()) {
                Ok(text) => Given::Text(text.to_string()),
                Err(_) => other("a binary that is not UTF-8 text"),
            },
            Err(_) => other("a bitstring"),
        },
        TermType::List => list(term, depth),
        TermType::Tuple => match rustler::types::tuple::get_tuple(term) {
            Ok(items) => Given::Tuple(items.into_iter().map(|t| given(t, depth + 1)).collect()),
            Err(_) => other("a tuple"),
        },
        TermType::Map => match rustler::types::map::MapIterator::new(term) {
            Some(pairs) => Given::List(
                pairs
                    .take(MAX_LIST + 1)
                    .map(|(k, v)| Given::Tuple(vec![given(k, depth + 2), given(v, depth + 2)]))
                    .collect(),
            ),
            None => other("a map"),
        },
        TermType::Float => other("a float"),
        TermType::Pid => other("a pid"),
        TermType::Port => other("a port"),
        TermType::Ref => other("a reference"),
        TermType::Fun => other("a fun"),
        _ => other("a term of another type"),
    }
}

/// A list: text when it is a non-empty list of Unicode code points (an Erlang string), else
/// its elements.
fn list(term: Term<'_>, depth: u8) -> Given {
    let Ok(items) = term.into_list_iterator() else {
        return Given::Other("an improper list".into());
    };
    let mut elements = Vec::new();
    for item in items {
        if elements.len() == MAX_LIST {
            return Given::Other(format!("a list of more than {MAX_LIST} elements"));
        }
        elements.push(given(item, depth + 1));
    }
    let text: Option<String> = elements
        .iter()
        .map(|e| match e {
            Given::Integer(n) => u32::try_from(*n).ok().and_then(char::from_u32),
            _ => None,
        })
        .collect();
    match text {
        Some(text) if !elements.is_empty() => Given::Text(text),
        _ => Given::List(elements),
    }
}
