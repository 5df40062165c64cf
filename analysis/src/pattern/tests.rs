use std::collections::HashMap;

use eetf::{Binary, Float, List, Map, Term, Tuple};

use super::*;
use crate::test_terms::{atom, int};

fn bin(s: &str) -> Term {
    Binary::from(s.as_bytes().to_vec()).into()
}

fn tuple(items: Vec<Term>) -> Term {
    Tuple::from(items).into()
}

fn list(items: Vec<Term>) -> Term {
    List::from(items).into()
}

fn map(pairs: Vec<(Term, Term)>) -> Term {
    Map::from(pairs.into_iter().collect::<HashMap<_, _>>()).into()
}

fn bytes(term: Term) -> Vec<u8> {
    let mut out = Vec::new();
    term.encode(&mut out).expect("encodes");
    out
}

fn cut(kind: &str, detail: Term) -> Term {
    tuple(vec![atom(term::CUT), atom(kind), detail])
}

fn elixir(text: &str, value: Term) -> bool {
    ValuePattern::parse(text, Dialect::Elixir)
        .unwrap_or_else(|e| panic!("{e}"))
        .matches(&bytes(value))
        .expect("a term")
}

fn erlang(text: &str, value: Term) -> bool {
    ValuePattern::parse(text, Dialect::Erlang)
        .unwrap_or_else(|e| panic!("{e}"))
        .matches(&bytes(value))
        .expect("a term")
}

#[test]
fn literals_and_structures_match_as_in_elixir() {
    assert!(elixir(
        "{:error, _}",
        tuple(vec![atom("error"), atom("enoent")])
    ));
    assert!(!elixir("{:error, _}", tuple(vec![atom("ok"), int(1)])));
    assert!(!elixir(
        "{:error, _}",
        tuple(vec![atom("error"), int(1), int(2)])
    ));
    assert!(elixir("[1, 2 | _]", list(vec![int(1), int(2), int(3)])));
    assert!(!elixir("[1, 2]", list(vec![int(1), int(2), int(3)])));
    assert!(elixir("[]", Term::from(eetf::List::nil())));
    assert!(elixir("\"joe\"", bin("joe")));
    assert!(elixir("'ab'", list(vec![int(97), int(98)])));
    assert!(elixir("-7", int(-7)));
    assert!(!elixir("1", Float::try_from(1.0).unwrap().into()));
    assert!(elixir("1.5", Float::try_from(1.5).unwrap().into()));
    assert!(elixir("nil", atom("nil")));
    assert!(elixir("Shop.Order", atom("Elixir.Shop.Order")));
    assert!(elixir(
        "[a: 1, b: _]",
        list(vec![
            tuple(vec![atom("a"), int(1)]),
            tuple(vec![atom("b"), int(2)])
        ])
    ));
}

#[test]
fn maps_match_the_pairs_named_and_structs_their_module() {
    let order = map(vec![
        (atom("__struct__"), atom("Elixir.Shop.Order")),
        (atom("customer"), bin("joe")),
        (atom("total"), int(30)),
    ]);
    assert!(elixir("%{customer: \"joe\"}", order.clone()));
    assert!(elixir(
        "%Shop.Order{customer: c} when byte_size(c) == 3",
        order.clone()
    ));
    assert!(!elixir("%Shop.Cart{}", order.clone()));
    assert!(!elixir("%{customer: \"ann\"}", order.clone()));
    assert!(elixir("%{\"k\" => 1}", map(vec![(bin("k"), int(1))])));
    assert!(erlang("#{customer := <<\"joe\">>}", order));
}

