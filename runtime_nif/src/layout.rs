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
//! The boxed terms real arguments hold most (tuples, maps of up to 32 keys, binaries of up to
//! 64 bytes, floats) are read from their header word and the words after it ([`boxed`]): a
//! boxed term's word points (primary tag `10`) at a header (primary tag `00`) whose low 6 bits
//! say what follows and whose upper bits an arity. A tuple's header is its arity `<< 6`, its
//! elements follow; a flatmap's header is `0x13C`, then its size, a tuple of its keys, and its
//! values; a heap binary's header has the subtag `0x24`, then its size in bytes, then the
//! bytes; a float's header is `0x58`, then the `f64`. [`check`] verifies these on terms the VM
//! makes, apart from the immediates (a VM where they differ still gets the immediates read
//! from their words, and asks it about every boxed term).
//!
//! Large maps are read through the map iterator of `erl_nif.h`, whose flatmap variant points
//! at the arrays (`u.flat.ks`, `u.flat.vs`): [`MapIterator::flat_pairs`] reads them when the
//! iterator's first pair is where those pointers say, which is never the case for a large map
//! (its iterator holds a work stack there instead).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use runtime_core::encoder::{Word, Words};

use rustler::sys::{self, ErlNifTerm};

static VERIFIED: AtomicBool = AtomicBool::new(false);
static VERIFIED_BOXED: AtomicBool = AtomicBool::new(false);

const SMALL_TAG: u64 = 0xF;
const ATOM_TAG: u64 = 0x0B;
const NIL: u64 = 0x3B;
const LIST_TAG: u64 = 0x1;
const BOXED_TAG: u64 = 0x2;
/// The low 6 bits of a header: its primary tag (`00`) and subtag.
const SUBTAG_MASK: u64 = 0x3F;
const TUPLE_SUBTAG: u64 = 0x00;
const HEAP_BINARY_SUBTAG: u64 = 0x24;
const FLATMAP_HEADER: u64 = 0x13C;
const FLOAT_HEADER: u64 = 0x58;

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
        let boxed_holds = layout_holds && boxed_layout_holds(env, atom, small);
        sys::enif_free_env(env);
        VERIFIED_BOXED.store(boxed_holds, Ordering::Release);
        layout_holds
    };
    VERIFIED.store(ok, Ordering::Release);
}

/// Whether tuples, flatmaps, heap binaries and floats the VM makes in `env` read as [`boxed`]
/// reads them.
///
/// # Safety
/// `env` must be a live env; `atom` an atom and `small` a small integer.
unsafe fn boxed_layout_holds(
    env: *mut sys::ErlNifEnv,
    atom: ErlNifTerm,
    small: ErlNifTerm,
) -> bool {
    // SAFETY: every term is made here, in `env`; words are read only after their tags said
    // what they are, and within the sizes their headers give.
    unsafe {
        let second = sys::enif_make_atom_len(env, b"zz".as_ptr().cast(), 2);
        let tuple = sys::enif_make_tuple_from_array(env, [atom, small, second].as_ptr(), 3);
        let tuple_holds = matches!(read_boxed(tuple),
            Some(Boxed::Tuple(e)) if e.len() == 3
                && word(e[0]) == word(atom) && word(e[1]) == word(small) && word(e[2]) == word(second));

        let mut map = sys::enif_make_new_map(env);
        let ok = sys::enif_make_map_put(env, map, atom, small, &mut map) != 0
            && sys::enif_make_map_put(env, map, second, atom, &mut map) != 0;
        let mut value = std::mem::MaybeUninit::uninit();
        let map_holds = ok
            && sys::enif_get_map_value(env, map, second, value.as_mut_ptr()) != 0
            && match read_boxed(map) {
                Some(Boxed::FlatMap { keys, values }) => {
                    let at = keys.iter().position(|&k| word(k) == word(second));
                    keys.len() == 2
                        && values.len() == 2
                        && at.is_some_and(|i| word(values[i]) == word(value.assume_init()))
                        && keys.iter().any(|&k| word(k) == word(atom))
                }
                _ => false,
            };

        let mut binary = std::mem::MaybeUninit::uninit();
        let data = sys::enif_make_new_binary(env, 3, binary.as_mut_ptr());
        let binary_holds = !data.is_null() && {
            std::ptr::copy_nonoverlapping(b"Ada".as_ptr(), data, 3);
            matches!(read_boxed(binary.assume_init()), Some(Boxed::Binary(b)) if b == b"Ada")
        };

        let float = sys::enif_make_double(env, -1.5e300);
        let float_holds = matches!(read_boxed(float), Some(Boxed::Float(f)) if f == -1.5e300);

        tuple_holds && map_holds && binary_holds && float_holds
    }
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
    match verified() {
        true => classify(word(t)),
        false => Quick::Unknown,
    }
}

