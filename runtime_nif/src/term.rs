//! Live terms, read through the raw NIF API for the bounded encoder ([`Beam`]), and the words
//! that identify atoms and pids.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use runtime_core::encoder::{Kind, TermView};

use crate::layout::{self, Boxed, Quick};
use rustler::sys::{self, ErlNifCharEncoding, ErlNifTerm};
use rustler::{Env, Term, TermType};

/// The term's word: for atoms and local pids, an identity stable for the VM's lifetime.
pub fn word(term: Term<'_>) -> u64 {
    raw(term.as_c_arg())
}

fn raw(term: ErlNifTerm) -> u64 {
    // SAFETY: ErlNifTerm is a transparent wrapper of a machine word.
    unsafe { std::mem::transmute::<ErlNifTerm, usize>(term) as u64 }
}

/// The calling process's pid word.
pub fn self_pid_word(env: Env<'_>) -> u64 {
    let mut pid = MaybeUninit::<sys::ErlNifPid>::uninit();
    // SAFETY: env is a process-bound env (NIFs run in a process); ErlNifPid holds one term.
    unsafe {
        if sys::enif_self(env.as_c_arg(), pid.as_mut_ptr()).is_null() {
            return 0;
        }
        let pid = pid.assume_init();
        std::mem::transmute::<sys::ErlNifPid, usize>(pid) as u64
    }
}

/// The local pid whose word is `pid`, as a term of `env`.
///
/// Only for words of local pids (taken with [`word`] from a term that passed
/// `enif_get_local_pid`): those are immediate terms, valid in any env.
pub fn local_pid_term(env: Env<'_>, pid: u64) -> Term<'_> {
    // SAFETY: an immediate term (see above) needs no heap: it is valid in `env` as in any.
    unsafe { Term::new(env, std::mem::transmute::<usize, ErlNifTerm>(pid as usize)) }
}

/// The text `pid_to_list/1` gives of the local pid whose word is `pid` (`<0.123.0>`; see
/// [`local_pid_term`]).
pub fn local_pid_text(env: Env<'_>, pid: u64) -> String {
    format!("{:?}", local_pid_term(env, pid))
}

/// The atom `__struct__`, made once (from `load`).
static STRUCT_KEY: OnceLock<usize> = OnceLock::new();

/// An atom's text as UTF-8 (atoms are at most 255 characters).
pub fn atom_text(term: Term<'_>) -> Option<String> {
    let mut out = Vec::new();
    Beam(term)
        .atom_text(&mut out)
        .then(|| String::from_utf8(out).ok())?
}

/// The terms ±2^1024, the bounds of integers whose external form is captured.
struct IntegerBounds {
    low: usize,
    high: usize,
}

static BOUNDS: OnceLock<IntegerBounds> = OnceLock::new();

/// Builds ±2^1024 in an environment that lives as long as the library, and the atom
/// `__struct__` (called from `load`).
pub fn init_bounds() {
    STRUCT_KEY.get_or_init(|| {
        // SAFETY: atoms are never freed; the env is only needed to make it.
        unsafe {
            let env = sys::enif_alloc_env();
            let name = b"__struct__";
            let atom = sys::enif_make_atom_len(env, name.as_ptr().cast(), name.len());
            sys::enif_free_env(env);
            raw(atom) as usize
        }
    });
    BOUNDS.get_or_init(|| {
        // SAFETY: a process-independent env that is never freed; binary_to_term reads our bytes.
        unsafe {
            let env = sys::enif_alloc_env();
            let make = |sign: u8| {
                let mut bytes = vec![etf_tag::VERSION, etf_tag::SMALL_BIG, 129, sign];
                bytes.extend(std::iter::repeat_n(0u8, 128));
                bytes.push(1);
                let mut term = MaybeUninit::<ErlNifTerm>::uninit();
                let n = sys::enif_binary_to_term(
                    env,
                    bytes.as_ptr(),
                    bytes.len(),
                    term.as_mut_ptr(),
                    0,
                );
                if n == 0 {
                    0
                } else {
                    raw(term.assume_init()) as usize
                }
            };
            IntegerBounds {
                low: make(1),
                high: make(0),
            }
        }
    });
}

/// A live term for the encoder.
#[derive(Clone, Copy)]
pub struct Beam<'a>(pub Term<'a>);

