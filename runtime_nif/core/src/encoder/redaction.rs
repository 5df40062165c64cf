//! What is never stored, whatever the caps: values under keys whose names say they are
//! secret (`[capture] redact_keys`), and struct fields the struct's own `Inspect`
//! implementation leaves out (`@derive {Inspect, except: [...]}` or `only:`).
//!
//! Both are matched on names: a map key or a struct field (an atom or a binary), or the first
//! element of a pair `{Key, Value}` (keyword lists, proplists). Key names match when they
//! contain one of the `redact_keys`, ignoring ASCII case (`"Password"`, `:password_hash`,
//! `"api_key_id"`); struct fields match exactly. The value is then recorded as
//! `{'$elixir_scope_cut', redacted, key}` or `{'$elixir_scope_cut', redacted, field}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The key names redacted when `[capture] redact_keys` is not set: the setting's default
/// (`settings::REDACT_KEYS`).
pub const DEFAULT_KEYS: &[&str] = match settings::REDACT_KEYS.default {
    settings::DefaultValue::Names(names) => names,
    _ => &[],
};

/// The longest key text checked against the redacted names (atoms are at most 255 characters;
/// a longer binary key is data, not a name).
const LONGEST_KEY: usize = 255;

/// A name (an atom's or a binary key's text).
pub type Name = Box<[u8]>;

/// What the encoder redacts by name.
#[derive(Debug, Clone)]
pub struct Redaction {
    /// Lowercase key names: a key containing one of them is redacted.
    keys: Vec<Name>,
    /// Struct modules (atom text, `Elixir.MyApp.User`) to the fields their `Inspect` hides.
    structs: HashMap<Name, Box<[Name]>>,
    /// Distinguishes redactions, for caches of what was derived from one.
    id: u64,
}

impl PartialEq for Redaction {
    fn eq(&self, other: &Redaction) -> bool {
        self.keys == other.keys && self.structs == other.structs
    }
}

impl Default for Redaction {
    /// The [`DEFAULT_KEYS`], no struct fields.
    fn default() -> Redaction {
        Redaction::new(DEFAULT_KEYS.iter(), std::iter::empty::<(&str, Vec<&str>)>())
    }
}

impl Redaction {
    /// Redacts values under keys containing any of `keys` (ASCII case ignored) and the
    /// `fields` of each struct `module` (module names as atom texts, `Elixir.MyApp.User`).
    pub fn new<K, M, F>(
        keys: impl IntoIterator<Item = K>,
        structs: impl IntoIterator<Item = (M, F)>,
    ) -> Redaction
    where
        K: AsRef<[u8]>,
        M: AsRef<[u8]>,
        F: IntoIterator,
        F::Item: AsRef<[u8]>,
    {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Redaction {
            keys: keys
                .into_iter()
                .map(|k| k.as_ref().to_ascii_lowercase().into_boxed_slice())
                .filter(|k| !k.is_empty())
                .collect(),
            structs: structs
                .into_iter()
                .map(|(module, fields)| {
                    let fields = fields.into_iter().map(|f| Box::from(f.as_ref())).collect();
                    (Box::from(module.as_ref()), fields)
                })
                .collect(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Redacts nothing by name.
    pub fn none() -> Redaction {
        Redaction::new(
            std::iter::empty::<&str>(),
            std::iter::empty::<(&str, Vec<&str>)>(),
        )
    }

    /// This redaction with the struct fields of `structs` (see [`Redaction::new`]).
    pub fn with_structs<M, F>(self, structs: impl IntoIterator<Item = (M, F)>) -> Redaction
    where
        M: AsRef<[u8]>,
        F: IntoIterator,
        F::Item: AsRef<[u8]>,
    {
        let keys: Vec<Name> = self.keys;
        Redaction::new(keys, structs)
    }

    /// Whether values under a key named `name` are redacted.
    pub fn key_matches(&self, name: &[u8]) -> bool {
        if self.keys.is_empty() || name.len() > LONGEST_KEY {
            return false;
        }
        let mut lower = [0u8; LONGEST_KEY];
        let lower = &mut lower[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.keys
            .iter()
            .any(|key| key.len() <= lower.len() && lower.windows(key.len()).any(|w| w == &key[..]))
    }

    /// Whether some struct has fields to redact (else structs need no lookup).
    pub fn has_structs(&self) -> bool {
        !self.structs.is_empty()
    }

    /// The fields to redact in structs of `module` (its atom's text).
    pub fn struct_fields(&self, module: &[u8]) -> Option<&[Name]> {
        self.structs.get(module).map(|f| &f[..])
    }

    /// Distinguishes this redaction from any other made in this process (caches of atom
    /// properties are only valid for the redaction they were computed with).
    pub fn id(&self) -> u64 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_by_substring_ignoring_case() {
        let r = Redaction::default();
        for name in [
            "password",
            "Password",
            "password_hash",
            "API_KEY",
            "x-auth-token",
        ] {
            assert!(r.key_matches(name.as_bytes()), "{name}");
        }
        for name in ["pass", "name", "", "tok"] {
            assert!(!r.key_matches(name.as_bytes()), "{name}");
        }
        assert!(!Redaction::none().key_matches(b"password"));
        assert!(
            !r.key_matches("password".repeat(40).as_bytes()),
            "too long to be a name"
        );
    }

    #[test]
    fn the_default_keys_are_the_settings_default() {
        assert_eq!(DEFAULT_KEYS.len(), 5);
        assert!(Redaction::default().key_matches(b"api_key_id"));
    }

    #[test]
    fn struct_fields_are_per_module() {
        let r = Redaction::none().with_structs([("Elixir.User", vec!["password_hash"])]);
        assert!(r.has_structs());
        assert_eq!(r.struct_fields(b"Elixir.User").map(|f| f.len()), Some(1));
        assert_eq!(r.struct_fields(b"Elixir.Other"), None);
        assert_ne!(r.id(), Redaction::none().id());
        assert_eq!(Redaction::none(), Redaction::none());
    }
}
