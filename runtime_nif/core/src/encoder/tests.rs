use eetf::{Atom, BigInteger, Binary, FixInteger, Float, List, Map, Term, Tuple};

use super::value::{Value, ValueRef};
use super::{
    encode, encode_arguments, encode_flat, Caps, Capture, Redaction, Scratch, DEFAULT_CAPS,
};

fn capture_with(v: &Value, caps: &Caps, redaction: &Redaction, secrets: &[&Value]) -> Vec<u8> {
    let secrets: Vec<ValueRef<'_>> = secrets.iter().map(|s| s.view()).collect();
    let capture = Capture {
        caps,
        redaction,
        secrets: &secrets,
    };
    let mut scratch = Scratch::new();
    let first = encode(v.view(), &capture, &mut scratch).to_vec();
    // The same scratch again (its atom cache now warm) gives the same bytes.
    let again = encode(v.view(), &capture, &mut scratch).to_vec();
    assert_eq!(first, again);
    first
}

fn capture(v: &Value, caps: &Caps) -> Vec<u8> {
    capture_with(v, caps, &Redaction::none(), &[])
}

fn arguments(v: &Value, caps: &Caps) -> Term {
    let capture = Capture {
        caps,
        redaction: &Redaction::none(),
        secrets: &[],
    };
    decode(encode_arguments(v.view(), &capture, &mut Scratch::new()))
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

fn list(items: Vec<Term>) -> Term {
    Term::from(List::from(items))
}

fn binary(bytes: &[u8]) -> Term {
    Term::from(Binary::from(bytes.to_vec()))
}

fn chars(text: &str) -> Value {
    Value::list(text.chars().map(|c| Value::Int(c as i64)).collect())
}

fn a_struct(module: &str, fields: Vec<(&str, Value)>) -> Value {
    let mut pairs = vec![(Value::atom("__struct__"), Value::atom(module))];
    pairs.extend(fields.into_iter().map(|(k, v)| (Value::atom(k), v)));
    Value::Map(pairs)
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
        binary(b"hello"),
        list(vec![int(1), atom("a")]),
        Term::from(eetf::ImproperList::from((vec![int(1)], int(2)))),
        Term::from(List::nil()),
        Term::from(Map::from([(atom("k"), int(1))])),
        atom("héllo"),
    ]);
    assert_eq!(term, expected);
}

#[test]
fn a_cut_list_stays_a_proper_list_ending_in_a_marker() {
    // Beyond the Unicode range: numbers, not characters.
    let v = Value::list((2_000_000..2_001_000).map(Value::Int).collect());
    let caps = Caps {
        max_elements: 3,
        ..DEFAULT_CAPS
    };
    let expected = list(vec![
        int(2_000_000),
        int(2_000_001),
        int(2_000_002),
        cut("list", atom("more")),
    ]);
    assert_eq!(decode(&capture(&v, &caps)), expected);
}

#[test]
fn strings_as_lists_are_kept_up_to_the_string_cap_whatever_their_characters() {
    let path = chars("lib/my_app/some/deeply/nested/module_name.ex");
    let caps = Caps {
        max_elements: 4,
        max_string: 64,
        max_nodes: 100,
        ..DEFAULT_CAPS
    };
    let Term::List(kept) = decode(&capture(&path, &caps)) else {
        panic!("a proper list")
    };
    assert_eq!(kept.elements.len(), 44);
    // Unicode code points are characters too: [228, 220, 223, 1455] is kept whole.
    let unicode = Value::list([228, 220, 223, 1455].map(Value::Int).to_vec());
    let term = decode(&capture(&unicode, &caps));
    assert_eq!(term, list([228, 220, 223, 1455].map(int).to_vec()));
    let numbers = Value::list(vec![Value::Int(-1); 10]);
    let Term::List(cut_list) = decode(&capture(&numbers, &caps)) else {
        panic!("a proper list")
    };
    assert_eq!(cut_list.elements.len(), 5, "four elements and the marker");
}

