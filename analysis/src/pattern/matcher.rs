//! Matching patterns against stored values in place, and evaluating guards.

use std::cmp::Ordering;

use super::{Comparison, Guard, GuardExpr, GuardFn, Pattern, TypeTest, ValuePattern};
use crate::etf::{Damaged, Node, Opaque, Value};

/// The atom that starts every cut or redaction marker of the capture.
const CUT: &[u8] = term::CUT.as_bytes();

type Result<T> = std::result::Result<T, Damaged>;

/// What a variable was bound to.
#[derive(Debug, Clone, Copy)]
enum Bound {
    /// The term at this position.
    Term(usize),
    /// The bytes `[start, end)` of the value: the rest of a binary after a prefix.
    BinaryPart(usize, usize),
    /// An element of a byte list.
    Int(i128),
    /// The rest of a list.
    ListRest(ListCursor),
}

/// Variables' values while one value is matched.
#[derive(Debug, Clone)]
pub struct Bindings {
    bound: Vec<Option<Bound>>,
}

impl Bindings {
    /// No variable bound, room for `n`.
    pub fn new(n: usize) -> Bindings {
        Bindings {
            bound: vec![None; n],
        }
    }

    fn reset(&mut self) {
        self.bound.iter_mut().for_each(|b| *b = None);
    }
}

/// Where the rest of a list is: bytes of a byte list, or cells.
#[derive(Debug, Clone, Copy)]
enum ListCursor {
    /// The remaining bytes `[start, end)` of a `STRING_EXT`.
    Bytes(usize, usize),
    /// `left` elements from `at`, then the tail.
    Cells { at: usize, left: usize },
}

/// Whether the term at `at` matches the pattern and its guard.
pub(crate) fn matches_at(
    vp: &ValuePattern,
    value: &Value<'_>,
    at: usize,
    b: &mut Bindings,
) -> Result<bool> {
    b.reset();
    if !matches(&vp.pattern, value, at, b)? {
        return Ok(false);
    }
    match &vp.guard {
        None => Ok(true),
        Some(guard) => Ok(holds(guard, value, b)? == Some(true)),
    }
}