#[test]
fn variables_bind_once_and_guards_decide() {
    assert!(elixir("{x, x}", tuple(vec![int(1), int(1)])));
    assert!(!elixir("{x, x}", tuple(vec![int(1), int(2)])));
    assert!(elixir("{_, _}", tuple(vec![int(1), int(2)])));
    assert!(elixir("n when n > 10", int(11)));
    assert!(!elixir("n when n > 10", int(10)));
    assert!(elixir("n when n > 10 and n < 20", int(15)));
    assert!(elixir("n when n < 0 or n > 100", int(101)));
    assert!(elixir("n when not is_atom(n)", int(1)));
    assert!(elixir(
        "l when length(l) == 3",
        list(vec![int(1), int(2), int(3)])
    ));
    assert!(elixir(
        "m when map_size(m) >= 1",
        map(vec![(atom("a"), int(1))])
    ));
    assert!(elixir("x when x == 1.0", int(1)));
    assert!(!elixir("x when x === 1.0", int(1)));
    assert!(elixir("x when is_binary(x)", bin("s")));
    assert!(elixir("x when x == :ok", atom("ok")));
    assert!(erlang("N when N > 10, N < 20", int(15)));
    assert!(erlang("N when N < 0; N > 100", int(101)));
    assert!(erlang("{X, X}", tuple(vec![int(4), int(4)])));
}

#[test]
fn binary_prefixes() {
    assert!(elixir(
        "\"GET \" <> path when byte_size(path) > 1",
        bin("GET /cart")
    ));
    assert!(!elixir("\"GET \" <> _", bin("POST /cart")));
    assert!(elixir("<<\"GE\", rest::binary>>", bin("GET")));
    assert!(erlang("<<\"GET \", Path/binary>>", bin("GET /")));
    assert!(erlang("<<\"abc\">>", bin("abc")));
    assert!(erlang("\"ab\"", list(vec![int(97), int(98)])));
}

#[test]
fn what_the_capture_cut_or_redacted_is_matched_only_by_a_variable_or_underscore() {
    let cut_list = list(vec![int(1), cut("list", atom("more"))]);
    assert!(!elixir("[1]", cut_list.clone()));
    assert!(!elixir("[1, 2 | _]", cut_list.clone()));
    assert!(elixir("[1 | _]", cut_list.clone()));
    assert!(!elixir("l when length(l) == 2", cut_list));
    let secret = cut("redacted", atom("key"));
    assert!(!elixir("\"hunter2\"", secret.clone()));
    assert!(!elixir("{_, _, _}", secret.clone()));
    assert!(elixir("_", secret.clone()));
    assert!(!elixir("x when x > 1", secret));
    let cut_map = map(vec![
        (atom("a"), int(1)),
        (atom(term::CUT), cut("map", int(3))),
    ]);
    assert!(elixir("%{a: 1}", cut_map.clone()));
    assert!(!elixir("%{b: 1}", cut_map.clone()));
    assert!(!elixir("m when map_size(m) == 2", cut_map));
}

#[test]
fn search_finds_a_value_anywhere() {
    let value = bytes(tuple(vec![
        atom("ok"),
        list(vec![map(vec![(atom("name"), bin("tea"))])]),
    ]));
    let p = ValuePattern::parse("\"tea\"", Dialect::Elixir).unwrap();
    assert!(p.occurs_in(&value).unwrap());
    assert!(!ValuePattern::parse("\"coffee\"", Dialect::Elixir)
        .unwrap()
        .occurs_in(&value)
        .unwrap());
    assert!(ValuePattern::parse("%{name: _}", Dialect::Elixir)
        .unwrap()
        .occurs_in(&value)
        .unwrap());
    assert_eq!(p.needles(), vec![b"tea".to_vec()]);
    // Numbers are found by their bytes as the encoders write them (the smallest encoding).
    for n in [-70000i64, 300, 1 << 40, -(1 << 40)] {
        let value = bytes(match i32::try_from(n) {
            Ok(i) => int(i),
            Err(_) => eetf::BigInteger::from(n).into(),
        });
        let p = ValuePattern::parse(&n.to_string(), Dialect::Elixir).unwrap();
        assert!(p.matches(&value).unwrap(), "{n}");
        let needle = &p.needles()[0];
        assert!(
            value.windows(needle.len()).any(|w| w == needle.as_slice()),
            "{n}"
        );
    }
    let given = ValuePattern::of_value(&bytes(bin("tea")), Dialect::Elixir).unwrap();
    assert!(given.occurs_in(&value).unwrap());
}