#[test]
fn each_argument_gets_its_own_budget_and_the_list_its_arity() {
    // A 16-key struct first must not cost the next arguments their capture.
    let big = a_struct(
        "Elixir.Big",
        (0..16)
            .map(|i| {
                (
                    ["a", "b", "c", "d"][i % 4],
                    Value::list(vec![Value::Int(i as i64); 4]),
                )
            })
            .collect(),
    );
    let args = Value::list(vec![
        big,
        Value::atom("age"),
        Value::list(vec![Value::Tuple(vec![
            Value::atom("greater_than"),
            Value::Int(40),
        ])]),
    ]);
    let Term::List(list_args) = arguments(&args, &DEFAULT_CAPS) else {
        panic!("the arguments are a proper list")
    };
    assert_eq!(list_args.elements.len(), 3);
    assert_eq!(list_args.elements[1], atom("age"));
    assert_eq!(
        list_args.elements[2],
        list(vec![tuple(vec![atom("greater_than"), int(40)])])
    );
    // More arguments than max_elements: all kept.
    let many = Value::list((0..40).map(Value::Int).collect());
    let Term::List(all) = arguments(&many, &DEFAULT_CAPS) else {
        panic!("a proper list")
    };
    assert_eq!(all.elements.len(), 40);
}

#[test]
fn a_cut_struct_keeps_every_field_and_marks_the_values_it_lost() {
    let user = a_struct(
        "Elixir.User",
        (0..20)
            .map(|i| {
                (
                    ["name", "age", "email", "valid?"][i % 4],
                    Value::Binary(vec![b'x'; 100]),
                )
            })
            .collect(),
    );
    let Value::Map(pairs) = &user else {
        unreachable!()
    };
    // Distinct field names.
    let user = Value::Map(
        pairs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| match k {
                Value::Atom(a) if a != "__struct__" => (Value::atom(&format!("{a}{i}")), v.clone()),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    );
    let Term::Map(m) = decode(&capture(&user, &DEFAULT_CAPS)) else {
        panic!("a map")
    };
    assert_eq!(m.map.len(), 21, "every field and __struct__, no extra key");
    assert!(!m.map.contains_key(&atom("$elixir_scope_cut")));
    let lost = m
        .map
        .values()
        .filter(|v| **v == cut("field", atom("more")))
        .count();
    assert!(lost > 0 && lost < 20, "{lost} values lost");
    // A plain map of the same size is cut with the marker pair.
    let plain = Value::Map((0..20).map(|i| (Value::Int(i), Value::Int(i))).collect());
    let Term::Map(m) = decode(&capture(&plain, &DEFAULT_CAPS)) else {
        panic!("a map")
    };
    assert_eq!(
        m.map.get(&atom("$elixir_scope_cut")),
        Some(&cut("map", int(4)))
    );
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
        cut("binary", tuple(vec![int(100), binary(&[7; 4])]))
    );
}

