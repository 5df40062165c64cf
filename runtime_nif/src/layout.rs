//! Reading the commonest terms from their words, without a call into the VM.
//!
//! Capturing a value visits each of its terms, and each `enif_*` call costs some 10 to 15 ns;
//! the terms real arguments are mostly made of (small integers, atoms, `[]`, list cells) can be
//! told apart from the bits of their word, and a list cell's head and tail read from the two
//! words it points at. That is the 64-bit BEAM's term layout (primary tag in the low 2 bits:
//! `01` a list cell, `11` an immediate; a small integer's low 4 bits `1111`, its value above
//! them; an atom's low 6 bits `001011`; `[]` the word `0x3B`), unchanged since R7, but not an
//! interface: [`check`] verifies it against terms the VM makes when the library loads, and
//! every reader here answers "don't know" (so the caller asks the VM) unless it held.
//!
//! Maps of up to 32 keys ("flatmaps") keep their keys and values in two arrays, which the map
//! iterator of `erl_nif.h` points at (`u.flat.ks`, `u.flat.vs`): [`flat_pairs`] reads them
//! when the iterator's first pair is where those pointers say, which is never the case for a
//! large map (its iterator holds a work stack there instead).

use std::sync::atomic::{AtomicBool, Ordering};

use rustler::sys::{self, ErlNifTerm};

static VERIFIED: AtomicBool = AtomicBool::new(false);

const SMALL_TAG: u64 = 0xF;
const ATOM_TAG: u64 = 0x0B;
const NIL: u64 = 0x3B;
const LIST_TAG: u64 = 0x1;

fn word(t: ErlNifTerm) -> u64 {
    // SAFETY: ErlNifTerm is a transparent wrapper of a machine word.
    unsafe { std::mem::transmute::<ErlNifTerm, usize>(t) as u64 }
}

fn term(w: u64) -> ErlNifTerm {
    // SAFETY: as above, the other way.
    unsafe { std::mem::transmute::<usize, ErlNifTerm>(w as usize) }
}

/// Checks the layout against terms the VM makes (from `load`); the readers below work only
/// when it held.
pub fn check() {
    if cfg!(not(target_pointer_width = "64")) {
        return;
    }
    // SAFETY: a process-independent env, freed below; every term read is one it made.
    let ok = unsafe {
        let env = sys::enif_alloc_env();
        let small = sys::enif_make_int64(env, -12345);
        let big = sys::enif_make_int64(env, 1 << 62);
        let atom = sys::enif_make_atom_len(env, b"ok".as_ptr().cast(), 2);
        let nil = sys::enif_make_list_from_array(env, std::ptr::null(), 0);
        let cell = sys::enif_make_list_cell(env, small, nil);
        let tuple = sys::enif_make_tuple_from_array(env, [atom, small].as_ptr(), 2);
        let layout_holds = word(small) == ((-12345i64 << 4) as u64 | SMALL_TAG)
            && word(big) & 0x3 == 0x2
            && word(atom) & 0x3F == ATOM_TAG
            && word(nil) == NIL
            && word(tuple) & 0x3 == 0x2
            && word(cell) & 0x3 == LIST_TAG
            && {
                let cons = (word(cell) - LIST_TAG) as *const u64;
                *cons == word(small) && *cons.add(1) == word(nil)
            };
        sys::enif_free_env(env);
        layout_holds
    };
    VERIFIED.store(ok, Ordering::Release);
}

#[inline]
fn verified() -> bool {
    VERIFIED.load(Ordering::Relaxed)
}

/// What a word says at once, when the layout was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quick {
    /// A small integer.
    Small(i64),
    /// An atom.
    Atom,
    /// `[]`.
    Nil,
    /// A list cell.
    Cell,
    /// Ask the VM.
    Unknown,
}

/// Classifies a term by its word.
#[inline]
pub fn quick(t: ErlNifTerm) -> Quick {
    if !verified() {
        return Quick::Unknown;
    }
    let w = word(t);
    if w & 0xF == SMALL_TAG {
        Quick::Small((w as i64) >> 4)
    } else if w & 0x3F == ATOM_TAG {
        Quick::Atom
    } else if w == NIL {
        Quick::Nil
    } else if w & 0x3 == LIST_TAG {
        Quick::Cell
    } else {
        Quick::Unknown
    }
}

