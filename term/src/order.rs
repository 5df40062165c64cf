//! Erlang's term order, for printing map keys the way the VM lists them.
//!
//! number < atom < reference < fun < port < pid < tuple < map < [] < list < bitstring. Small
//! maps (the only ones a capture holds: at most `max_elements` pairs) keep their keys in this
//! order, so `inspect` and `~p` print them in it.

use std::cmp::Ordering;

use eetf::{BigInteger, Term};

/// Compares two terms in Erlang's term order (integers before equal floats, as map keys sort).
pub fn compare(a: &Term, b: &Term) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        _ if ra == 0 => compare_numbers(a, b),
        (Term::Atom(x), Term::Atom(y)) => x.name.cmp(&y.name),
        (Term::Reference(x), Term::Reference(y)) => {
            (&x.node.name, x.id.iter().rev().collect::<Vec<_>>())
                .cmp(&(&y.node.name, y.id.iter().rev().collect::<Vec<_>>()))
        }
        (Term::Port(x), Term::Port(y)) => (&x.node.name, x.id).cmp(&(&y.node.name, y.id)),
        (Term::Pid(x), Term::Pid(y)) => {
            (&x.node.name, x.serial, x.id).cmp(&(&y.node.name, y.serial, y.id))
        }
        (Term::Tuple(x), Term::Tuple(y)) => x
            .elements
            .len()
            .cmp(&y.elements.len())
            .then_with(|| compare_all(&x.elements, &y.elements)),
        (Term::Map(x), Term::Map(y)) => {
            let mut xs: Vec<(&Term, &Term)> = x.map.iter().collect();
            let mut ys: Vec<(&Term, &Term)> = y.map.iter().collect();
            xs.sort_by(|p, q| compare(p.0, q.0));
            ys.sort_by(|p, q| compare(p.0, q.0));
            xs.len().cmp(&ys.len()).then_with(|| {
                let keys = xs
                    .iter()
                    .zip(&ys)
                    .map(|(p, q)| compare(p.0, q.0))
                    .find(|o| o.is_ne());
                keys.unwrap_or_else(|| {
                    xs.iter()
                        .zip(&ys)
                        .map(|(p, q)| compare(p.1, q.1))
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                })
            })
        }
        _ if ra == 8 || ra == 9 => compare_lists(a, b),
        _ => bits(a).cmp(&bits(b)),
    }
}

fn compare_all(a: &[Term], b: &[Term]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Lists (proper or not) element by element, then by their tails.
fn compare_lists(a: &Term, b: &Term) -> Ordering {
    let (xs, xt) = list_parts(a);
    let (ys, yt) = list_parts(b);
    for (x, y) in xs.iter().zip(&ys) {
        let o = compare(x, y);
        if o.is_ne() {
            return o;
        }
    }
    match xs.len().cmp(&ys.len()) {
        Ordering::Equal => match (xt, yt) {
            (Some(x), Some(y)) => compare(x, y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        },
        // The shorter one's tail meets an element of the longer one.
        Ordering::Less => match xt {
            None => Ordering::Less,
            Some(t) => compare(t, &ys[xs.len()]),
        },
        Ordering::Greater => match yt {
            None => Ordering::Greater,
            Some(t) => compare(&xs[ys.len()], t),
        },
    }
}

/// A list's elements and, when improper, its tail.
fn list_parts(term: &Term) -> (Vec<Term>, Option<&Term>) {
    match term {
        Term::List(l) => (l.elements.clone(), None),
        Term::ByteList(b) => (
            b.bytes
                .iter()
                .map(|&c| Term::from(eetf::FixInteger::from(c as i32)))
                .collect(),
            None,
        ),
        Term::ImproperList(l) => (l.elements.clone(), Some(&l.last)),
        _ => (Vec::new(), None),
    }
}

fn bits(term: &Term) -> (&[u8], u8) {
    match term {
        Term::Binary(b) => (&b.bytes, 8),
        Term::BitBinary(b) => (&b.bytes, b.tail_bits_size),
        _ => (&[], 0),
    }
}

/// The position of a term's type in the order.
fn rank(term: &Term) -> u8 {
    match term {
        Term::FixInteger(_) | Term::BigInteger(_) | Term::Float(_) => 0,
        Term::Atom(_) => 1,
        Term::Reference(_) => 2,
        Term::ExternalFun(_) | Term::InternalFun(_) => 3,
        Term::Port(_) => 4,
        Term::Pid(_) => 5,
        Term::Tuple(_) => 6,
        Term::Map(_) => 7,
        Term::List(l) if l.elements.is_empty() => 8,
        Term::ByteList(b) if b.bytes.is_empty() => 8,
        Term::List(_) | Term::ByteList(_) | Term::ImproperList(_) => 9,
        Term::Binary(_) | Term::BitBinary(_) => 10,
    }
}

fn compare_numbers(a: &Term, b: &Term) -> Ordering {
    match (a, b) {
        (Term::Float(x), Term::Float(y)) => x.value.total_cmp(&y.value),
        (Term::Float(x), other) => x
            .value
            .partial_cmp(&as_f64(other))
            .unwrap_or(Ordering::Equal)
            .then(Ordering::Greater),
        (other, Term::Float(y)) => as_f64(other)
            .partial_cmp(&y.value)
            .unwrap_or(Ordering::Equal)
            .then(Ordering::Less),
        _ => integer(a).value.cmp(&integer(b).value),
    }
}

fn integer(term: &Term) -> BigInteger {
    match term {
        Term::FixInteger(i) => BigInteger::from(i),
        Term::BigInteger(b) => b.clone(),
        _ => BigInteger::from(0),
    }
}

fn as_f64(term: &Term) -> f64 {
    match term {
        Term::FixInteger(i) => f64::from(i.value),
        Term::BigInteger(b) => b.value.to_string().parse().unwrap_or(f64::NAN),
        Term::Float(f) => f.value,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eetf::{Atom, Binary, FixInteger, Float, List, Tuple};

    #[test]
    fn types_then_values() {
        let mut terms: Vec<Term> = vec![
            Binary::from(b"a".to_vec()).into(),
            List::from(vec![Term::from(FixInteger::from(1))]).into(),
            List::nil().into(),
            Tuple::from(vec![]).into(),
            Atom::from("b").into(),
            Atom::from("a").into(),
            Float::try_from(1.5).unwrap().into(),
            FixInteger::from(1).into(),
            FixInteger::from(2).into(),
        ];
        terms.sort_by(compare);
        let shown: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            shown,
            ["1", "1.5", "2", "'a'", "'b'", "{}", "[]", "[1]", "<<97>>"]
        );
    }
}
