//! Writing the external term format (the subset the encoder emits) into a `Vec<u8>`.
//!
//! The encoder writes into one buffer per thread ([`super::Scratch`]) that keeps its capacity
//! between captures, so writing a byte is a store and a length update, never an allocation.

use etf_tag::{
    ATOM_UTF8, BINARY, INTEGER, LARGE_TUPLE, LIST, MAP, NEW_FLOAT, SMALL_ATOM_UTF8, SMALL_BIG,
    SMALL_INTEGER, SMALL_TUPLE,
};

/// Appends an integer.
#[inline]
pub fn integer(out: &mut Vec<u8>, v: i64) {
    if (0..=255).contains(&v) {
        out.extend_from_slice(&[SMALL_INTEGER, v as u8]);
    } else if let Ok(v) = i32::try_from(v) {
        let b = v.to_be_bytes();
        out.extend_from_slice(&[INTEGER, b[0], b[1], b[2], b[3]]);
    } else {
        big(out, v < 0, v.unsigned_abs());
    }
}

/// Appends a non-negative integer.
pub fn unsigned(out: &mut Vec<u8>, v: u64) {
    match i64::try_from(v) {
        Ok(v) => integer(out, v),
        Err(_) => big(out, false, v),
    }
}

fn big(out: &mut Vec<u8>, negative: bool, magnitude: u64) {
    let bytes = magnitude.to_le_bytes();
    let n = 8 - magnitude.leading_zeros() as usize / 8;
    out.extend_from_slice(&[SMALL_BIG, n as u8, negative as u8]);
    out.extend_from_slice(&bytes[..n]);
}

/// Appends a float.
pub fn float(out: &mut Vec<u8>, v: f64) {
    out.push(NEW_FLOAT);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an atom from UTF-8 text (at most 255 characters, as atoms are).
pub fn atom(out: &mut Vec<u8>, text: &[u8]) {
    let text = &text[..text.len().min(u16::MAX as usize)];
    match u8::try_from(text.len()) {
        Ok(len) => out.extend_from_slice(&[SMALL_ATOM_UTF8, len]),
        Err(_) => {
            out.push(ATOM_UTF8);
            out.extend_from_slice(&(text.len() as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(text);
}

/// Appends a binary.
pub fn binary(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(BINARY);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Appends the header of a tuple of known small arity.
#[inline]
pub fn small_tuple(out: &mut Vec<u8>, arity: u8) {
    out.extend_from_slice(&[SMALL_TUPLE, arity]);
}

/// A container header whose count is filled in once known.
#[derive(Debug, Clone, Copy)]
pub struct Header(usize);

/// Starts a tuple whose arity is patched later.
pub fn tuple_header(out: &mut Vec<u8>) -> Header {
    counted(out, LARGE_TUPLE)
}

/// Starts a list whose length is patched later; the tail follows the elements.
pub fn list_header(out: &mut Vec<u8>) -> Header {
    counted(out, LIST)
}

/// Starts a map whose size is patched later.
pub fn map_header(out: &mut Vec<u8>) -> Header {
    counted(out, MAP)
}

#[inline]
fn counted(out: &mut Vec<u8>, tag: u8) -> Header {
    out.extend_from_slice(&[tag, 0, 0, 0, 0]);
    Header(out.len() - 4)
}

impl Header {
    /// Writes the count.
    #[inline]
    pub fn patch(self, out: &mut [u8], count: u32) {
        out[self.0..self.0 + 4].copy_from_slice(&count.to_be_bytes());
    }
}