/// What a word's bits say, the layout taken as verified: by the primary tag first, so that a
/// list cell (or a boxed term, [`Quick::Unknown`]) is told at once.
#[inline]
fn classify(w: u64) -> Quick {
    match w & 0x3 {
        LIST_TAG => Quick::Cell,
        _ if w & 0xF == SMALL_TAG => Quick::Small((w as i64) >> 4),
        _ if w & 0x3F == ATOM_TAG => Quick::Atom,
        _ if w == NIL => Quick::Nil,
        _ => Quick::Unknown,
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

/// A boxed term read from its words.
#[derive(Debug, Clone, Copy)]
pub enum Boxed<'t> {
    /// A tuple's elements.
    Tuple(&'t [ErlNifTerm]),
    /// A map of up to 32 keys: its keys (in the map's order) and the values that go with them.
    FlatMap {
        /// The keys.
        keys: &'t [ErlNifTerm],
        /// The values, in the keys' order.
        values: &'t [ErlNifTerm],
    },
    /// A binary of up to 64 bytes (a heap binary).
    Binary(&'t [u8]),
    /// A float.
    Float(f64),
}

/// A tuple, a flatmap, a heap binary or a float, read from its words when the layout was
/// verified; `None` for anything else (ask the VM).
///
/// # Safety
/// `t` must be a live term, and the slices are used only while it lives.
#[inline]
pub unsafe fn boxed<'t>(t: ErlNifTerm) -> Option<Boxed<'t>> {
    if !VERIFIED_BOXED.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: as documented.
    unsafe { read_boxed(t) }
}

/// [`boxed`] without the check that the layout was verified.
///
/// # Safety
/// As [`boxed`], and the layout must be the one described in the module's documentation.
#[inline]
unsafe fn read_boxed<'t>(t: ErlNifTerm) -> Option<Boxed<'t>> {
    let w = word(t);
    if w & 0x3 != BOXED_TAG {
        return None;
    }
    let at = (w - BOXED_TAG) as *const u64;
    // SAFETY: a boxed term points at its header; each variant reads only the words its
    // header says follow.
    unsafe {
        let header = *at;
        match header & SUBTAG_MASK {
            TUPLE_SUBTAG => {
                let arity = (header >> 6) as usize;
                Some(Boxed::Tuple(std::slice::from_raw_parts(
                    at.add(1).cast(),
                    arity,
                )))
            }
            HEAP_BINARY_SUBTAG => {
                let size = *at.add(1) as usize;
                Some(Boxed::Binary(std::slice::from_raw_parts(
                    at.add(2).cast(),
                    size,
                )))
            }
            _ if header == FLATMAP_HEADER => {
                let size = *at.add(1) as usize;
                let keys = *at.add(2);
                if keys & 0x3 != BOXED_TAG {
                    return None;
                }
                let keys_at = (keys - BOXED_TAG) as *const u64;
                if *keys_at != (size as u64) << 6 {
                    return None;
                }
                Some(Boxed::FlatMap {
                    keys: std::slice::from_raw_parts(keys_at.add(1).cast(), size),
                    values: std::slice::from_raw_parts(at.add(3).cast(), size),
                })
            }
            _ if header == FLOAT_HEADER => Some(Boxed::Float(f64::from_bits(*at.add(1)))),
            _ => None,
        }
    }
}

/// A live term read from its words, for the encoder's fast path
/// ([`runtime_core::encoder::encode_flat`]).
#[derive(Clone, Copy)]
pub struct Raw<'a>(ErlNifTerm, PhantomData<&'a ()>);

impl<'a> Raw<'a> {
    /// The term, read from its words while `'a` lasts; `None` unless the whole layout held
    /// ([`check`]), so that reading needs no check of its own.
    ///
    /// # Safety
    /// `t` must be a live term for as long as `'a`.
    #[inline]
    pub unsafe fn new(t: ErlNifTerm) -> Option<Raw<'a>> {
        (verified() && VERIFIED_BOXED.load(Ordering::Relaxed)).then_some(Raw(t, PhantomData))
    }

    fn at(self) -> *const u64 {
        (word(self.0) - BOXED_TAG) as *const u64
    }
}

impl<'a> Words<'a> for Raw<'a> {
    /// One classification of the word ([`classify`]), then a boxed term's header.
    #[inline]
    fn read(self) -> Word<'a, Self> {
        match classify(word(self.0)) {
            Quick::Cell => {
                // SAFETY: a live list cell (the term lives for 'a).
                let (head, tail) = unsafe { cell(self.0) };
                Word::Cell(Raw(head, PhantomData), Raw(tail, PhantomData))
            }
            Quick::Small(v) => Word::Small(v),
            Quick::Atom => Word::Atom(word(self.0)),
            Quick::Nil => Word::Nil,
            // SAFETY: a live term; its slices live as long as it does ('a), and `new` found
            // the boxed layout verified.
            Quick::Unknown => match unsafe { read_boxed(self.0) } {
                Some(Boxed::Tuple(elements)) => Word::Tuple(elements.len()),
                Some(Boxed::FlatMap { keys, .. }) => Word::Map(keys.len()),
                Some(Boxed::Binary(bytes)) => Word::Binary(bytes),
                Some(Boxed::Float(f)) => Word::Float(f),
                None => Word::Other,
            },
        }
    }

    #[inline]
    fn element(self, index: usize) -> Self {
        // SAFETY: read as a tuple of more than `index` elements, which follow its header.
        Raw(unsafe { term(*self.at().add(1 + index)) }, PhantomData)
    }

    #[inline]
    fn pair(self, index: usize) -> (Self, Self) {
        // SAFETY: read as a flatmap of more than `index` pairs: its keys' tuple (verified by
        // `boxed`) is the third word, its values follow it.
        unsafe {
            let keys = (*self.at().add(2) - BOXED_TAG) as *const u64;
            (
                Raw(term(*keys.add(1 + index)), PhantomData),
                Raw(term(*self.at().add(3 + index)), PhantomData),
            )
        }
    }
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
