//! Any bytes given to the guarded ETF decoder, on an ordinary thread (depth-limited) and
//! re-encoded: decoding may fail, never panic; what decodes re-encodes and decodes equal.
#![no_main]

use beam_format::etf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(term) = etf::decode(data) {
        let again = etf::decode(&etf::encode(&term));
        assert_eq!(again.as_ref().ok(), Some(&term), "re-encoded term differs");
    }
});