impl<'a> Beam<'a> {
    fn env(self) -> *mut sys::ErlNifEnv {
        self.0.get_env().as_c_arg()
    }

    /// The term read from its words, when it is a boxed term [`layout::boxed`] knows.
    #[inline]
    fn boxed(self) -> Option<Boxed<'a>> {
        // SAFETY: a live term of `env`, which outlives the slices ('a).
        unsafe { layout::boxed(self.0.as_c_arg()) }
    }

    fn wrap(self, t: ErlNifTerm) -> Beam<'a> {
        // SAFETY: `t` was produced from a term of this env, so it lives as long as the env.
        Beam(unsafe { Term::new(self.0.get_env(), t) })
    }
}

impl<'a> TermView<'a> for Beam<'a> {
    type Elements = Elements<'a>;

    #[inline]
    fn kind(self) -> Kind {
        match layout::quick(self.0.as_c_arg()) {
            Quick::Small(_) => return Kind::Integer,
            Quick::Atom => return Kind::Atom,
            Quick::Nil => return Kind::EmptyList,
            Quick::Cell => return Kind::List,
            Quick::Unknown => {}
        }
        match self.boxed() {
            Some(Boxed::Tuple(_)) => return Kind::Tuple,
            Some(Boxed::FlatMap { .. }) => return Kind::Map,
            Some(Boxed::Binary(_)) => return Kind::Bitstring,
            Some(Boxed::Float(_)) => return Kind::Float,
            None => {}
        }
        match self.0.get_type() {
            TermType::Atom => Kind::Atom,
            TermType::Integer => Kind::Integer,
            TermType::Float => Kind::Float,
            TermType::Binary => Kind::Bitstring,
            TermType::List if self.0.is_empty_list() => Kind::EmptyList,
            TermType::List => Kind::List,
            TermType::Tuple => Kind::Tuple,
            TermType::Map => Kind::Map,
            TermType::Pid => Kind::Pid,
            TermType::Port => Kind::Port,
            TermType::Ref => Kind::Reference,
            TermType::Fun => Kind::Fun,
            TermType::Unknown => Kind::Other,
        }
    }

    #[inline]
    fn atom_id(self) -> Option<u64> {
        // An atom's word is its identity for the VM's lifetime (atoms are never freed).
        Some(raw(self.0.as_c_arg()))
    }

    fn atom_text(self, out: &mut Vec<u8>) -> bool {
        let mut latin1 = [0u8; 256];
        // SAFETY: the buffer holds 255 characters and the terminating zero, the most an atom
        // needs in Latin-1.
        let n = unsafe {
            sys::enif_get_atom(
                self.env(),
                self.0.as_c_arg(),
                latin1.as_mut_ptr().cast(),
                latin1.len() as u32,
                ErlNifCharEncoding::ERL_NIF_LATIN1,
            )
        };
        if n <= 0 {
            return false;
        }
        // The count includes the terminating zero.
        let text = &latin1[..(n as usize).saturating_sub(1)];
        if text.is_ascii() {
            out.extend_from_slice(text);
        } else {
            for &b in text {
                if b < 0x80 {
                    out.push(b);
                } else {
                    out.extend_from_slice(&[0xC0 | (b >> 6), 0x80 | (b & 0x3F)]);
                }
            }
        }
        true
    }

    #[inline]
    fn small_integer(self) -> Option<i64> {
        match layout::quick(self.0.as_c_arg()) {
            Quick::Small(v) => Some(v),
            _ => None,
        }
    }

    #[inline]
    fn to_i64(self) -> Option<i64> {
        if let Quick::Small(v) = layout::quick(self.0.as_c_arg()) {
            return Some(v);
        }
        let mut v = 0i64;
        // SAFETY: plain read of an integer term.
        (unsafe { sys::enif_get_int64(self.env(), self.0.as_c_arg(), &mut v) } != 0).then_some(v)
    }

    fn to_u64(self) -> Option<u64> {
        let mut v = 0u64;
        // SAFETY: plain read of an integer term.
        (unsafe { sys::enif_get_uint64(self.env(), self.0.as_c_arg(), &mut v) } != 0).then_some(v)
    }

    fn is_moderate_integer(self) -> bool {
        let Some(bounds) = BOUNDS.get().filter(|b| b.low != 0 && b.high != 0) else {
            return false;
        };
        // SAFETY: both bound terms live in a never-freed env; comparing reads both terms
        // (a bignum comparison looks at sizes first, so this is O(1) for huge numbers).
        unsafe {
            let low = std::mem::transmute::<usize, ErlNifTerm>(bounds.low);
            let high = std::mem::transmute::<usize, ErlNifTerm>(bounds.high);
            sys::enif_compare(self.0.as_c_arg(), low) > 0
                && sys::enif_compare(self.0.as_c_arg(), high) < 0
        }
    }

    fn to_f64(self) -> Option<f64> {
        if let Some(Boxed::Float(f)) = self.boxed() {
            return Some(f);
        }
        let mut v = 0f64;
        // SAFETY: plain read of a float term.
        (unsafe { sys::enif_get_double(self.env(), self.0.as_c_arg(), &mut v) } != 0).then_some(v)
    }

    fn bytes(self) -> Option<&'a [u8]> {
        if let Some(Boxed::Binary(bytes)) = self.boxed() {
            return Some(bytes);
        }
        let mut bin = MaybeUninit::<sys::ErlNifBinary>::uninit();
        // SAFETY: on success `bin` describes the binary's bytes, which live as long as the
        // term's env.
        unsafe {
            if sys::enif_inspect_binary(self.env(), self.0.as_c_arg(), bin.as_mut_ptr()) == 0 {
                return None;
            }
            let bin = bin.assume_init();
            if bin.size == 0 {
                return Some(&[]);
            }
            Some(std::slice::from_raw_parts(bin.data, bin.size))
        }
    }

    #[inline]
    fn list_cell(self) -> Option<(Self, Self)> {
        match layout::quick(self.0.as_c_arg()) {
            // SAFETY: a live list cell.
            Quick::Cell => {
                let (head, tail) = unsafe { layout::cell(self.0.as_c_arg()) };
                return Some((self.wrap(head), self.wrap(tail)));
            }
            Quick::Small(_) | Quick::Atom | Quick::Nil => return None,
            Quick::Unknown => {}
        }
        let mut head = MaybeUninit::<ErlNifTerm>::uninit();
        let mut tail = MaybeUninit::<ErlNifTerm>::uninit();
        // SAFETY: out-pointers are valid; on success both are initialized.
        unsafe {
            if sys::enif_get_list_cell(
                self.env(),
                self.0.as_c_arg(),
                head.as_mut_ptr(),
                tail.as_mut_ptr(),
            ) == 0
            {
                return None;
            }
            Some((self.wrap(head.assume_init()), self.wrap(tail.assume_init())))
        }
    }

    fn tuple_elements(self) -> Option<Elements<'a>> {
        Some(Elements {
            owner: self,
            items: self.tuple()?.iter(),
        })
    }

    fn map_size(self) -> usize {
        match self.boxed() {
            Some(Boxed::FlatMap { keys, .. }) => keys.len(),
            _ => self.0.map_size().unwrap_or(0),
        }
    }

    #[inline]
    fn for_each_pair(self, mut visit: impl FnMut(Self, Self) -> bool) {
        if let Some(Boxed::FlatMap { keys, values }) = self.boxed() {
            for (&k, &v) in keys.iter().zip(values) {
                if !visit(self.wrap(k), self.wrap(v)) {
                    break;
                }
            }
            return;
        }
        let env = self.env();
        // SAFETY: a live term; the iterator is destroyed below, and the flat arrays belong to
        // the map, which lives as long as the env.
        unsafe {
            let Some(mut iter) = layout::MapIterator::create(env, self.0.as_c_arg()) else {
                return;
            };
            if let Some((keys, values)) = iter.flat_pairs(env) {
                for (&k, &v) in keys.iter().zip(values) {
                    if !visit(self.wrap(k), self.wrap(v)) {
                        break;
                    }
                }
            } else {
                while let Some((k, v)) = iter.next(env) {
                    if !visit(self.wrap(k), self.wrap(v)) {
                        break;
                    }
                }
            }
            iter.destroy(env);
        }
    }

    fn struct_module(self) -> Option<Self> {
        let key = *STRUCT_KEY.get()?;
        if let Some(Boxed::FlatMap { keys, values }) = self.boxed() {
            let at = keys.iter().position(|&k| raw(k) as usize == key)?;
            return Some(self.wrap(values[at]));
        }
        let mut value = MaybeUninit::<ErlNifTerm>::uninit();
        // SAFETY: `key` is an atom (immortal); on success `value` is a term of the map, which
        // lives as long as the env.
        unsafe {
            let key = std::mem::transmute::<usize, ErlNifTerm>(key);
            if sys::enif_get_map_value(self.env(), self.0.as_c_arg(), key, value.as_mut_ptr()) == 0
            {
                return None;
            }
            Some(self.wrap(value.assume_init()))
        }
    }

    fn identical(self, other: Self) -> bool {
        // SAFETY: both are live terms.
        unsafe { sys::enif_is_identical(self.0.as_c_arg(), other.0.as_c_arg()) != 0 }
    }

    fn external(self, out: &mut Vec<u8>, max: usize) -> bool {
        let mut bin = MaybeUninit::<sys::ErlNifBinary>::uninit();
        // SAFETY: term_to_binary fills `bin` on success; OwnedBinary releases it.
        let bin = unsafe {
            if sys::enif_term_to_binary(self.env(), self.0.as_c_arg(), bin.as_mut_ptr()) == 0 {
                return false;
            }
            rustler::OwnedBinary::from_raw(bin.assume_init())
        };
        let bytes = bin.as_slice();
        // Skip the version byte.
        if bytes.len() < 2 || bytes.len() - 1 > max {
            return false;
        }
        out.extend_from_slice(&bytes[1..]);
        true
    }

    fn describe(self, out: &mut Vec<u8>, max: usize) {
        let mut buf = [0u8; 256];
        let size = (max + 1).min(buf.len());
        // SAFETY: snprintf writes at most `size` bytes, zero-terminated, into `buf`.
        let n = unsafe {
            rustler::sys::enif_snprintf!(
                buf.as_mut_ptr().cast::<std::ffi::c_char>(),
                size,
                c"%T".as_ptr(),
                self.0.as_c_arg()
            )
        };
        if n > 0 {
            let len = (n as usize).min(size - 1);
            out.extend_from_slice(&buf[..len]);
        }
    }
}

