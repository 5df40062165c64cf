//! Per-thread working memory of the encoder: the output buffer, and what it learnt about atoms.
//!
//! A capture writes into [`Scratch::out`], which keeps its capacity from one capture to the
//! next (no allocation, and a byte is written with a store), then the caller copies the
//! bytes where they go. Atoms are frequent (map keys, tags, module names) and reading an
//! atom's text from the VM costs a call that copies it; [`AtomCache`] keeps, per atom
//! identity ([`super::TermView::atom_id`]), its encoded form and whether its name is redacted,
//! in 512 direct-mapped slots (32 KiB).

/// The flag of an atom whose name a [`super::Redaction`] redacts as a key.
pub(crate) const REDACTED_KEY: u8 = 1;
/// The flag of the atom `__struct__`.
pub(crate) const STRUCT_KEY: u8 = 2;

const SLOTS: usize = 512;
/// Encoded atoms up to this size are cached (text up to 54 bytes); a slot is 64 bytes.
const SLOT_BYTES: usize = 56;

/// The encoder's working memory; one per thread.
pub struct Scratch {
    pub(crate) out: Vec<u8>,
    pub(crate) atoms: AtomCache,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

impl Scratch {
    /// Empty working memory, with room for a capture of the default size.
    pub fn new() -> Scratch {
        Scratch {
            out: Vec::with_capacity(4096),
            atoms: AtomCache::new(),
        }
    }

    /// The bytes of the last capture.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }
}

#[derive(Clone, Copy)]
struct Slot {
    id: u64,
    len: u8,
    flags: u8,
    etf: [u8; SLOT_BYTES],
}

const EMPTY: Slot = Slot {
    id: 0,
    len: 0,
    flags: 0,
    etf: [0; SLOT_BYTES],
};

/// Encoded atoms and their flags, by atom identity, valid for one redaction.
pub(crate) struct AtomCache {
    redaction: u64,
    slots: Box<[Slot]>,
}

impl AtomCache {
    fn new() -> AtomCache {
        AtomCache {
            redaction: 0,
            slots: vec![EMPTY; SLOTS].into_boxed_slice(),
        }
    }

    /// Forgets everything when the flags were computed for another redaction.
    pub(crate) fn use_redaction(&mut self, redaction: u64) {
        if self.redaction != redaction {
            self.slots.fill(EMPTY);
            self.redaction = redaction;
        }
    }

    #[inline]
    fn index(id: u64) -> usize {
        // VM atom words are `index << 6 | tag`: the index's low bits spread best.
        ((id >> 6) ^ id) as usize % SLOTS
    }

    /// Appends the encoded atom to `out` and returns its flags, if cached. The slot's whole
    /// buffer is copied (a fixed-size copy, no call) and the length set after.
    #[inline]
    pub(crate) fn put(&self, id: u64, out: &mut Vec<u8>) -> Option<u8> {
        let slot = &self.slots[AtomCache::index(id)];
        if slot.id != id || id == 0 {
            return None;
        }
        out.reserve(SLOT_BYTES);
        let at = out.len();
        // SAFETY: `reserve` made room for SLOT_BYTES more bytes past `at`; only the first
        // `slot.len` of them (written here from the slot) become part of the vector.
        unsafe {
            std::ptr::copy_nonoverlapping(slot.etf.as_ptr(), out.as_mut_ptr().add(at), SLOT_BYTES);
            out.set_len(at + slot.len as usize);
        }
        Some(slot.flags)
    }

    /// The flags of an atom, if cached.
    #[inline]
    pub(crate) fn flags(&self, id: u64) -> Option<u8> {
        self.slot(id).map(|slot| slot.flags)
    }

    /// The encoded form of an atom, if cached.
    pub(crate) fn encoded(&self, id: u64) -> Option<&[u8]> {
        self.slot(id).map(|slot| &slot.etf[..slot.len as usize])
    }

    #[inline]
    fn slot(&self, id: u64) -> Option<&Slot> {
        let slot = &self.slots[AtomCache::index(id)];
        (slot.id == id && id != 0).then_some(slot)
    }

    /// Remembers an encoded atom (if it is short enough) and its flags.
    pub(crate) fn insert(&mut self, id: u64, etf: &[u8], flags: u8) {
        if id == 0 || etf.len() > SLOT_BYTES {
            return;
        }
        let slot = &mut self.slots[AtomCache::index(id)];
        slot.id = id;
        slot.len = etf.len() as u8;
        slot.flags = flags;
        slot.etf[..etf.len()].copy_from_slice(etf);
    }
}