#[test]
fn a_cut_text_ends_at_a_character_boundary() {
    let caps = Caps {
        max_binary: 4,
        ..DEFAULT_CAPS
    };
    // "aäÜ" is 5 bytes: the fifth would split Ü.
    let text = Value::Binary("aäÜß".as_bytes().to_vec());
    assert_eq!(
        decode(&capture(&text, &caps)),
        cut("binary", tuple(vec![int(7), binary("aä".as_bytes())]))
    );
    // Bytes that are not text are cut where the cap says.
    let bytes = Value::Binary(vec![0xff; 10]);
    assert_eq!(
        decode(&capture(&bytes, &caps)),
        cut("binary", tuple(vec![int(10), binary(&[0xff; 4])]))
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
    let expected = list(vec![list(vec![cut("depth", atom("list"))])]);
    assert_eq!(decode(&capture(&v, &caps)), expected);
}

#[test]
fn the_node_budget_bounds_the_work_on_wide_terms() {
    let wide = Value::Tuple(
        (0..20)
            .map(|i| Value::list((0..20).map(|j| Value::Int(-1000 - i * 20 - j)).collect()))
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
            Term::List(l) => l
                .elements
                .iter()
                .filter(|e| matches!(e, Term::FixInteger(_)))
                .count(),
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
    assert_eq!(list.elements[0], cut("fun", binary(b"#Fun<m.1.2>")));
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

#[test]
fn values_under_secret_keys_are_redacted_anywhere() {
    let secret = Value::Binary(b"hunter2".to_vec());
    let v = Value::list(vec![
        Value::Map(vec![
            (Value::atom("user"), Value::atom("ada")),
            (Value::atom("Password_Hash"), secret.clone()),
        ]),
        Value::Map(vec![(Value::Binary(b"api_key".to_vec()), secret.clone())]),
        Value::list(vec![Value::Tuple(vec![
            Value::atom("token"),
            secret.clone(),
        ])]),
        a_struct("Elixir.Creds", vec![("secret", secret.clone())]),
    ]);
    let bytes = capture_with(&v, &DEFAULT_CAPS, &Redaction::default(), &[]);
    assert!(!bytes.windows(7).any(|w| w == b"hunter2"));
    let Term::List(items) = decode(&bytes) else {
        panic!("a list")
    };
    let Term::Map(first) = &items.elements[0] else {
        panic!("a map")
    };
    assert_eq!(first.map.get(&atom("user")), Some(&atom("ada")));
    assert_eq!(
        first.map.get(&atom("Password_Hash")),
        Some(&cut("redacted", atom("key")))
    );
    assert_eq!(
        items.elements[2],
        list(vec![tuple(vec![
            atom("token"),
            cut("redacted", atom("key"))
        ])])
    );
    // Without redaction it is all there.
    let clear = capture_with(&v, &DEFAULT_CAPS, &Redaction::none(), &[]);
    assert_eq!(clear.windows(7).filter(|w| *w == b"hunter2").count(), 4);
}

#[test]
fn fields_a_struct_hides_are_redacted_even_when_cut() {
    let redaction = Redaction::none().with_structs([("Elixir.User", vec!["password_hash"])]);
    let user = a_struct(
        "Elixir.User",
        vec![
            ("name", Value::Binary(b"ada".to_vec())),
            ("password_hash", Value::Binary(b"$2b$hash".to_vec())),
        ],
    );
    let Term::Map(m) = decode(&capture_with(&user, &DEFAULT_CAPS, &redaction, &[])) else {
        panic!("a map")
    };
    assert_eq!(m.map.get(&atom("name")), Some(&binary(b"ada")));
    assert_eq!(
        m.map.get(&atom("password_hash")),
        Some(&cut("redacted", atom("field")))
    );
    // Another struct with a field of that name keeps it.
    let other = a_struct("Elixir.Other", vec![("password_hash", Value::Int(1))]);
    let Term::Map(m) = decode(&capture_with(&other, &DEFAULT_CAPS, &redaction, &[])) else {
        panic!("a map")
    };
    assert_eq!(m.map.get(&atom("password_hash")), Some(&int(1)));
    // Out of budget, the hidden field still says redacted, not "not captured".
    let caps = Caps {
        max_nodes: 2,
        ..DEFAULT_CAPS
    };
    let Term::Map(m) = decode(&capture_with(&user, &caps, &redaction, &[])) else {
        panic!("a map")
    };
    assert_eq!(
        m.map.get(&atom("password_hash")),
        Some(&cut("redacted", atom("field")))
    );
}

#[test]
fn secrets_are_redacted_wherever_they_occur() {
    let secret = Value::Binary(b"hunter2".to_vec());
    let v = Value::Tuple(vec![
        Value::atom("badmatch"),
        Value::list(vec![Value::Tuple(vec![
            Value::atom("auth"),
            Value::atom("check"),
            Value::list(vec![Value::atom("ada"), secret.clone()]),
        ])]),
    ]);
    let bytes = capture_with(&v, &DEFAULT_CAPS, &Redaction::none(), &[&secret]);
    assert!(!bytes.windows(7).any(|w| w == b"hunter2"));
    assert!(bytes.windows(3).any(|w| w == b"ada"));
    // Atoms are never secrets: `true` as a hidden argument does not hide every `true`.
    let bytes = capture_with(
        &Value::list(vec![Value::atom("true")]),
        &DEFAULT_CAPS,
        &Redaction::none(),
        &[&Value::atom("true")],
    );
    assert_eq!(decode(&bytes), list(vec![atom("true")]));
}

/// Caps of every size the encoder must honour, small enough to cut the generator's terms.
fn any_caps() -> impl proptest::strategy::Strategy<Value = Caps> {
    use proptest::strategy::Strategy;
    (0u32..6, 1u32..6, 0u32..10, 1u32..200, 0u32..40, 64u32..400).prop_map(
        |(depth, elements, string, nodes, binary, total)| {
            Caps {
                max_nodes: nodes,
                max_depth: depth,
                max_elements: elements,
                max_string: string,
                max_binary: binary,
                max_bytes: total,
            }
            .clamped()
        },
    )
}

proptest::proptest! {
    #[test]
    fn any_term_within_any_caps_is_valid_bounded_and_faithful(
        caps in any_caps(),
        seed in 0u64..100_000,
    ) {
        let v = generate(seed, 5);
        let out = capture(&v, &caps);
        let captured = decode(&out);
        // Bounded by the caps whatever the term: total + one leaf + a marker per open level,
        // plus, for each open struct, its remaining fields with a marker each (the generator's
        // structs have at most 26 fields of at most 7 bytes).
        let bound = caps.max_bytes as usize + caps.max_binary as usize
            + 80 * (caps.max_depth as usize + 2) + 26 * (7 + 34) * (caps.max_depth as usize + 1);
        proptest::prop_assert!(out.len() <= bound, "{} > {}", out.len(), bound);
        // Equal to the original wherever not cut, and every cut marked.
        if let Err(why) = faithful(&v, &captured) {
            proptest::prop_assert!(false, "{why}\noriginal: {v:?}\ncaptured: {captured:?}");
        }
    }

    #[test]
    fn values_under_secret_names_are_redacted_and_the_rest_is_faithful(
        seed in 0u64..100_000,
        nodes in 1u32..300,
    ) {
        let caps = Caps { max_nodes: nodes, ..DEFAULT_CAPS };
        let redaction = Redaction::default();
        let v = with_secrets(seed, 5);
        let out = capture_with(&v, &caps, &redaction, &[]);
        proptest::prop_assert!(!out.windows(7).any(|w| w == b"hunter2"));
        if let Err(why) = faithful_in(&v, &decode(&out), Some(&redaction)) {
            proptest::prop_assert!(false, "{why}\noriginal: {v:?}");
        }
    }

    #[test]
    fn arguments_are_a_list_of_their_arity_each_faithful(
        arity in 0usize..20,
        seed in 0u64..100_000,
        nodes in 1u32..40,
    ) {
        let caps = Caps { max_nodes: nodes, ..DEFAULT_CAPS };
        let args: Vec<Value> = (0..arity).map(|i| generate(seed + i as u64 * 7919, 4)).collect();
        let Term::List(captured) = arguments(&Value::list(args.clone()), &caps) else {
            return Err(proptest::test_runner::TestCaseError::fail("not a proper list"));
        };
        proptest::prop_assert_eq!(captured.elements.len(), arity);
        for (original, kept) in args.iter().zip(&captured.elements) {
            if let Err(why) = faithful(original, kept) {
                proptest::prop_assert!(false, "{why}");
            }
        }
    }
}

/// Checks that `captured` equals `original` except where a marker says what was cut there.
fn faithful(original: &Value, captured: &Term) -> Result<(), String> {
    faithful_in(original, captured, None)
}

/// Whether a key's value is redacted under `redaction`.
fn redacted_key(key: &Value, redaction: Option<&Redaction>) -> bool {
    match (key, redaction) {
        (Value::Atom(a), Some(r)) => r.key_matches(a.as_bytes()),
        (Value::Binary(b), Some(r)) => r.key_matches(b),
        _ => false,
    }
}

/// [`faithful`], with the values under keys `redaction` names required to be redacted.
fn faithful_in(
    original: &Value,
    captured: &Term,
    redaction: Option<&Redaction>,
) -> Result<(), String> {
    let faithful = |o: &Value, c: &Term| faithful_in(o, c, redaction);
    if let Some((kind, detail)) = marker(captured) {
        return match (kind, original) {
            ("depth", Value::List(..)) if detail == &atom("list") => Ok(()),
            ("depth", Value::Tuple(_)) if detail == &atom("tuple") => Ok(()),
            ("depth", Value::Map(_)) if detail == &atom("map") => Ok(()),
            ("binary", Value::Binary(bytes)) => match detail {
                Term::Tuple(t) => match t.elements.as_slice() {
                    [size, Term::Binary(prefix)]
                        if *size == to_term(&Value::Int(bytes.len() as i64))
                            && bytes.starts_with(&prefix.bytes)
                            && prefix.bytes.len() < bytes.len() =>
                    {
                        Ok(())
                    }
                    _ => Err(format!("a wrong binary marker {detail:?}")),
                },
                _ => Err(format!("a wrong binary marker {detail:?}")),
            },
            ("fun", Value::Fun(_)) => Ok(()),
            _ => Err(format!("marker {kind} for {original:?}")),
        };
    }
    match original {
        Value::List(items, Some(tail)) if items.is_empty() => faithful(tail, captured),
        Value::Binary(b) if b.starts_with(b"hunter2") => {
            Err(format!("the secret {captured:?} outside a redacted key"))
        }
        Value::List(items, tail) => {
            let (elements, captured_tail) = match captured {
                Term::List(l) => (l.elements.clone(), None),
                Term::ByteList(b) => (b.bytes.iter().map(|&c| int(c as i32)).collect(), None),
                Term::ImproperList(l) => (l.elements.clone(), Some(&*l.last)),
                other => {
                    if items.is_empty() && tail.is_none() {
                        return same(original, other);
                    }
                    return Err(format!("{other:?} for a list"));
                }
            };
            let cut = elements
                .last()
                .is_some_and(|e| marker(e) == Some(("list", &atom("more"))));
            let kept = if cut {
                &elements[..elements.len() - 1]
            } else {
                &elements[..]
            };
            if kept.len() > items.len() {
                return Err(format!("{} elements kept of {}", kept.len(), items.len()));
            }
            for (o, c) in items.iter().zip(kept) {
                faithful(o, c)?;
            }
            match (cut, tail, captured_tail) {
                (true, _, None) if kept.len() < items.len() || tail.is_some() => Ok(()),
                (false, None, None) if kept.len() == items.len() => Ok(()),
                (false, Some(t), Some(c)) if kept.len() == items.len() => faithful(t, c),
                _ => Err(format!(
                    "list of {} cut to {} without a marker",
                    items.len(),
                    kept.len()
                )),
            }
        }
        Value::Tuple(items) => {
            let Term::Tuple(t) = captured else {
                return Err(format!("{captured:?} for a tuple"));
            };
            if let ([key, _], [_, value]) = (items.as_slice(), t.elements.as_slice()) {
                // Redacted, or cut where the budget ran out after the key.
                if redacted_key(key, redaction) {
                    if value != &cut("redacted", atom("key")) && value != &cut("tuple", int(1)) {
                        return Err(format!("{value:?} under the key {key:?}"));
                    }
                    return Ok(());
                }
            }
            match t.elements.split_last() {
                Some((last, kept)) if marker(last).is_some_and(|(k, _)| k == "tuple") => {
                    let omitted = marker(last).map(|(_, d)| d.clone());
                    if omitted != Some(to_term(&Value::Int((items.len() - kept.len()) as i64))) {
                        return Err(format!(
                            "tuple marker {last:?} for {} of {}",
                            kept.len(),
                            items.len()
                        ));
                    }
                    items.iter().zip(kept).try_for_each(|(o, c)| faithful(o, c))
                }
                _ if t.elements.len() == items.len() => items
                    .iter()
                    .zip(&t.elements)
                    .try_for_each(|(o, c)| faithful(o, c)),
                _ => Err(format!(
                    "tuple of {} became {}",
                    items.len(),
                    t.elements.len()
                )),
            }
        }
        Value::Map(pairs) => {
            let Term::Map(m) = captured else {
                return Err(format!("{captured:?} for a map"));
            };
            let is_struct = pairs.iter().any(|(k, _)| k == &Value::atom("__struct__"));
            let mut seen = 0;
            for (key, value) in &m.map {
                if key == &atom("$elixir_scope_cut") {
                    let missing = pairs.len() - (m.map.len() - 1);
                    if value != &cut("map", to_term(&Value::Int(missing as i64))) {
                        return Err(format!("map marker {value:?}, {missing} missing"));
                    }
                    continue;
                }
                let Some((_, o)) = pairs.iter().find(|(k, _)| &to_term(k) == key) else {
                    return Err(format!("key {key:?} is not in the original"));
                };
                seen += 1;
                let (k, _) = pairs
                    .iter()
                    .find(|(k, _)| &to_term(k) == key)
                    .expect("found");
                if redacted_key(k, redaction) {
                    if value != &cut("redacted", atom("key")) {
                        return Err(format!("{value:?} under the key {key:?}"));
                    }
                    continue;
                }
                if is_struct && value == &cut("field", atom("more")) {
                    continue;
                }
                faithful(o, value)?;
            }
            if seen < pairs.len() && !m.map.contains_key(&atom("$elixir_scope_cut")) {
                return Err(format!(
                    "{} of {} pairs without a marker",
                    seen,
                    pairs.len()
                ));
            }
            Ok(())
        }
        Value::Fun(_) => Err(format!("a fun captured as {captured:?}")),
        _ => same(original, captured),
    }
}

fn same(original: &Value, captured: &Term) -> Result<(), String> {
    let expected = to_term(original);
    if &expected == captured {
        Ok(())
    } else {
        Err(format!("{captured:?} for {expected:?}"))
    }
}

fn marker(t: &Term) -> Option<(&str, &Term)> {
    let Term::Tuple(t) = t else { return None };
    match t.elements.as_slice() {
        [Term::Atom(tag), Term::Atom(kind), detail] if tag.name == "$elixir_scope_cut" => {
            Some((kind.name.as_str(), detail))
        }
        _ => None,
    }
}

/// A leaf or key as eetf decodes what the encoder wrote for it.
fn to_term(v: &Value) -> Term {
    match v {
        Value::Atom(a) => atom(a),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => int(small),
            Err(_) => Term::from(BigInteger::from(*i)),
        },
        Value::Float(f) => Term::from(Float::try_from(*f).unwrap()),
        Value::Binary(b) => binary(b),
        Value::Pid(id, serial) => Term::from(eetf::Pid::new("nonode@nohost", *id, *serial, 0)),
        Value::List(items, None) => list(items.iter().map(to_term).collect()),
        Value::List(items, Some(tail)) => Term::from(eetf::ImproperList::from((
            items.iter().map(to_term).collect::<Vec<_>>(),
            to_term(tail),
        ))),
        Value::Tuple(items) => tuple(items.iter().map(to_term).collect()),
        Value::Map(pairs) => Term::from(Map::from(
            pairs
                .iter()
                .map(|(k, v)| (to_term(k), to_term(v)))
                .collect::<std::collections::HashMap<_, _>>(),
        )),
        Value::Fun(_) => atom("fun"),
    }
}

/// A pseudo-random nested term whose maps, structs and pairs have keys that name secrets
/// (`password`, `Api_Key`, `"X-Auth-Token"`), holding `hunter2` binaries, among keys that do not
/// (holding other values, or more of the same).
fn with_secrets(seed: u64, depth: u32) -> Value {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    };
    let keys = [
        Value::atom("password"),
        Value::atom("Api_Key"),
        Value::Binary(b"X-Auth-Token".to_vec()),
        Value::atom("name"),
        Value::Binary(b"email".to_vec()),
    ];
    let secret_key = |k: &Value| match k {
        Value::Atom(a) => Redaction::default().key_matches(a.as_bytes()),
        Value::Binary(b) => Redaction::default().key_matches(b),
        _ => false,
    };
    let n = (next() % 6) as usize;
    let shape = next() % 4;
    let rolls: Vec<u64> = (0..n).map(|_| next()).collect();
    let value = |key: &Value, i: usize| {
        if depth > 0 && rolls[i].is_multiple_of(2) {
            with_secrets(rolls[i] >> 1, depth - 1)
        } else if secret_key(key) {
            Value::Binary(format!("hunter2-{i}").into_bytes())
        } else {
            Value::Binary(format!("clear-{i}").into_bytes())
        }
    };
    match shape {
        0 => Value::Map(
            (0..n)
                .map(|i| {
                    let key = keys[(i + n) % keys.len()].clone();
                    let v = value(&key, i);
                    (key, v)
                })
                .collect(),
        ),
        1 => {
            let mut pairs = vec![(Value::atom("__struct__"), Value::atom("Elixir.Creds"))];
            pairs.extend((0..n).map(|i| {
                let key = match &keys[i % keys.len()] {
                    Value::Binary(b) => Value::Atom(String::from_utf8_lossy(b).into_owned()),
                    other => other.clone(),
                };
                let v = value(&key, i);
                (key, v)
            }));
            Value::Map(pairs)
        }
        2 => Value::list(
            (0..n)
                .map(|i| {
                    let key = keys[i % keys.len()].clone();
                    let v = value(&key, i);
                    Value::Tuple(vec![key, v])
                })
                .collect(),
        ),
        _ => Value::list(
            (0..n)
                .map(|i| with_secrets(seed + i as u64 + 1, depth.saturating_sub(1)))
                .collect(),
        ),
    }
}

/// A pseudo-random nested term: numbers, characters, atoms, texts, lists (proper and not),
/// tuples, maps and structs.
fn generate(seed: u64, depth: u32) -> Value {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let pick = (s >> 33) % 11;
    let n = ((s >> 40) % 14) as usize;
    let mut child = |i: usize| {
        s = s.wrapping_add(i as u64 * 0x9E37_79B9);
        generate(s >> 7, depth.saturating_sub(1))
    };
    match (depth, pick) {
        (0, _) | (_, 0) => Value::Int((seed % 3000) as i64 - 500),
        (_, 1) => Value::atom(["node", "ok", "Elixir.Foo", "é"][n % 4]),
        (_, 2) => Value::Binary("xé€".repeat(n).into_bytes()),
        (_, 3) => Value::list((0..n).map(&mut child).collect()),
        (_, 4) => Value::Tuple((0..n).map(&mut child).collect()),
        (_, 5) => Value::Map((0..n).map(|i| (Value::Int(i as i64), child(i))).collect()),
        (_, 6) => Value::List(
            (0..n.max(1)).map(&mut child).collect(),
            Some(Box::new(Value::Int(1))),
        ),
        (_, 7) => chars(&"ab€\u{5af}".repeat(n)),
        (_, 8) => {
            let mut pairs = vec![(Value::atom("__struct__"), Value::atom("Elixir.S"))];
            pairs.extend((0..n * 2).map(|i| (Value::atom(&format!("f{i}")), child(i))));
            Value::Map(pairs)
        }
        (_, 9) => Value::Pid(n as u32, 0),
        _ => Value::Float(seed as f64 / 3.0),
    }
}

/// The general encoder's bytes for `v` (a call's arguments when `args`), then the fast path's
/// with the atom cache the general encoder left, or `None` where it gave up.
fn general_and_flat(
    v: &Value,
    caps: &Caps,
    redaction: &Redaction,
    args: bool,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let capture = Capture {
        caps,
        redaction,
        secrets: &[],
    };
    let mut scratch = Scratch::new();
    let general = match args {
        true => encode_arguments(v.view(), &capture, &mut scratch).to_vec(),
        false => encode(v.view(), &capture, &mut scratch).to_vec(),
    };
    let flat = encode_flat(v.view(), args, caps, redaction, &mut scratch)
        .then(|| scratch.bytes().to_vec());
    (general, flat)
}

fn real_arguments() -> Value {
    let map = Value::Map(vec![
        (Value::atom("active"), Value::atom("true")),
        (Value::atom("id"), Value::Int(42)),
        (Value::atom("name"), Value::Binary(b"Ada".to_vec())),
        (
            Value::atom("roles"),
            Value::list(vec![Value::atom("admin"), Value::atom("dev")]),
        ),
    ]);
    Value::list(vec![map, Value::list((1..=10).map(Value::Int).collect())])
}

#[test]
fn the_fast_path_writes_real_arguments_once_their_atoms_are_known() {
    let args = real_arguments();
    let redaction = Redaction::default();
    let (general, flat) = general_and_flat(&args, &DEFAULT_CAPS, &redaction, true);
    assert_eq!(flat.as_deref(), Some(&general[..]));
    // Atoms it has not met yet are the general encoder's to learn.
    let mut cold = Scratch::new();
    assert!(!encode_flat(
        args.view(),
        true,
        &DEFAULT_CAPS,
        &redaction,
        &mut cold
    ));
}

#[test]
fn the_fast_path_leaves_every_rule_to_the_general_encoder() {
    let redaction = Redaction::default().with_structs([("Elixir.User", vec!["password_hash"])]);
    let gives_up = |v: &Value, caps: &Caps| {
        let (_, flat) = general_and_flat(v, caps, &redaction, false);
        assert!(flat.is_none(), "wrote {v:?}");
    };
    let user = a_struct(
        "User",
        vec![("password_hash", Value::Binary(b"x".to_vec()))],
    );
    gives_up(&user, &DEFAULT_CAPS);
    let secret = Value::Map(vec![(
        Value::atom("password"),
        Value::Binary(b"x".to_vec()),
    )]);
    gives_up(&secret, &DEFAULT_CAPS);
    let pair = Value::Tuple(vec![Value::Binary(b"api_key".to_vec()), Value::Int(1)]);
    gives_up(&pair, &DEFAULT_CAPS);
    let long = Value::list((0..40).map(|i| Value::atom(&format!("a{i}"))).collect());
    gives_up(&long, &DEFAULT_CAPS);
    gives_up(&chars(&"x".repeat(40)), &DEFAULT_CAPS);
    gives_up(&Value::Binary(vec![b'a'; 200]), &DEFAULT_CAPS);
    gives_up(&Value::Pid(1, 2), &DEFAULT_CAPS);
    let deep = (0..10).fold(Value::Int(1), |v, _| Value::list(vec![v]));
    gives_up(&deep, &DEFAULT_CAPS);
    let small = Caps {
        max_nodes: 3,
        ..DEFAULT_CAPS
    };
    gives_up(&Value::list((1..=10).map(Value::Int).collect()), &small);
}

#[test]
fn the_fast_path_writes_what_the_general_encoder_writes_or_gives_up() {
    let redaction = Redaction::default().with_structs([("Elixir.S", vec!["f1"])]);
    let mut written = 0;
    for seed in 0..3000u64 {
        let v = generate(seed, 4);
        let caps = Caps {
            max_nodes: 8 + (seed % 64) as u32,
            max_elements: 4 + (seed % 13) as u32,
            max_string: (seed % 40) as u32,
            ..DEFAULT_CAPS
        };
        for redaction in [&Redaction::none(), &redaction] {
            let (general, flat) = general_and_flat(&v, &caps, redaction, seed % 2 == 0);
            if let Some(flat) = flat {
                assert_eq!(flat, general, "seed {seed}: {v:?}");
                written += 1;
            }
        }
    }
    // Not a fast path that always gives up.
    assert!(written > 1000, "the fast path wrote {written} of 6000");
}

/// Strings of every length up to far past the default caps, with code points written in two
/// bytes and in five, other elements between runs of characters and improper tails: the
/// fast path writes them all, as the general encoder does.
#[test]
fn the_fast_path_writes_long_strings_as_the_general_encoder_does() {
    let caps = Caps {
        max_nodes: 10_000,
        max_elements: 10_000,
        max_string: 10_000,
        max_bytes: 100_000,
        ..DEFAULT_CAPS
    };
    for len in [0, 1, 31, 32, 33, 64, 65, 200, 1000] {
        let text: String = "aé€\u{10FFFF}x".chars().cycle().take(len).collect();
        let mut mixed = chars(&text);
        if let Value::List(elements, _) = &mut mixed {
            for at in (0..elements.len()).step_by(37).rev() {
                elements.insert(at, Value::atom("ok"));
            }
        }
        let improper = match chars(&text) {
            Value::List(elements, _) if !elements.is_empty() => {
                Value::List(elements, Some(Box::new(Value::Int(-1))))
            }
            other => other,
        };
        for v in [chars(&text), mixed, improper] {
            for args in [false, true] {
                let v = match args {
                    true => Value::list(vec![v.clone(), Value::Int(7)]),
                    false => v.clone(),
                };
                let (general, flat) = general_and_flat(&v, &caps, &Redaction::none(), args);
                assert_eq!(flat.as_ref(), Some(&general), "{len} characters: {v:?}");
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn the_fast_path_agrees_with_the_general_encoder_within_any_caps(
        caps in any_caps(),
        seed in 0u64..100_000,
        args: bool,
    ) {
        let v = match args {
            true => Value::list((0..seed % 4).map(|i| generate(seed + i * 7919, 4)).collect()),
            false => with_secrets(seed, 4),
        };
        let (general, flat) = general_and_flat(&v, &caps, &Redaction::default(), args);
        if let Some(flat) = flat {
            proptest::prop_assert_eq!(flat, general);
        }
    }
}

/// A rough timing of the encoder itself on real arguments (no VM); run with
/// `cargo test --release -p elixir_scope_runtime_core --lib -- --ignored --nocapture timing`.
#[test]
#[ignore]
fn timing_of_real_arguments() {
    let args = real_arguments();
    let redaction = Redaction::default();
    let capture = Capture {
        caps: &DEFAULT_CAPS,
        redaction: &redaction,
        secrets: &[],
    };
    let mut scratch = Scratch::new();
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let mut total = 0;
        for _ in 0..1_000_000 {
            total +=
                encode_arguments(std::hint::black_box(args.view()), &capture, &mut scratch).len();
        }
        let general = start.elapsed().as_nanos() as f64 / 1e6;
        let start = std::time::Instant::now();
        for _ in 0..1_000_000 {
            let args = std::hint::black_box(args.view());
            if encode_flat(args, true, &DEFAULT_CAPS, &redaction, &mut scratch) {
                total += scratch.bytes().len();
            }
        }
        let flat = start.elapsed().as_nanos() as f64 / 1e6;
        println!("ns per capture: general {general:.1}, fast path {flat:.1} ({total})");
    }
}
