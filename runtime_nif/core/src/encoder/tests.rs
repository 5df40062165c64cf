use eetf::{Atom, BigInteger, Binary, FixInteger, Float, List, Map, Term, Tuple};

use super::value::Value;
use super::{encode, Caps, DEFAULT_CAPS};

fn capture(v: &Value, caps: &Caps) -> Vec<u8> {
    let mut out = store::Bytes::new();
    encode(v.view(), caps, &mut out);
    let mut direct = Vec::new();
    encode(v.view(), caps, &mut direct);
    assert_eq!(out.to_vec(), direct);
    out.to_vec()
}

fn decode(bytes: &[u8]) -> Term {
    Term::decode(bytes).expect("the encoder writes valid ETF")
}

fn atom(a: &str) -> Term {
    Term::from(Atom::from(a))
}

fn int(i: i32) -> Term {
    Term::from(FixInteger::from(i))
}

fn cut(kind: &str, detail: Term) -> Term {
    Term::from(Tuple::from(vec![
        atom("$elixir_scope_cut"),
        atom(kind),
        detail,
    ]))
}

fn tuple(items: Vec<Term>) -> Term {
    Term::from(Tuple::from(items))
}

#[test]
fn small_terms_round_trip_exactly() {
    let v = Value::Tuple(vec![
        Value::atom("ok"),
        Value::Int(-7),
        Value::Int(300),
        Value::Int(1 << 40),
        Value::Int(i64::MIN),
        Value::Float(1.5),
        Value::Binary(b"hello".to_vec()),
        Value::list(vec![Value::Int(1), Value::atom("a")]),
        Value::List(vec![Value::Int(1)], Some(Box::new(Value::Int(2)))),
        Value::list(vec![]),
        Value::Map(vec![(Value::atom("k"), Value::Int(1))]),
        Value::atom("héllo"),
    ]);
    let term = decode(&capture(&v, &DEFAULT_CAPS));
    let expected = tuple(vec![
        atom("ok"),
        int(-7),
        int(300),
        Term::from(BigInteger::from(1i64 << 40)),
        Term::from(BigInteger::from(i64::MIN)),
        Term::from(Float::try_from(1.5).unwrap()),
        Term::from(Binary::from(b"hello".to_vec())),
        Term::from(List::from(vec![int(1), atom("a")])),
        Term::from(eetf::ImproperList::from((vec![int(1)], int(2)))),
        Term::from(List::nil()),
        Term::from(Map::from([(atom("k"), int(1))])),
        atom("héllo"),
    ]);
    assert_eq!(term, expected);
}

#[test]
fn long_lists_end_in_a_marker_tail() {
    let v = Value::list((1000..2000).map(Value::Int).collect());
    let caps = Caps {
        max_elements: 3,
        ..DEFAULT_CAPS
    };
    let term = decode(&capture(&v, &caps));
    let expected = Term::from(eetf::ImproperList::from((
        vec![int(1000), int(1001), int(1002)],
        cut("list", atom("more")),
    )));
    assert_eq!(term, expected);
}

#[test]
fn strings_as_lists_are_kept_up_to_the_string_cap() {
    let path: Vec<Value> = "lib/my_app/some/deeply/nested/module_name.ex"
        .bytes()
        .map(|b| Value::Int(b as i64))
        .collect();
    let v = Value::list(path.clone());
    let caps = Caps {
        max_elements: 4,
        max_string: 64,
        max_nodes: 100,
        ..DEFAULT_CAPS
    };
    let Term::List(list) = decode(&capture(&v, &caps)) else {
        panic!("a proper list")
    };
    assert_eq!(list.elements.len(), path.len());
    let numbers = Value::list((1000..1010).map(Value::Int).collect());
    let Term::ImproperList(cut_list) = decode(&capture(&numbers, &caps)) else {
        panic!("cut")
    };
    assert_eq!(cut_list.elements.len(), 4);
}

#[test]
fn big_tuples_maps_and_binaries_say_how_much_was_cut() {
    let caps = Caps {
        max_elements: 2,
        max_binary: 4,
        ..DEFAULT_CAPS
    };
    let t = Value::Tuple((0..10).map(Value::Int).collect());
    assert_eq!(
        decode(&capture(&t, &caps)),
        tuple(vec![int(0), int(1), cut("tuple", int(8))])
    );
    let m = Value::Map((0..5).map(|i| (Value::Int(i), Value::Int(i))).collect());
    let Term::Map(map) = decode(&capture(&m, &caps)) else {
        panic!("not a map")
    };
    assert_eq!(map.map.len(), 3);
    assert_eq!(
        map.map.get(&atom("$elixir_scope_cut")),
        Some(&cut("map", int(3)))
    );
    let b = Value::Binary(vec![7; 100]);
    assert_eq!(
        decode(&capture(&b, &caps)),
        cut(
            "binary",
            tuple(vec![int(100), Term::from(Binary::from(vec![7; 4]))])
        )
    );
}