impl<'a> Beam<'a> {
    /// The elements of a tuple, read in place (no allocation); `None` for anything else.
    pub(crate) fn tuple(self) -> Option<&'a [ErlNifTerm]> {
        if let Some(Boxed::Tuple(elements)) = self.boxed() {
            return Some(elements);
        }
        let mut arity = 0;
        let mut array = std::ptr::null();
        // SAFETY: on success `array` points at `arity` terms owned by the tuple, which lives
        // as long as the env.
        unsafe {
            if sys::enif_get_tuple(self.env(), self.0.as_c_arg(), &mut arity, &mut array) == 0 {
                return None;
            }
            if arity == 0 {
                return Some(&[]);
            }
            Some(std::slice::from_raw_parts(array, arity as usize))
        }
    }
}

/// A tuple's elements, read in place.
pub struct Elements<'a> {
    owner: Beam<'a>,
    items: std::slice::Iter<'a, ErlNifTerm>,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Beam<'a>;

    fn next(&mut self) -> Option<Beam<'a>> {
        self.items.next().map(|&t| self.owner.wrap(t))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for Elements<'_> {}

/// A live term for the encoder, typed without `enif_term_type`: the VM aborts in that call on
/// a term that is not a value, such as a binary match state, which the compiler can leave in
/// the arguments of a stack frame (a `function_clause` raised by a function handed a match
/// context). Each term costs up to a dozen type checks, so only exceptions, which are rare and
/// carry stack traces, are encoded this way; arguments and results of calls never hold match
/// states.
#[derive(Clone, Copy)]
pub struct Checked<'a>(pub Beam<'a>);

