//! Parsing and writing beams: the work `inspect` and the rewriter do on every file.

use criterion::{criterion_group, criterion_main, Criterion};

use beam_format::{Beam, Tables};

fn enum_beam() -> Vec<u8> {
    let path = "/usr/lib/elixir/lib/elixir/ebin/Elixir.Enum.beam";
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; install Debian's elixir package"))
}

fn codec(c: &mut Criterion) {
    let bytes = enum_beam();
    c.bench_function("parse Elixir.Enum.beam", |b| {
        b.iter(|| Beam::parse(std::hint::black_box(&bytes)).unwrap())
    });
    let beam = Beam::parse(&bytes).unwrap();
    c.bench_function("decode tables of Elixir.Enum", |b| {
        b.iter(|| Tables::decode(std::hint::black_box(&beam)).unwrap())
    });
    c.bench_function("write Elixir.Enum.beam", |b| {
        b.iter(|| std::hint::black_box(&beam).to_file_bytes())
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