#[test]
fn call_patterns_in_both_dialects() {
    let c = CallPattern::parse("Shop.Checkout.place(%{customer: \"joe\"})").unwrap();
    assert_eq!(c.dialect, Dialect::Elixir);
    assert_eq!(c.module.as_deref(), Some("Elixir.Shop.Checkout"));
    assert_eq!(c.function.as_deref(), Some("place"));
    assert_eq!(c.arity, Some(1));
    let c = CallPattern::parse("lists:keyfind(_, 1, _)").unwrap();
    assert_eq!(c.dialect, Dialect::Erlang);
    assert_eq!(
        (c.module.as_deref(), c.function.as_deref(), c.arity),
        (Some("lists"), Some("keyfind"), Some(3))
    );
    let c = CallPattern::parse(":lists.reverse/1").unwrap();
    assert_eq!(
        (c.module.as_deref(), c.function.as_deref(), c.arity),
        (Some("lists"), Some("reverse"), Some(1))
    );
    let c = CallPattern::parse("_:handle_call(_, _, _)").unwrap();
    assert_eq!(
        (c.module, c.function.as_deref()),
        (None, Some("handle_call"))
    );
    let c = CallPattern::parse("Shop.Inventory").unwrap();
    assert_eq!(
        (c.module.as_deref(), c.function),
        (Some("Elixir.Shop.Inventory"), None)
    );
    let c = CallPattern::parse("'Elixir.Shop.Cart':add(Cart, Qty) when Qty > 10").unwrap();
    let args = c.args.unwrap();
    assert!(args
        .matches(&bytes(list(vec![atom("c"), int(11)])))
        .unwrap());
    assert!(!args.matches(&bytes(list(vec![atom("c"), int(9)]))).unwrap());
    let c = CallPattern::parse("Cart.valid?(x)").unwrap();
    assert_eq!(c.function.as_deref(), Some("valid?"));
}

#[test]
fn bad_patterns_point_at_the_column() {
    let e = CallPattern::parse("Shop.Checkout.place(%{customer: \"joe\"}").unwrap_err();
    assert_eq!(e.column, 39);
    assert!(e.message.contains("expected `,` or `)`"), "{e}");
    assert!(
        e.to_string().ends_with(&format!("{}^", " ".repeat(38))),
        "{e}"
    );
    let e = ValuePattern::parse("{:ok, x} when y > 1", Dialect::Elixir).unwrap_err();
    assert_eq!(
        (e.column, e.message.as_str()),
        (15, "`y` is not bound by the pattern")
    );
    let e = ValuePattern::parse("{1, 2", Dialect::Elixir).unwrap_err();
    assert_eq!(e.column, 6);
    let e = ValuePattern::parse("\"open", Dialect::Elixir).unwrap_err();
    assert_eq!(
        (e.column, e.message.as_str()),
        (1, "this \" is never closed")
    );
    let e = ValuePattern::parse("%{f(x) => 1}", Dialect::Elixir).unwrap_err();
    assert_eq!(e.column, 3);
    let e = ValuePattern::parse("#rec{a = 1}", Dialect::Erlang).unwrap_err();
    assert!(e.message.starts_with("records are not known here"), "{e}");
    let e = ValuePattern::parse("x when frob(x)", Dialect::Elixir).unwrap_err();
    assert_eq!(e.column, 8);
    let e = CallPattern::parse("lists:").unwrap_err();
    assert!(e.message.contains("function name"), "{e}");
    let e = ValuePattern::parse("", Dialect::Elixir).unwrap_err();
    assert_eq!(e.message, "an empty pattern");
}
