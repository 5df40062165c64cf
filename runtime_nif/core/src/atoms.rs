//! The text of the atoms events refer to.
//!
//! Events carry atoms as keys (in the NIF, the atom's term word, stable for the VM's lifetime),
//! so the hot path never copies a module or function name. The first time a thread meets a key
//! it registers the text here (a mutex, once per atom per thread); a small per-thread cache of
//! registered keys makes every later meeting a couple of loads.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use store::{AtomKey, AtomNames};

const CACHE_SLOTS: usize = 512;

static NEXT_REGISTRY: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// Keys this thread registered: `(registry, key)` per slot.
    static KNOWN: [Cell<(u32, AtomKey)>; CACHE_SLOTS] =
        const { [const { Cell::new((0, 0)) }; CACHE_SLOTS] };
}

/// Atom keys and their text.
pub struct AtomRegistry {
    id: u32,
    names: Mutex<HashMap<AtomKey, String>>,
}

impl Default for AtomRegistry {
    fn default() -> Self {
        AtomRegistry {
            id: NEXT_REGISTRY.fetch_add(1, Ordering::Relaxed),
            names: Mutex::new(HashMap::new()),
        }
    }
}

impl AtomRegistry {
    /// Makes sure `key` is registered, calling `text` only when it is not.
    pub fn ensure(&self, key: AtomKey, text: impl FnOnce() -> Option<String>) {
        let slot = (key >> 6) as usize % CACHE_SLOTS;
        let cached = KNOWN.with(|known| known[slot].get() == (self.id, key));
        if cached {
            return;
        }
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(key) {
            if let Some(text) = text() {
                slot.insert(text);
            }
        }
        drop(names);
        KNOWN.with(|known| known[slot].set((self.id, key)));
    }
}

impl AtomNames for AtomRegistry {
    fn name(&self, key: AtomKey) -> Option<String> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        names.get(&key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_asked_for_once_per_key() {
        let registry = AtomRegistry::default();
        let mut asked = 0;
        for _ in 0..3 {
            registry.ensure(64, || {
                asked += 1;
                Some("lists".into())
            });
        }
        assert_eq!(asked, 1);
        assert_eq!(registry.name(64).as_deref(), Some("lists"));
        assert_eq!(registry.name(128), None);
    }

    #[test]
    fn registries_do_not_share_the_thread_cache() {
        let a = AtomRegistry::default();
        let b = AtomRegistry::default();
        a.ensure(64, || Some("a".into()));
        b.ensure(64, || Some("b".into()));
        assert_eq!(b.name(64).as_deref(), Some("b"));
    }
}
