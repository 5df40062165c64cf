//! The bounded encoder: a small argument list against a 100 MB binary, a million-element list
//! and a wide nested term, with the default caps. The huge inputs must cost about what a small
//! one costs.

use criterion::{criterion_group, criterion_main, Criterion};
use runtime_core::encoder::value::Value;
use runtime_core::encoder::{encode_arguments, Caps, Capture, Redaction, Scratch};

fn encoder(c: &mut Criterion) {
    let caps = Caps::default();
    let redaction = Redaction::default();
    let capture = Capture {
        caps: &caps,
        redaction: &redaction,
        secrets: &[],
    };
    let mut scratch = Scratch::new();
    let cases = [
        (
            "small arguments [1, ok, <<\"abc\">>]",
            Value::list(vec![
                Value::Int(1),
                Value::atom("ok"),
                Value::Binary(b"abc".to_vec()),
            ]),
        ),
        (
            "g(Map, List): a 4-key map and a 10-element list",
            Value::list(vec![
                Value::Map(vec![
                    (Value::atom("active"), Value::atom("true")),
                    (Value::atom("id"), Value::Int(42)),
                    (Value::atom("name"), Value::Binary(b"Ada".to_vec())),
                    (
                        Value::atom("roles"),
                        Value::list(vec![Value::atom("admin"), Value::atom("dev")]),
                    ),
                ]),
                Value::list((1..=10).map(Value::Int).collect()),
            ]),
        ),
        (
            "a 100 MB binary",
            Value::list(vec![Value::Binary(vec![7; 100_000_000])]),
        ),
        (
            "a 1,000,000-element list",
            Value::list(vec![Value::list(
                (0..1_000_000).map(|i| Value::Int(i + 1000)).collect(),
            )]),
        ),
        (
            "a map of 1,000 maps of 10 binaries",
            Value::list(vec![Value::Map(
                (0..1000)
                    .map(|i| {
                        (
                            Value::Int(i),
                            Value::Map(
                                (0..10)
                                    .map(|j| (Value::Int(j), Value::Binary(vec![1; 300])))
                                    .collect(),
                            ),
                        )
                    })
                    .collect(),
            )]),
        ),
    ];
    let mut group = c.benchmark_group("encode with the default caps");
    for (name, value) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                encode_arguments(std::hint::black_box(value).view(), &capture, &mut scratch).len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encoder);
criterion_main!(benches);