/// A list cell's head and tail, read from the cell.
///
/// # Safety
/// `t` must be a live term for which [`quick`] answered [`Quick::Cell`].
#[inline]
pub unsafe fn cell(t: ErlNifTerm) -> (ErlNifTerm, ErlNifTerm) {
    let cons = (word(t) - LIST_TAG) as *const u64;
    // SAFETY: a list cell is two words, head then tail (verified by `check`).
    unsafe { (term(*cons), term(*cons.add(1))) }
}

/// The map iterator of `erl_nif.h`, with the fields of its flatmap variant named.
#[repr(C)]
pub struct MapIterator {
    map: ErlNifTerm,
    size: usize,
    idx: usize,
    ks: *const ErlNifTerm,
    vs: *const ErlNifTerm,
    spare: [*mut std::ffi::c_void; 2],
}

impl MapIterator {
    /// An iterator over `map` at its first pair; `None` if `map` is not a map.
    ///
    /// # Safety
    /// `env` and `map` must be live; the iterator must be released with [`MapIterator::destroy`].
    pub unsafe fn create(env: *mut sys::ErlNifEnv, map: ErlNifTerm) -> Option<MapIterator> {
        let mut iter = std::mem::MaybeUninit::<MapIterator>::uninit();
        // SAFETY: MapIterator has erl_nif.h's layout and size (checked below at compile time).
        unsafe {
            (sys::enif_map_iterator_create(
                env,
                map,
                iter.as_mut_ptr().cast(),
                sys::ErlNifMapIteratorEntry::ERL_NIF_MAP_ITERATOR_HEAD,
            ) != 0)
                .then(|| iter.assume_init())
        }
    }

    /// The current pair, then moves on.
    ///
    /// # Safety
    /// `env` must be the env the iterator was created in.
    pub unsafe fn next(&mut self, env: *mut sys::ErlNifEnv) -> Option<(ErlNifTerm, ErlNifTerm)> {
        let mut key = std::mem::MaybeUninit::uninit();
        let mut value = std::mem::MaybeUninit::uninit();
        let this: *mut MapIterator = self;
        // SAFETY: a live iterator; on success both are written.
        unsafe {
            if sys::enif_map_iterator_get_pair(
                env,
                this.cast(),
                key.as_mut_ptr(),
                value.as_mut_ptr(),
            ) == 0
            {
                return None;
            }
            sys::enif_map_iterator_next(env, this.cast());
            Some((key.assume_init(), value.assume_init()))
        }
    }

    /// The keys and values of a flatmap, read from its arrays, when the layout was verified
    /// and the iterator was just created over such a map (its first pair is where `ks` and
    /// `vs` point); `None` otherwise, with the iterator untouched.
    ///
    /// # Safety
    /// `env` must be the env the iterator was created in, and no pair taken yet.
    pub unsafe fn flat_pairs<'i>(
        &mut self,
        env: *mut sys::ErlNifEnv,
    ) -> Option<(&'i [ErlNifTerm], &'i [ErlNifTerm])> {
        if !verified() || self.size > 32 || self.size == 0 || self.ks.is_null() || self.vs.is_null()
        {
            return None;
        }
        let mut key = std::mem::MaybeUninit::uninit();
        let mut value = std::mem::MaybeUninit::uninit();
        let this: *mut MapIterator = self;
        // SAFETY: reading the current pair does not move the iterator. For a flatmap `ks` and
        // `vs` point at its arrays of `size` terms; for a large map `ks` points at a work stack
        // whose first word is a raw pointer (never a key: keys are never header-tagged), so the
        // comparison fails before anything else is read.
        unsafe {
            if sys::enif_map_iterator_get_pair(
                env,
                this.cast(),
                key.as_mut_ptr(),
                value.as_mut_ptr(),
            ) == 0
            {
                return None;
            }
            let (key, value) = (key.assume_init(), value.assume_init());
            if word(*self.ks) != word(key) || word(*self.vs) != word(value) {
                return None;
            }
            Some((
                std::slice::from_raw_parts(self.ks, self.size),
                std::slice::from_raw_parts(self.vs, self.size),
            ))
        }
    }

    /// Releases the iterator.
    ///
    /// # Safety
    /// `env` must be the env the iterator was created in; called once.
    pub unsafe fn destroy(&mut self, env: *mut sys::ErlNifEnv) {
        let this: *mut MapIterator = self;
        // SAFETY: as documented.
        unsafe { sys::enif_map_iterator_destroy(env, this.cast()) }
    }
}

const _: () =
    assert!(std::mem::size_of::<MapIterator>() == std::mem::size_of::<sys::ErlNifMapIterator>());
