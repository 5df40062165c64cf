//! The tags of the external term format (what `term_to_binary/1` writes), numbered as OTP
//! numbers them (`erts/emulator/beam/external.h`; the "External Term Format" chapter of the
//! ERTS user's guide says what follows each tag).
//!
//! One table for every reader and writer of terms in the workspace: the guarded decoder of
//! beams' terms (`beam_format::etf`), the few shapes the store's writer reads (`store::etf`),
//! recorded values read in place (`analysis::etf`, `analysis::value_diff`), and the runtime's
//! encoder (`runtime_core::encoder::etf`) and NIF, whose hot path these constants compile
//! into as they would from a local `const`.
//!
//! The names drop OTP's `_EXT`: [`SMALL_INTEGER`] is `SMALL_INTEGER_EXT`.

#![no_std]

/// The version byte every external term starts with.
pub const VERSION: u8 = 131;

/// `NEW_FLOAT_EXT`: an IEEE 754 double, 8 bytes big-endian.
pub const NEW_FLOAT: u8 = 70;
/// `BIT_BINARY_EXT`: a bitstring (4-byte length, the bits used in its last byte, the bytes).
pub const BIT_BINARY: u8 = 77;
/// `COMPRESSED`: a zlib-compressed term (4-byte inflated size, the deflated bytes).
pub const COMPRESSED: u8 = 80;
/// `NEW_PID_EXT`: node atom, ID, serial and creation (4 bytes each).
pub const NEW_PID: u8 = 88;
/// `NEW_PORT_EXT`: node atom, 4-byte ID, 4-byte creation.
pub const NEW_PORT: u8 = 89;
/// `NEWER_REFERENCE_EXT`: 2-byte word count, node atom, 4-byte creation, the words.
pub const NEWER_REFERENCE: u8 = 90;
/// `SMALL_INTEGER_EXT`: an integer 0..=255, one byte.
pub const SMALL_INTEGER: u8 = 97;
/// `INTEGER_EXT`: a 32-bit signed integer, big-endian.
pub const INTEGER: u8 = 98;
/// `FLOAT_EXT`: a float as 31 bytes of text (before `NEW_FLOAT_EXT`).
pub const FLOAT: u8 = 99;
/// `ATOM_EXT`: a Latin-1 atom, 2-byte length.
pub const ATOM: u8 = 100;
/// `REFERENCE_EXT`: node atom, 4-byte ID, 1-byte creation (before `NEW_REFERENCE_EXT`).
pub const REFERENCE: u8 = 101;
/// `PORT_EXT`: node atom, 4-byte ID, 1-byte creation.
pub const PORT: u8 = 102;
/// `PID_EXT`: node atom, 4-byte ID and serial, 1-byte creation.
pub const PID: u8 = 103;
/// `SMALL_TUPLE_EXT`: a tuple of at most 255 elements (1-byte arity).
pub const SMALL_TUPLE: u8 = 104;
/// `LARGE_TUPLE_EXT`: a tuple with a 4-byte arity.
pub const LARGE_TUPLE: u8 = 105;
/// `NIL_EXT`: `[]`.
pub const NIL: u8 = 106;
/// `STRING_EXT`: a list of bytes (2-byte length).
pub const STRING: u8 = 107;
/// `LIST_EXT`: 4-byte length, the elements, then the tail.
pub const LIST: u8 = 108;
/// `BINARY_EXT`: 4-byte length, the bytes.
pub const BINARY: u8 = 109;
/// `SMALL_BIG_EXT`: 1-byte digit count, the sign, little-endian digits.
pub const SMALL_BIG: u8 = 110;
/// `LARGE_BIG_EXT`: 4-byte digit count, the sign, little-endian digits.
pub const LARGE_BIG: u8 = 111;
/// `NEW_FUN_EXT`: a fun (its 4-byte size counts the size field).
pub const NEW_FUN: u8 = 112;
/// `EXPORT_EXT`: `fun M:F/A` (three terms).
pub const EXPORT: u8 = 113;
/// `NEW_REFERENCE_EXT`: 2-byte word count, node atom, 1-byte creation, the words.
pub const NEW_REFERENCE: u8 = 114;
/// `SMALL_ATOM_EXT`: a Latin-1 atom, 1-byte length.
pub const SMALL_ATOM: u8 = 115;
/// `MAP_EXT`: 4-byte pair count, then key, value, key, ...
pub const MAP: u8 = 116;
/// `FUN_EXT`: a fun in the old format.
pub const FUN: u8 = 117;
/// `ATOM_UTF8_EXT`: a UTF-8 atom, 2-byte length.
pub const ATOM_UTF8: u8 = 118;
/// `SMALL_ATOM_UTF8_EXT`: a UTF-8 atom, 1-byte length.
pub const SMALL_ATOM_UTF8: u8 = 119;
/// `V4_PORT_EXT`: node atom, 8-byte ID, 4-byte creation.
pub const V4_PORT: u8 = 120;