#[test]
fn nesting_is_cut_at_the_depth_cap() {
    let mut v = Value::Int(0);
    for _ in 0..10 {
        v = Value::list(vec![v]);
    }
    let caps = Caps {
        max_depth: 2,
        ..DEFAULT_CAPS
    };
    let expected = Term::from(List::from(vec![Term::from(List::from(vec![cut(
        "depth",
        atom("list"),
    )]))]));
    assert_eq!(decode(&capture(&v, &caps)), expected);
}

#[test]
fn the_node_budget_bounds_the_work_on_wide_terms() {
    let wide = Value::Tuple(
        (0..20)
            .map(|i| Value::list((0..20).map(|j| Value::Int(1000 + i * 20 + j)).collect()))
            .collect(),
    );
    let caps = Caps {
        max_nodes: 10,
        ..DEFAULT_CAPS
    };
    let Term::Tuple(t) = decode(&capture(&wide, &caps)) else {
        panic!("a tuple")
    };
    // The tuple and 9 more terms, then markers close what is open.
    let kept: usize = t
        .elements
        .iter()
        .map(|e| match e {
            Term::ImproperList(l) => l.elements.len(),
            Term::List(l) => l.elements.len(),
            _ => 0,
        })
        .sum();
    assert!(kept <= 9, "{kept} list elements kept");
    assert_eq!(t.elements.last(), Some(&cut("tuple", int(20 - 1))));
}

#[test]
fn funs_keep_their_description_and_pids_are_exact() {
    let v = Value::list(vec![Value::Fun("#Fun<m.1.2>".into()), Value::Pid(80, 0)]);
    let Term::List(list) = decode(&capture(&v, &DEFAULT_CAPS)) else {
        panic!("not a list")
    };
    assert_eq!(
        list.elements[0],
        cut("fun", Term::from(Binary::from(b"#Fun<m.1.2>".to_vec())))
    );
    assert!(matches!(list.elements[1], Term::Pid(ref p) if p.id == 80));
}

#[test]
fn huge_inputs_cost_no_more_than_the_caps() {
    let huge_binary = Value::Binary(vec![1; 10_000_000]);
    let long_list = Value::list((0..200_000).map(Value::Int).collect());
    let wide = Value::list(
        (0..100)
            .map(|_| Value::list((0..100).map(|_| Value::Binary(vec![2; 200])).collect()))
            .collect(),
    );
    for v in [huge_binary, long_list, wide] {
        let out = capture(&v, &DEFAULT_CAPS);
        // A leaf and the closing markers over the total cap at most.
        assert!(out.len() < 1024 + 128 + 64 * 9, "{} bytes", out.len());
        decode(&out);
    }
}

proptest::proptest! {
    #[test]
    fn any_term_within_any_caps_is_valid_and_bounded(
        depth in 0u32..6,
        elements in 1u32..6,
        string in 0u32..10,
        nodes in 1u32..200,
        binary in 0u32..40,
        total in 64u32..400,
        seed in 0u64..10_000,
    ) {
        let caps = Caps {
            max_nodes: nodes,
            max_depth: depth,
            max_elements: elements,
            max_string: string,
            max_binary: binary,
            max_bytes: total,
        }
        .clamped();
        let v = generate(seed, 5);
        let out = capture(&v, &caps);
        decode(&out);
        // Bounded by the caps whatever the term: total + one leaf + a marker per open level.
        let bound = caps.max_bytes as usize + caps.max_binary as usize + 80 * (caps.max_depth as usize + 2);
        proptest::prop_assert!(out.len() <= bound, "{} > {}", out.len(), bound);
    }
}

/// A pseudo-random nested term.
fn generate(seed: u64, depth: u32) -> Value {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let pick = (s >> 33) % 8;
    let n = ((s >> 40) % 12) as usize;
    let mut child = |i: usize| {
        s = s.wrapping_add(i as u64 * 0x9E37_79B9);
        generate(s >> 7, depth.saturating_sub(1))
    };
    match (depth, pick) {
        (0, _) | (_, 0) => Value::Int((seed % 1000) as i64 - 500),
        (_, 1) => Value::atom("node"),
        (_, 2) => Value::Binary(vec![b'x'; n * 7]),
        (_, 3) => Value::list((0..n).map(&mut child).collect()),
        (_, 4) => Value::Tuple((0..n).map(&mut child).collect()),
        (_, 5) => Value::Map((0..n).map(|i| (Value::Int(i as i64), child(i))).collect()),
        (_, 6) => Value::List(
            (0..n).map(&mut child).collect(),
            Some(Box::new(Value::Int(1))),
        ),
        _ => Value::Float(seed as f64 / 3.0),
    }
}