/// A tuple's elements, checked.
pub struct CheckedElements<'a>(Elements<'a>);

impl<'a> Iterator for CheckedElements<'a> {
    type Item = Checked<'a>;

    fn next(&mut self) -> Option<Checked<'a>> {
        self.0.next().map(Checked)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for CheckedElements<'_> {}

impl<'a> TermView<'a> for Checked<'a> {
    type Elements = CheckedElements<'a>;

    fn kind(self) -> Kind {
        let t = self.0 .0;
        if t.is_atom() {
            Kind::Atom
        } else if t.is_number() {
            if t.is_float() {
                Kind::Float
            } else {
                Kind::Integer
            }
        } else if t.is_empty_list() {
            Kind::EmptyList
        } else if t.is_list() {
            Kind::List
        } else if t.is_tuple() {
            Kind::Tuple
        } else if t.is_map() {
            Kind::Map
        } else if t.is_binary() {
            Kind::Bitstring
        } else if t.is_pid() {
            Kind::Pid
        } else if t.is_port() {
            Kind::Port
        } else if t.is_ref() {
            Kind::Reference
        } else if t.is_fun() {
            Kind::Fun
        } else {
            // Bitstrings that are not whole bytes land here too: marked as cut.
            Kind::Other
        }
    }

    fn atom_id(self) -> Option<u64> {
        self.0.atom_id()
    }

