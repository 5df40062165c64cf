//! Terms as plain Rust values, so the encoder can be tested and benchmarked without a VM.

use super::etf;
use super::flat::{Word, Words};
use super::view::{Kind, TermView};

/// A term.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An atom.
    Atom(String),
    /// An integer that fits in an `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// A binary.
    Binary(Vec<u8>),
    /// A list with a tail (`None`: proper).
    List(Vec<Value>, Option<Box<Value>>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A map.
    Map(Vec<(Value, Value)>),
    /// A local pid `<0.Id.Serial>` of node `nonode@nohost`.
    Pid(u32, u32),
    /// A fun, described by its text.
    Fun(String),
}

impl Value {
    /// An atom.
    pub fn atom(text: &str) -> Value {
        Value::Atom(text.to_owned())
    }

    /// A proper list.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(items, None)
    }

    /// A view for the encoder.
    pub fn view(&self) -> ValueRef<'_> {
        ValueRef::Term(self)
    }
}

/// A [`Value`], or the rest of a list from some element on.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    /// A whole value.
    Term(&'a Value),
    /// The elements from some position on, then the tail.
    Rest(&'a [Value], Option<&'a Value>),
}

impl<'a> ValueRef<'a> {
    fn resolved(self) -> Option<&'a Value> {
        match self {
            ValueRef::Term(Value::List(items, Some(tail))) if items.is_empty() => Some(tail),
            ValueRef::Term(v) => Some(v),
            ValueRef::Rest([], Some(tail)) => Some(tail),
            ValueRef::Rest(_, _) => None,
        }
    }
}

/// Iterator over a [`Value::Tuple`]'s elements.
pub struct Elements<'a>(std::slice::Iter<'a, Value>);

impl<'a> Iterator for Elements<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<ValueRef<'a>> {
        self.0.next().map(ValueRef::Term)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Elements<'_> {}

impl<'a> TermView<'a> for ValueRef<'a> {
    type Elements = Elements<'a>;

    fn kind(self) -> Kind {
        match self {
            ValueRef::Rest([], None) => Kind::EmptyList,
            ValueRef::Rest([], Some(tail)) => ValueRef::Term(tail).kind(),
            ValueRef::Rest(_, _) => Kind::List,
            ValueRef::Term(Value::List(items, Some(tail))) if items.is_empty() => {
                ValueRef::Term(tail).kind()
            }
            ValueRef::Term(v) => match v {
                Value::Atom(_) => Kind::Atom,
                Value::Int(_) => Kind::Integer,
                Value::Float(_) => Kind::Float,
                Value::Binary(_) => Kind::Bitstring,
                Value::List(items, None) if items.is_empty() => Kind::EmptyList,
                Value::List(..) => Kind::List,
                Value::Tuple(_) => Kind::Tuple,
                Value::Map(_) => Kind::Map,
                Value::Pid(..) => Kind::Pid,
                Value::Fun(_) => Kind::Fun,
            },
        }
    }

