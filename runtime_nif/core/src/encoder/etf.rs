//! Writing the external term format (the subset the encoder emits), into any [`Sink`].

/// Where encoded bytes go: a `Vec<u8>`, or a `SmallVec` that keeps small values inline.
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Appends one byte.
    fn put_byte(&mut self, byte: u8);
    /// The number of bytes written.
    fn len(&self) -> usize;
    /// Whether nothing was written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes written, to patch counts in place.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Drops the bytes after `len`.
    fn truncate(&mut self, len: usize);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

impl<A: smallvec::Array<Item = u8>> Sink for smallvec::SmallVec<A> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
    fn len(&self) -> usize {
        smallvec::SmallVec::len(self)
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    fn truncate(&mut self, len: usize) {
        smallvec::SmallVec::truncate(self, len);
    }
}

/// The version byte every external term starts with.
pub const VERSION: u8 = 131;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const SMALL_BIG: u8 = 110;
const NEW_FLOAT: u8 = 70;
/// `SMALL_ATOM_UTF8_EXT`.
pub const SMALL_ATOM_UTF8: u8 = 119;
const ATOM_UTF8: u8 = 118;
const BINARY: u8 = 109;
const SMALL_TUPLE: u8 = 104;
const LARGE_TUPLE: u8 = 105;
/// `[]`.
pub const NIL: u8 = 106;
const LIST: u8 = 108;
const MAP: u8 = 116;

/// Appends an integer.
pub fn integer<S: Sink + ?Sized>(out: &mut S, v: i64) {
    if (0..=255).contains(&v) {
        out.put(&[SMALL_INTEGER, v as u8]);
    } else if let Ok(v) = i32::try_from(v) {
        out.put_byte(INTEGER);
        out.put(&v.to_be_bytes());
    } else {
        big(out, v < 0, v.unsigned_abs());
    }
}

/// Appends a non-negative integer.
pub fn unsigned<S: Sink + ?Sized>(out: &mut S, v: u64) {
    match i64::try_from(v) {
        Ok(v) => integer(out, v),
        Err(_) => big(out, false, v),
    }
}

fn big<S: Sink + ?Sized>(out: &mut S, negative: bool, magnitude: u64) {
    let bytes = magnitude.to_le_bytes();
    let n = 8 - magnitude.leading_zeros() as usize / 8;
    out.put(&[SMALL_BIG, n as u8, negative as u8]);
    out.put(&bytes[..n]);
}

/// Appends a float.
pub fn float<S: Sink + ?Sized>(out: &mut S, v: f64) {
    out.put_byte(NEW_FLOAT);
    out.put(&v.to_be_bytes());
}

/// Appends an atom from UTF-8 text (at most 255 characters, as atoms are).
pub fn atom<S: Sink + ?Sized>(out: &mut S, text: &[u8]) {
    match u8::try_from(text.len()) {
        Ok(len) => out.put(&[SMALL_ATOM_UTF8, len]),
        Err(_) => {
            out.put_byte(ATOM_UTF8);
            out.put(&(text.len().min(u16::MAX as usize) as u16).to_be_bytes());
        }
    }
    out.put(&text[..text.len().min(u16::MAX as usize)]);
}

/// Appends a binary.
pub fn binary<S: Sink + ?Sized>(out: &mut S, bytes: &[u8]) {
    out.put_byte(BINARY);
    out.put(&(bytes.len() as u32).to_be_bytes());
    out.put(bytes);
}

/// Appends the header of a tuple of known small arity.
pub fn small_tuple<S: Sink + ?Sized>(out: &mut S, arity: u8) {
    out.put(&[SMALL_TUPLE, arity]);
}

/// A container header whose count is filled in once known.
pub struct Header(usize);

/// Starts a tuple whose arity is patched later.
pub fn tuple_header<S: Sink + ?Sized>(out: &mut S) -> Header {
    counted(out, LARGE_TUPLE)
}

/// Starts a list whose length is patched later; the tail follows the elements.
pub fn list_header<S: Sink + ?Sized>(out: &mut S) -> Header {
    counted(out, LIST)
}

/// Starts a map whose size is patched later.
pub fn map_header<S: Sink + ?Sized>(out: &mut S) -> Header {
    counted(out, MAP)
}

fn counted<S: Sink + ?Sized>(out: &mut S, tag: u8) -> Header {
    out.put_byte(tag);
    let at = out.len();
    out.put(&[0; 4]);
    Header(at)
}

impl Header {
    /// Writes the count.
    pub fn patch<S: Sink + ?Sized>(self, out: &mut S, count: u32) {
        out.bytes_mut()[self.0..self.0 + 4].copy_from_slice(&count.to_be_bytes());
    }
}
