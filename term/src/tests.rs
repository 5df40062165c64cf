//! Cut markers in both styles (plain terms are checked against the VM in
//! tests/query_terms.rs).

use eetf::{Atom, Binary, FixInteger, ImproperList, List, Map, Term, Tuple};

use super::*;

fn atom(name: &str) -> Term {
    Atom::from(name).into()
}

fn int(i: i32) -> Term {
    FixInteger::from(i).into()
}

fn tuple(elements: Vec<Term>) -> Term {
    Tuple::from(elements).into()
}

fn marker(kind: &str, detail: Term) -> Term {
    tuple(vec![atom(CUT), atom(kind), detail])
}

fn both(term: &Term) -> (String, String) {
    (Style::Elixir.term(term), Style::Erlang.term(term))
}

#[test]
fn a_cut_list_ends_in_an_ellipsis() {
    // As the encoder writes it: a proper list whose last element is the marker.
    let cut_list: Term = List::from(vec![int(1), int(2), marker("list", atom("more"))]).into();
    assert_eq!(both(&cut_list), ("[1, 2, …]".into(), "[1,2,…]".into()));
    let chars: Term = List::from(vec![int(97), int(98), marker("list", atom("more"))]).into();
    assert_eq!(both(&chars), ("'ab'…".into(), "\"ab\"…".into()));
    let only: Term = List::from(vec![marker("list", atom("more"))]).into();
    assert_eq!(both(&only), ("[…]".into(), "[…]".into()));
}

#[test]
fn a_cut_list_of_older_recordings_ends_in_an_ellipsis() {
    let cut_list: Term =
        ImproperList::from((vec![int(1), int(2)], marker("list", atom("more")))).into();
    assert_eq!(both(&cut_list), ("[1, 2, …]".into(), "[1,2,…]".into()));
    let chars: Term =
        ImproperList::from((vec![int(97), int(98)], marker("list", atom("more")))).into();
    assert_eq!(both(&chars), ("'ab'…".into(), "\"ab\"…".into()));
    let keyword: Term = ImproperList::from((
        vec![tuple(vec![atom("a"), int(1)])],
        marker("list", atom("more")),
    ))
    .into();
    assert_eq!(both(&keyword), ("[a: 1, …]".into(), "[{a,1},…]".into()));
    let nothing = marker("list", atom("more"));
    assert_eq!(both(&nothing).0, "[…]");
}

#[test]
fn cut_tuples_maps_and_binaries_say_how_much_is_missing() {
    let t = tuple(vec![int(1), marker("tuple", int(3))]);
    assert_eq!(both(&t), ("{1, …(3 more)}".into(), "{1,…(3 more)}".into()));
    let mut m = std::collections::HashMap::new();
    m.insert(atom("b"), int(2));
    m.insert(atom("a"), int(1));
    m.insert(atom(CUT), marker("map", int(5)));
    let m: Term = Map::from(m).into();
    assert_eq!(
        both(&m),
        (
            "%{a: 1, b: 2, …(5 more)}".into(),
            "#{a => 1,b => 2,…(5 more)}".into()
        )
    );
    let bin = marker(
        "binary",
        tuple(vec![int(1000), Binary::from(b"abc".to_vec()).into()]),
    );
    assert_eq!(
        both(&bin),
        (
            "\"abc\"…(1000 bytes)".into(),
            "<<\"abc\">>…(1000 bytes)".into()
        )
    );
}

#[test]
fn redacted_values_and_lost_fields_never_read_as_values() {
    let redacted = marker("redacted", atom("key"));
    assert_eq!(both(&redacted), ("[REDACTED]".into(), "[REDACTED]".into()));
    assert_eq!(both(&marker("hidden", atom("argument"))).0, "[REDACTED]");
    let mut m = std::collections::HashMap::new();
    m.insert(atom("__struct__"), atom("Elixir.User"));
    m.insert(atom("name"), Binary::from(b"ada".to_vec()).into());
    m.insert(atom("valid?"), marker("field", atom("more")));
    m.insert(atom("password"), marker("redacted", atom("field")));
    let user: Term = Map::from(m).into();
    assert_eq!(
        Style::Elixir.term(&user),
        "%User{name: \"ada\", password: [REDACTED], valid?: …}"
    );
}

#[test]
fn an_unrecorded_stack_trace_never_reads_as_an_empty_one() {
    // `{Reason, Marker}` as attach stores an exception: the marker says why there is none.
    let exception: Term = tuple(vec![
        atom("badarith"),
        marker("stacktrace", atom("attached")),
    ]);
    let (elixir, erlang) = both(&exception);
    assert_eq!(elixir, "{:badarith, (no stack trace: attached call)}");
    assert_eq!(erlang, "{badarith,(no stack trace: attached call)}");
    assert!(!elixir.contains("[]"));
}

#[test]
fn other_cuts() {
    assert_eq!(
        both(&marker("depth", atom("map"))),
        ("%{…}".into(), "#{…}".into())
    );
    assert_eq!(both(&marker("depth", atom("tuple"))).0, "{…}");
    assert_eq!(both(&marker("integer", atom("big"))).0, "…(big integer)");
    let fun = marker("fun", Binary::from(b"#Fun<m.1.2>".to_vec()).into());
    assert_eq!(both(&fun), ("#Fun<m.1.2>".into(), "#Fun<m.1.2>".into()));
    assert_eq!(both(&marker("bitstring", atom("unknown"))).0, "<<…>>");
}

#[test]
fn structs_and_exceptions_show_their_module() {
    let mut m = std::collections::HashMap::new();
    m.insert(atom("__struct__"), atom("Elixir.ArgumentError"));
    m.insert(atom("__exception__"), atom("true"));
    m.insert(atom("message"), Binary::from(b"boom".to_vec()).into());
    let e: Term = Map::from(m).into();
    assert_eq!(Style::Elixir.term(&e), "%ArgumentError{message: \"boom\"}");
}