    fn atom_id(self) -> Option<u64> {
        // FNV-1a of the text: distinct for distinct atoms in any test.
        match self.resolved() {
            Some(Value::Atom(a)) => Some(
                a.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
                }) | 1,
            ),
            _ => None,
        }
    }

    fn atom_text(self, out: &mut Vec<u8>) -> bool {
        match self.resolved() {
            Some(Value::Atom(a)) => {
                out.extend_from_slice(a.as_bytes());
                true
            }
            _ => false,
        }
    }

    fn to_i64(self) -> Option<i64> {
        match self.resolved() {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    fn to_u64(self) -> Option<u64> {
        self.to_i64().and_then(|i| u64::try_from(i).ok())
    }

    fn is_moderate_integer(self) -> bool {
        true
    }

    fn to_f64(self) -> Option<f64> {
        match self.resolved() {
            Some(Value::Float(f)) => Some(*f),
            _ => None,
        }
    }

    fn bytes(self) -> Option<&'a [u8]> {
        match self.resolved() {
            Some(Value::Binary(b)) => Some(b),
            _ => None,
        }
    }

    fn list_cell(self) -> Option<(Self, Self)> {
        let (items, tail) = match self {
            ValueRef::Term(Value::List(items, tail)) => (items.as_slice(), tail.as_deref()),
            ValueRef::Rest(items, tail) => (items, tail),
            _ => return None,
        };
        let (head, rest) = items.split_first()?;
        Some((ValueRef::Term(head), ValueRef::Rest(rest, tail)))
    }

    fn tuple_elements(self) -> Option<Elements<'a>> {
        match self.resolved() {
            Some(Value::Tuple(items)) => Some(Elements(items.iter())),
            _ => None,
        }
    }

    fn map_size(self) -> usize {
        match self.resolved() {
            Some(Value::Map(pairs)) => pairs.len(),
            _ => 0,
        }
    }

    fn for_each_pair(self, mut visit: impl FnMut(Self, Self) -> bool) {
        if let Some(Value::Map(pairs)) = self.resolved() {
            for (k, v) in pairs {
                if !visit(ValueRef::Term(k), ValueRef::Term(v)) {
                    break;
                }
            }
        }
    }

    fn struct_module(self) -> Option<Self> {
        match self.resolved() {
            Some(Value::Map(pairs)) => pairs
                .iter()
                .find(|(k, _)| matches!(k, Value::Atom(a) if a == "__struct__"))
                .map(|(_, v)| ValueRef::Term(v)),
            _ => None,
        }
    }

    fn identical(self, other: Self) -> bool {
        match (self.resolved(), other.resolved()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    fn external(self, out: &mut Vec<u8>, max: usize) -> bool {
        let mut bytes = Vec::new();
        match self.resolved() {
            Some(Value::Pid(id, serial)) => {
                // NEW_PID_EXT: node, id, serial, creation.
                bytes.push(etf_tag::NEW_PID);
                etf::atom(&mut bytes, b"nonode@nohost");
                bytes.extend_from_slice(&id.to_be_bytes());
                bytes.extend_from_slice(&serial.to_be_bytes());
                bytes.extend_from_slice(&0u32.to_be_bytes());
            }
            Some(Value::Atom(a)) => etf::atom(&mut bytes, a.as_bytes()),
            Some(Value::Int(i)) => etf::integer(&mut bytes, *i),
            _ => return false,
        }
        if bytes.len() > max {
            return false;
        }
        out.extend_from_slice(&bytes);
        true
    }

    fn describe(self, out: &mut Vec<u8>, max: usize) {
        if let Some(Value::Fun(text)) = self.resolved() {
            out.extend_from_slice(&text.as_bytes()[..text.len().min(max)]);
        }
    }
}

impl<'a> Words<'a> for ValueRef<'a> {
    fn read(self) -> Word<'a, Self> {
        match self.kind() {
            Kind::Atom => self.atom_id().map_or(Word::Other, Word::Atom),
            Kind::Integer => self.to_i64().map_or(Word::Other, Word::Small),
            Kind::Float => self.to_f64().map_or(Word::Other, Word::Float),
            Kind::Bitstring => self.bytes().map_or(Word::Other, Word::Binary),
            Kind::EmptyList => Word::Nil,
            Kind::List => match self.list_cell() {
                Some((head, tail)) => Word::Cell(head, tail),
                None => Word::Other,
            },
            Kind::Tuple => self
                .tuple_elements()
                .map_or(Word::Other, |e| Word::Tuple(e.len())),
            Kind::Map => Word::Map(self.map_size()),
            _ => Word::Other,
        }
    }

    fn element(self, index: usize) -> Self {
        match self.resolved() {
            Some(Value::Tuple(items)) => ValueRef::Term(&items[index]),
            _ => unreachable!("element of a term read as a tuple"),
        }
    }

    fn pair(self, index: usize) -> (Self, Self) {
        match self.resolved() {
            Some(Value::Map(pairs)) => (
                ValueRef::Term(&pairs[index].0),
                ValueRef::Term(&pairs[index].1),
            ),
            _ => unreachable!("pair of a term read as a map"),
        }
    }
}
