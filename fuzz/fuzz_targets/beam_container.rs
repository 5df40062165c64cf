//! Any bytes given to the BEAM reader: parse the container and decode everything
//! `inspect` and the rewriter read. Errors are fine; panics, aborts and huge allocations are not.
#![no_main]

use std::path::Path;

use beam_format::{attributes, literals, Beam, ChunkId, Summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(beam) = Beam::parse(data) else {
        return;
    };
    let _ = Summary::of_beam(Path::new("fuzz.beam"), &beam);
    if let Some(chunk) = beam.chunk(ChunkId::LITT) {
        let _ = literals::decode(chunk);
    }
    let _ = attributes::attributes(&beam);
    let _ = attributes::compile_info(&beam);
    let _ = beam.to_file_bytes();
});