/// Whether any term of the value matches.
pub(crate) fn occurs(vp: &ValuePattern, value: &Value<'_>) -> Result<bool> {
    let mut b = Bindings::new(vp.vars.len());
    let mut stack = vec![value.root()];
    while let Some(at) = stack.pop() {
        if matches_at(vp, value, at, &mut b)? {
            return Ok(true);
        }
        match value.node(at)? {
            Node::Tuple { arity, at } if !is_marker(value, arity, at)? => {
                for e in value.elements(at, arity) {
                    stack.push(e?);
                }
            }
            Node::List { len, at } => {
                for e in value.elements(at, len + 1) {
                    stack.push(e?);
                }
            }
            Node::Map { pairs, at } => {
                for e in value.elements(at, pairs * 2) {
                    stack.push(e?);
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

/// Whether a tuple is one of the capture's markers (`{'$elixir_scope_cut', Kind, Detail}`).
fn is_marker(value: &Value<'_>, arity: usize, at: usize) -> Result<bool> {
    Ok(arity == 3 && matches!(value.node(at)?, Node::Atom { name, .. } if name == CUT))
}

/// Whether the term at `at` is a marker.
fn marker_at(value: &Value<'_>, at: usize) -> Result<bool> {
    match value.node(at)? {
        Node::Tuple { arity, at } => is_marker(value, arity, at),
        _ => Ok(false),
    }
}

fn matches(p: &Pattern, value: &Value<'_>, at: usize, b: &mut Bindings) -> Result<bool> {
    let node = value.node(at)?;
    Ok(match p {
        Pattern::Any => true,
        Pattern::Var(i) => bind(*i, Bound::Term(at), value, b)?,
        Pattern::Int(n) => node == Node::Int(*n),
        Pattern::Float(f) => matches!(node, Node::Float(x) if x == *f),
        Pattern::Atom(a) => atom_is(&node, a),
        Pattern::Binary(bytes) => matches!(node, Node::Binary(x) if x == bytes.as_slice()),
        Pattern::Prefix { prefix, rest } => match node {
            Node::Binary(x) if x.starts_with(prefix) => {
                let start = offset_in(value, x) + prefix.len();
                let end = offset_in(value, x) + x.len();
                match rest.as_ref() {
                    Pattern::Any => true,
                    Pattern::Var(i) => bind(*i, Bound::BinaryPart(start, end), value, b)?,
                    _ => false,
                }
            }
            _ => false,
        },
        Pattern::Tuple(items) => match node {
            Node::Tuple { arity, at } if arity == items.len() && !is_marker(value, arity, at)? => {
                let mut ok = true;
                for (item, e) in items.iter().zip(value.elements(at, arity)) {
                    if !matches(item, value, e?, b)? {
                        ok = false;
                        break;
                    }
                }
                ok
            }
            _ => false,
        },
        Pattern::List { items, tail } => match cursor_of(&node, value)? {
            Some(cursor) => match_list(items, tail.as_deref(), value, cursor, b)?,
            None => false,
        },
        Pattern::Map(pairs) => match node {
            Node::Map { pairs: n, at } => {
                let mut ok = true;
                for (key, want) in pairs {
                    match find_key(value, at, n, key)? {
                        Some(v) if matches(want, value, v, b)? => {}
                        _ => {
                            ok = false;
                            break;
                        }
                    }
                }
                ok
            }
            _ => false,
        },
        Pattern::Exact(bytes) => value.term_bytes(at)? == bytes.as_slice(),
    })
}

/// Where a binary's bytes start in the value (they are a slice of it).
fn offset_in(value: &Value<'_>, part: &[u8]) -> usize {
    part.as_ptr() as usize - value.bytes().as_ptr() as usize
}

fn cursor_of(node: &Node<'_>, value: &Value<'_>) -> Result<Option<ListCursor>> {
    Ok(match *node {
        Node::Nil => Some(ListCursor::Cells { at: 0, left: 0 }),
        Node::Bytes(bytes) => {
            let start = offset_in(value, bytes);
            Some(ListCursor::Bytes(start, start + bytes.len()))
        }
        Node::List { len, at } => Some(ListCursor::Cells { at, left: len }),
        _ => None,
    })
}

/// Matches list elements from `cursor`, then the tail pattern (`[]` when `None`).
fn match_list(
    items: &[Pattern],
    tail: Option<&Pattern>,
    value: &Value<'_>,
    mut cursor: ListCursor,
    b: &mut Bindings,
) -> Result<bool> {
    for item in items {
        match cursor {
            ListCursor::Bytes(start, end) => {
                if start >= end {
                    return Ok(false);
                }
                let byte = value.bytes()[start] as i128;
                let ok = match item {
                    Pattern::Any => true,
                    Pattern::Var(i) => bind(*i, Bound::Int(byte), value, b)?,
                    Pattern::Int(n) => *n == byte,
                    _ => false,
                };
                if !ok {
                    return Ok(false);
                }
                cursor = ListCursor::Bytes(start + 1, end);
            }
            ListCursor::Cells { at, left } => {
                if left == 0 || !matches(item, value, at, b)? {
                    return Ok(false);
                }
                cursor = ListCursor::Cells {
                    at: value.skip(at)?,
                    left: left - 1,
                };
            }
        }
    }
    match tail {
        None => rest_is_empty(value, cursor),
        Some(Pattern::Any) => Ok(true),
        Some(Pattern::Var(i)) => bind(*i, Bound::ListRest(cursor), value, b),
        Some(Pattern::List { items, tail }) => match_list(items, tail.as_deref(), value, cursor, b),
        Some(other) => match cursor {
            // An improper tail: the term after the last cell.
            ListCursor::Cells { at, left: 0 } if at != 0 => matches(other, value, at, b),
            _ => Ok(false),
        },
    }
}

fn rest_is_empty(value: &Value<'_>, cursor: ListCursor) -> Result<bool> {
    Ok(match cursor {
        ListCursor::Bytes(start, end) => start == end,
        ListCursor::Cells { at: 0, left: 0 } => true,
        ListCursor::Cells { at, left: 0 } => value.node(at)? == Node::Nil,
        ListCursor::Cells { .. } => false,
    })
}

/// The position of the value under `key` in the map whose pairs start at `at`.
fn find_key(value: &Value<'_>, at: usize, pairs: usize, key: &Pattern) -> Result<Option<usize>> {
    let mut pos = at;
    let mut scratch = Bindings::new(0);
    for _ in 0..pairs {
        let v = value.skip(pos)?;
        if matches(key, value, pos, &mut scratch)? {
            return Ok(Some(v));
        }
        pos = value.skip(v)?;
    }
    Ok(None)
}

fn atom_is(node: &Node<'_>, text: &str) -> bool {
    match *node {
        Node::Atom { name, utf8: true } => name == text.as_bytes(),
        Node::Atom { name, utf8: false } => {
            name.len() == text.chars().count()
                && name
                    .iter()
                    .zip(text.chars())
                    .all(|(&b, c)| b as u32 == c as u32)
        }
        _ => false,
    }
}

/// Binds variable `i`, or checks that its value equals the one bound first.
fn bind(i: usize, new: Bound, value: &Value<'_>, b: &mut Bindings) -> Result<bool> {
    let Some(slot) = b.bound.get_mut(i) else {
        return Ok(false);
    };
    match *slot {
        None => {
            *slot = Some(new);
            Ok(true)
        }
        Some(old) => Ok(canonical(value, old)? == canonical(value, new)?),
    }
}

/// A bound value's bytes for equality: a term's bytes, or a tagged form of the others.
fn canonical(value: &Value<'_>, bound: Bound) -> Result<Vec<u8>> {
    Ok(match bound {
        Bound::Term(at) => {
            if let Node::Int(n) = value.node(at)? {
                return canonical(value, Bound::Int(n));
            }
            value.term_bytes(at)?.to_vec()
        }
        Bound::Int(n) => [&[0xFFu8][..], &n.to_be_bytes()].concat(),
        Bound::BinaryPart(s, e) => [
            &[109u8][..],
            &((e - s) as u32).to_be_bytes(),
            &value.bytes()[s..e],
        ]
        .concat(),
        Bound::ListRest(ListCursor::Bytes(s, e)) => [&[0xFEu8][..], &value.bytes()[s..e]].concat(),
        Bound::ListRest(ListCursor::Cells { at, left }) => {
            let end = if at == 0 {
                0
            } else {
                value
                    .elements(at, left + 1)
                    .last()
                    .transpose()?
                    .map_or(Ok(at), |last| value.skip(last))?
            };
            [&[0xFDu8][..], &value.bytes()[at.min(end)..end]].concat()
        }
    })
}

/// The literal pattern of the term at `at` (for a value given as a term).
pub(crate) fn literal(value: &Value<'_>, at: usize) -> Result<Pattern> {
    Ok(match value.node(at)? {
        Node::Int(n) => Pattern::Int(n),
        Node::Float(f) => Pattern::Float(f),
        Node::Atom { .. } => Pattern::Atom(
            value
                .node(at)?
                .atom_text()
                .map(|t| t.into_owned())
                .unwrap_or_default(),
        ),
        Node::Binary(bytes) => Pattern::Binary(bytes.to_vec()),
        Node::Tuple { arity, at } => Pattern::Tuple(
            value
                .elements(at, arity)
                .map(|e| literal(value, e?))
                .collect::<Result<_>>()?,
        ),
        Node::Nil => Pattern::List {
            items: Vec::new(),
            tail: None,
        },
        Node::Bytes(bytes) => Pattern::List {
            items: bytes.iter().map(|&c| Pattern::Int(c as i128)).collect(),
            tail: None,
        },
        Node::List { len, at } => {
            let mut items = Vec::with_capacity(len);
            let mut pos = at;
            for _ in 0..len {
                items.push(literal(value, pos)?);
                pos = value.skip(pos)?;
            }
            let tail = match value.node(pos)? {
                Node::Nil => None,
                _ => Some(Box::new(literal(value, pos)?)),
            };
            Pattern::List { items, tail }
        }
        Node::Map { pairs, at } => {
            let mut out = Vec::with_capacity(pairs);
            let mut pos = at;
            for _ in 0..pairs {
                let v = value.skip(pos)?;
                out.push((literal(value, pos)?, literal(value, v)?));
                pos = value.skip(v)?;
            }
            Pattern::Map(out)
        }
        Node::Big { .. } | Node::Bits { .. } | Node::Opaque { .. } => {
            Pattern::Exact(value.term_bytes(at)?.to_vec())
        }
    })
}

/// Byte strings every matching value contains (see [`ValuePattern::needles`]).
pub(crate) fn needles(p: &Pattern, out: &mut Vec<Vec<u8>>) {
    match p {
        Pattern::Binary(b) | Pattern::Prefix { prefix: b, .. } if b.len() >= 3 => {
            out.push(b.clone())
        }
        Pattern::Atom(a) if a.len() >= 3 && a.is_ascii() => out.push(a.as_bytes().to_vec()),
        // Integers and floats as every encoder writes them (`term_to_binary/1` and the
        // runtime's: `SMALL_INTEGER` for 0..=255, too common to be worth a search, `INTEGER`
        // for 32 bits, `SMALL_BIG` beyond, `NEW_FLOAT` for floats).
        Pattern::Int(n) => {
            if let Ok(n) = i32::try_from(*n) {
                if !(0..=255).contains(&n) {
                    out.push([&[etf_tag::INTEGER][..], &n.to_be_bytes()].concat());
                }
            } else {
                let magnitude = n.unsigned_abs().to_le_bytes();
                let len = 16 - n.unsigned_abs().leading_zeros() as usize / 8;
                out.push(
                    [
                        &[etf_tag::SMALL_BIG, len as u8, (*n < 0) as u8][..],
                        &magnitude[..len],
                    ]
                    .concat(),
                );
            }
        }
        Pattern::Float(f) => out.push([&[etf_tag::NEW_FLOAT][..], &f.to_be_bytes()].concat()),
        Pattern::Tuple(items) => items.iter().for_each(|i| needles(i, out)),
        Pattern::List { items, tail } => {
            items.iter().for_each(|i| needles(i, out));
            if let Some(t) = tail {
                needles(t, out);
            }
        }
        Pattern::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            needles(k, out);
            needles(v, out);
        }),
        _ => {}
    }
}

// Guards.

/// A value in a guard.
#[derive(Debug, Clone)]
enum GVal {
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A term of the value at this position (not a marker).
    Term(usize),
    /// A literal from the guard.
    Literal(Pattern),
    /// Bytes of a binary.
    Binary(Vec<u8>),
    /// A value the capture cut or a variable's part that cannot take part: the condition
    /// fails.
    Unknown,
}

/// Whether the guard holds (`None`: it could not be evaluated, so it fails).
fn holds(g: &Guard, value: &Value<'_>, b: &Bindings) -> Result<Option<bool>> {
    Ok(match g {
        Guard::And(x, y) => match holds(x, value, b)? {
            Some(true) => holds(y, value, b)?,
            other => other,
        },
        Guard::Or(x, y) => match holds(x, value, b)? {
            Some(true) => Some(true),
            _ => holds(y, value, b)?.filter(|t| *t),
        },
        Guard::Not(x) => holds(x, value, b)?.map(|t| !t),
        Guard::True(e) => match eval(e, value, b)? {
            GVal::Literal(Pattern::Atom(a)) => Some(a == "true"),
            GVal::Term(at) => Some(atom_is(&value.node(at)?, "true")),
            _ => None,
        },
        Guard::Is(test, e) => is(*test, &eval(e, value, b)?, value)?,
        Guard::Compare(op, x, y) => {
            let (x, y) = (eval(x, value, b)?, eval(y, value, b)?);
            compare(*op, &x, &y, value)?
        }
    })
}

fn eval(e: &GuardExpr, value: &Value<'_>, b: &Bindings) -> Result<GVal> {
    Ok(match e {
        GuardExpr::Var(i) => match b.bound.get(*i).copied().flatten() {
            Some(Bound::Term(at)) => {
                if marker_at(value, at)? {
                    GVal::Unknown
                } else {
                    match value.node(at)? {
                        Node::Int(n) => GVal::Int(n),
                        Node::Float(f) => GVal::Float(f),
                        _ => GVal::Term(at),
                    }
                }
            }
            Some(Bound::Int(n)) => GVal::Int(n),
            Some(Bound::BinaryPart(s, e)) => GVal::Binary(value.bytes()[s..e].to_vec()),
            Some(Bound::ListRest(_)) | None => GVal::Unknown,
        },
        GuardExpr::Literal(Pattern::Int(n)) => GVal::Int(*n),
        GuardExpr::Literal(Pattern::Float(f)) => GVal::Float(*f),
        GuardExpr::Literal(Pattern::Binary(bytes)) => GVal::Binary(bytes.clone()),
        GuardExpr::Literal(p) => GVal::Literal(p.clone()),
        GuardExpr::Negate(x) => match eval(x, value, b)? {
            GVal::Int(n) => GVal::Int(-n),
            GVal::Float(f) => GVal::Float(-f),
            _ => GVal::Unknown,
        },
        GuardExpr::Apply(f, x) => {
            let var_rest = match x.as_ref() {
                GuardExpr::Var(i) => b.bound.get(*i).copied().flatten(),
                _ => None,
            };
            apply(*f, eval(x, value, b)?, var_rest, value)?
        }
    })
}

fn apply(f: GuardFn, x: GVal, bound: Option<Bound>, value: &Value<'_>) -> Result<GVal> {
    if let (GuardFn::Length, Some(Bound::ListRest(cursor))) = (f, bound) {
        return Ok(match cursor {
            ListCursor::Bytes(s, e) => GVal::Int((e - s) as i128),
            ListCursor::Cells { at, left } => list_length(value, at, left)?,
        });
    }
    Ok(match (f, x) {
        (GuardFn::Abs, GVal::Int(n)) => GVal::Int(n.abs()),
        (GuardFn::Abs, GVal::Float(v)) => GVal::Float(v.abs()),
        (GuardFn::ByteSize, GVal::Binary(bytes)) => GVal::Int(bytes.len() as i128),
        (f, GVal::Term(at)) => match (f, value.node(at)?) {
            (GuardFn::ByteSize, Node::Binary(bytes)) => GVal::Int(bytes.len() as i128),
            (GuardFn::ByteSize, Node::Bits { bytes, .. }) => GVal::Int(bytes.len() as i128),
            (GuardFn::Length, Node::Nil) => GVal::Int(0),
            (GuardFn::Length, Node::Bytes(bytes)) => GVal::Int(bytes.len() as i128),
            (GuardFn::Length, Node::List { len, at }) => list_length(value, at, len)?,
            (GuardFn::MapSize, Node::Map { pairs, at }) => {
                if find_key(value, at, pairs, &Pattern::Atom(term::CUT.to_owned()))?.is_some() {
                    GVal::Unknown
                } else {
                    GVal::Int(pairs as i128)
                }
            }
            (GuardFn::TupleSize, Node::Tuple { arity, at }) => {
                let last = value.elements(at, arity).last().transpose()?;
                match last {
                    Some(last) if marker_at(value, last)? => GVal::Unknown,
                    _ => GVal::Int(arity as i128),
                }
            }
            _ => GVal::Unknown,
        },
        _ => GVal::Unknown,
    })
}

/// The length of a proper list of `left` cells from `at` whose last element is not a cut.
fn list_length(value: &Value<'_>, at: usize, left: usize) -> Result<GVal> {
    if left == 0 {
        return Ok(GVal::Int(0));
    }
    let mut last = at;
    let mut pos = at;
    for _ in 0..left {
        last = pos;
        pos = value.skip(pos)?;
    }
    if marker_at(value, last)? || value.node(pos)? != Node::Nil {
        return Ok(GVal::Unknown);
    }
    Ok(GVal::Int(left as i128))
}

fn is(test: TypeTest, x: &GVal, value: &Value<'_>) -> Result<Option<bool>> {
    let node = match x {
        GVal::Unknown => return Ok(None),
        GVal::Int(_) => return Ok(Some(matches!(test, TypeTest::Integer | TypeTest::Number))),
        GVal::Float(_) => return Ok(Some(matches!(test, TypeTest::Float | TypeTest::Number))),
        GVal::Binary(_) => return Ok(Some(test == TypeTest::Binary)),
        GVal::Literal(Pattern::Atom(a)) => {
            return Ok(Some(match test {
                TypeTest::Atom => true,
                TypeTest::Boolean => a == "true" || a == "false",
                TypeTest::Nil => a == "nil",
                _ => false,
            }))
        }
        GVal::Literal(_) => return Ok(None),
        GVal::Term(at) => value.node(*at)?,
    };
    Ok(Some(match test {
        TypeTest::Integer => matches!(node, Node::Int(_) | Node::Big { .. }),
        TypeTest::Float => matches!(node, Node::Float(_)),
        TypeTest::Number => matches!(node, Node::Int(_) | Node::Big { .. } | Node::Float(_)),
        TypeTest::Atom => matches!(node, Node::Atom { .. }),
        TypeTest::Boolean => atom_is(&node, "true") || atom_is(&node, "false"),
        TypeTest::Nil => atom_is(&node, "nil"),
        TypeTest::Binary => matches!(node, Node::Binary(_) | Node::Bits { .. }),
        TypeTest::List => matches!(node, Node::Nil | Node::Bytes(_) | Node::List { .. }),
        TypeTest::Map => matches!(node, Node::Map { .. }),
        TypeTest::Tuple => matches!(node, Node::Tuple { .. }),
        TypeTest::Pid => matches!(
            node,
            Node::Opaque {
                kind: Opaque::Pid,
                ..
            }
        ),
    }))
}

/// A guard comparison; `None` when the sides cannot be compared here.
fn compare(op: Comparison, x: &GVal, y: &GVal, value: &Value<'_>) -> Result<Option<bool>> {
    let exact = matches!(op, Comparison::Exact | Comparison::NotExact);
    let order: Option<Ordering> = match (x, y) {
        (GVal::Unknown, _) | (_, GVal::Unknown) => None,
        (GVal::Int(a), GVal::Int(b)) => Some(a.cmp(b)),
        // An integer is never exactly a float; `==` compares their values.
        (GVal::Int(_), GVal::Float(_)) | (GVal::Float(_), GVal::Int(_)) if exact => {
            Some(Ordering::Less)
        }
        (GVal::Int(a), GVal::Float(b)) => (*a as f64).partial_cmp(b),
        (GVal::Float(a), GVal::Int(b)) => a.partial_cmp(&(*b as f64)),
        (GVal::Float(a), GVal::Float(b)) => a.partial_cmp(b),
        (GVal::Binary(a), GVal::Binary(b)) => Some(a.cmp(b)),
        (GVal::Term(at), GVal::Term(bt)) => value.compare(*at, value, *bt)?,
        (GVal::Term(at), other) | (other, GVal::Term(at)) => {
            let flipped = !matches!(x, GVal::Term(_));
            let order = term_against(value, *at, other)?;
            if flipped {
                order.map(Ordering::reverse)
            } else {
                order
            }
        }
        (a, b) => Some(rank(a).cmp(&rank(b))).filter(|o| *o != Ordering::Equal),
    };
    let Some(order) = order else {
        return Ok(None);
    };
    Ok(Some(match op {
        Comparison::Less => order == Ordering::Less,
        Comparison::LessEq => order != Ordering::Greater,
        Comparison::Greater => order == Ordering::Greater,
        Comparison::GreaterEq => order != Ordering::Less,
        Comparison::Eq | Comparison::Exact => order == Ordering::Equal,
        Comparison::NotEq | Comparison::NotExact => order != Ordering::Equal,
    }))
}

/// How the term at `at` orders against a guard value that is not a term of the value.
fn term_against(value: &Value<'_>, at: usize, other: &GVal) -> Result<Option<Ordering>> {
    let node = value.node(at)?;
    Ok(match other {
        GVal::Literal(Pattern::Atom(a)) => match node.atom_text() {
            Some(t) => Some(t.as_ref().cmp(a.as_str())),
            None => Some(node.rank().cmp(&1)),
        },
        GVal::Binary(bytes) => match node {
            Node::Binary(x) => Some(x.cmp(bytes.as_slice())),
            _ => Some(node.rank().cmp(&10)),
        },
        GVal::Literal(p) => {
            let mut scratch = Bindings::new(0);
            if matches(p, value, at, &mut scratch)? {
                Some(Ordering::Equal)
            } else {
                None
            }
        }
        GVal::Int(_) | GVal::Float(_) => Some(node.rank().cmp(&0)),
        GVal::Term(_) | GVal::Unknown => None,
    })
}

fn rank(v: &GVal) -> u8 {
    match v {
        GVal::Int(_) | GVal::Float(_) => 0,
        GVal::Binary(_) => 10,
        GVal::Literal(Pattern::Atom(_)) => 1,
        GVal::Literal(Pattern::Tuple(_)) => 6,
        GVal::Literal(Pattern::Map(_)) => 7,
        GVal::Literal(Pattern::List { .. }) => 9,
        _ => 11,
    }
}