    fn atom_text(self, out: &mut Vec<u8>) -> bool {
        self.0.atom_text(out)
    }

    fn to_i64(self) -> Option<i64> {
        self.0.to_i64()
    }

    fn to_u64(self) -> Option<u64> {
        self.0.to_u64()
    }

    fn is_moderate_integer(self) -> bool {
        self.0.is_moderate_integer()
    }

    fn to_f64(self) -> Option<f64> {
        self.0.to_f64()
    }

    fn bytes(self) -> Option<&'a [u8]> {
        self.0.bytes()
    }

    fn list_cell(self) -> Option<(Self, Self)> {
        self.0.list_cell().map(|(h, t)| (Checked(h), Checked(t)))
    }

    fn tuple_elements(self) -> Option<CheckedElements<'a>> {
        self.0.tuple_elements().map(CheckedElements)
    }

    fn map_size(self) -> usize {
        self.0.map_size()
    }

    fn for_each_pair(self, mut visit: impl FnMut(Self, Self) -> bool) {
        self.0.for_each_pair(|k, v| visit(Checked(k), Checked(v)))
    }

    fn struct_module(self) -> Option<Self> {
        self.0.struct_module().map(Checked)
    }

    fn identical(self, other: Self) -> bool {
        self.0.identical(other.0)
    }

    fn external(self, out: &mut Vec<u8>, max: usize) -> bool {
        self.0.external(out, max)
    }

    fn describe(self, out: &mut Vec<u8>, max: usize) {
        self.0.describe(out, max)
    }
}
