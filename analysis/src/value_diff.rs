//! Two recorded values compared where they lie: what was added, removed or changed between
//! them, each change at a path (`state.items["tea"]`, `State[<<"tea">>]{2}`) with the values
//! printed in Elixir or Erlang syntax by the `term` crate.
//!
//! Both values are read in place ([`crate::etf::Value`]): a part equal to its counterpart (the
//! same bytes: the encoders write equal terms alike) is skipped without being decoded, and only
//! what changed is decoded to be printed. Maps are compared key by key (struct fields alike),
//! tuples of one size element by element, keyword lists (Elixir's `[a: 1]`, Erlang's
//! `[{a, 1}]` with distinct atom keys) key by key, other lists as sequences (Myers' diff, the
//! `similar` crate: an element put in front reads as one addition, not as every element
//! changed). Anything else that differs is a change of the whole. Where the capture cut either
//! side (`{'$elixir_scope_cut', ...}` markers: a value past the recorder's caps) what was not
//! captured cannot be compared: the diff says it is [`Diff::incomplete`].
//!
//! Paths start at a name (`state`) and go on with `.field` (an Elixir atom key that reads as
//! one), `[key]` (any other map key, or a keyword list's key, printed in the style), `{i}` (a
//! tuple's element: from 0 as `elem/2` counts in Elixir, from 1 as `element/2` in Erlang) and
//! `[i]` (a list's element: from 0 in Elixir, as `Enum.at/2`; from 1 in Erlang, as
//! `lists:nth/2`).

use std::cmp::Ordering;
use std::collections::HashMap;

use eetf::Term;
use term::Style;

use crate::etf::{Damaged, Node, Value};

/// The most changes a diff lists; past it they are counted ([`Diff::more`]).
pub const MAX_CHANGES: usize = 200;

/// How long a printed value in a change may be, in characters (longer ones end in `…`).
pub const TEXT_WIDTH: usize = 300;

/// Nesting below which differing parts are compared whole.
const MAX_DEPTH: usize = 64;

/// `term_to_binary(N)` for every small integer: the elements of a byte list (`STRING_EXT`),
/// which has no term of its own for each element.
static SMALL_INTS: [[u8; 3]; 256] = small_ints();

const fn small_ints() -> [[u8; 3]; 256] {
    let mut table = [[etf_tag::VERSION, etf_tag::SMALL_INTEGER, 0]; 256];
    let mut i = 0;
    while i < 256 {
        table[i][2] = i as u8;
        i += 1;
    }
    table
}

/// One term inside a stored value, read in place.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    value: Value<'a>,
    at: usize,
}

impl<'a> Part<'a> {
    /// The whole value.
    pub fn root(value: Value<'a>) -> Part<'a> {
        Part {
            at: value.root(),
            value,
        }
    }

    /// The term of `value` at `at` (a position [`Value::node`] and [`Value::elements`] give).
    pub fn at(value: Value<'a>, at: usize) -> Part<'a> {
        Part { value, at }
    }

    /// A small integer (0 to 255): an element of a byte list.
    fn small_int(byte: u8) -> Result<Part<'static>, Damaged> {
        Ok(Part::root(Value::new(&SMALL_INTS[byte as usize])?))
    }

    /// What kind of term it is.
    pub fn node(&self) -> Result<Node<'a>, Damaged> {
        self.value.node(self.at)
    }

    /// Its bytes in the external term format, without the version byte.
    pub fn bytes(&self) -> Result<&'a [u8], Damaged> {
        self.value.term_bytes(self.at)
    }

    /// Whether it is the same term as `other` (the same bytes).
    pub fn same(&self, other: &Part<'_>) -> Result<bool, Damaged> {
        Ok(self.bytes()? == other.bytes()?)
    }

    /// The term, decoded.
    pub fn term(&self) -> Result<Term, String> {
        let bytes = self.bytes().map_err(|e| e.to_string())?;
        let mut whole = Vec::with_capacity(bytes.len() + 1);
        whole.push(etf_tag::VERSION);
        whole.extend_from_slice(bytes);
        term::decode(&whole)
    }

    /// The term printed in `style` on one line, cut to `width` characters.
    pub fn text(&self, style: Style, width: usize) -> String {
        match self.term() {
            Ok(t) => shorten(&style.term(&t), width),
            Err(e) => format!("<undecodable: {e}>"),
        }
    }

    /// The elements of a tuple.
    pub fn tuple_elements(&self) -> Result<Option<Vec<Part<'a>>>, Damaged> {
        match self.node()? {
            Node::Tuple { arity, at } => Ok(Some(self.positions(at, arity)?)),
            _ => Ok(None),
        }
    }

    /// A list's elements and what ends it, or `None` for a term that is not a list.
    pub fn list(&self) -> Result<Option<ListParts<'a>>, Damaged> {
        let (mut elements, proper) = match self.node()? {
            Node::Nil => (Vec::new(), true),
            Node::Bytes(bytes) => (
                bytes
                    .iter()
                    .map(|&b| Part::small_int(b))
                    .collect::<Result<Vec<_>, _>>()?,
                true,
            ),
            Node::List { len, at } => {
                let mut all = self.positions(at, len + 1)?;
                let tail = all.pop().ok_or(Damaged { at })?;
                let proper = matches!(tail.node()?, Node::Nil);
                (all, proper)
            }
            _ => return Ok(None),
        };
        let cut = elements
            .last()
            .map(|last| last.cut_kind())
            .transpose()?
            .flatten()
            .is_some_and(|kind| kind == "list");
        if cut {
            elements.pop();
        }
        Ok(Some(ListParts {
            elements,
            cut,
            proper,
        }))
    }

    /// A map's pairs (a pair the capture cut left out not among them), and whether the capture
    /// left pairs out.
    pub fn map_pairs(&self) -> Result<Option<MapPairs<'a>>, Damaged> {
        let Node::Map { pairs, at } = self.node()? else {
            return Ok(None);
        };
        let parts = self.positions(at, pairs.checked_mul(2).ok_or(Damaged { at })?)?;
        let mut out = Vec::with_capacity(pairs);
        let mut cut = false;
        for pair in parts.chunks(2) {
            let (key, value) = (pair[0], pair[1]);
            let is_cut_pair = matches!(key.node()?.atom_text(), Some(name) if name == term::CUT)
                && value.cut_kind()?.is_some_and(|kind| kind == "map");
            if is_cut_pair {
                cut = true;
            } else {
                out.push((key, value));
            }
        }
        Ok(Some((out, cut)))
    }

    /// The kind of cut marker it is (`list`, `map`, `binary`, ...), if it is one.
    pub fn cut_kind(&self) -> Result<Option<String>, Damaged> {
        let Node::Tuple { arity: 3, at } = self.node()? else {
            return Ok(None);
        };
        let tag = self.value.node(at)?;
        if tag.atom_text().as_deref() != Some(term::CUT) {
            return Ok(None);
        }
        let kind_at = self.value.skip(at)?;
        Ok(self
            .value
            .node(kind_at)?
            .atom_text()
            .map(|k| k.into_owned()))
    }

    /// Whether it holds a cut marker anywhere (a value the capture cut).
    fn holds_cut(&self) -> Result<bool, Damaged> {
        if self.cut_kind()?.is_some() {
            return Ok(true);
        }
        if let Some(elements) = self.tuple_elements()? {
            for e in elements {
                if e.holds_cut()? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        if let Some(list) = self.list()? {
            if list.cut {
                return Ok(true);
            }
            for e in list.elements {
                if e.holds_cut()? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        if let Some((pairs, cut)) = self.map_pairs()? {
            if cut {
                return Ok(true);
            }
            for (k, v) in pairs {
                if k.holds_cut()? || v.holds_cut()? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn positions(&self, at: usize, count: usize) -> Result<Vec<Part<'a>>, Damaged> {
        self.value
            .elements(at, count)
            .map(|p| p.map(|at| Part::at(self.value, at)))
            .collect()
    }

    /// Term order between two parts (bytes order where the term order cannot tell).
    fn order(&self, other: &Part<'_>) -> Ordering {
        match self.value.compare(self.at, &other.value, other.at) {
            Ok(Some(order)) if order != Ordering::Equal => order,
            _ => self
                .bytes()
                .unwrap_or_default()
                .cmp(other.bytes().unwrap_or_default()),
        }
    }
}

/// A map's pairs, and whether the capture left pairs out (see [`Part::map_pairs`]).
pub type MapPairs<'a> = (Vec<(Part<'a>, Part<'a>)>, bool);

/// A list's parts (see [`Part::list`]).
#[derive(Debug, Clone)]
pub struct ListParts<'a> {
    /// The elements (without a cut marker that ends a cut list).
    pub elements: Vec<Part<'a>>,
    /// Whether the capture cut the list.
    pub cut: bool,
    /// Whether it ends in `[]` (else an improper tail, left out of `elements`).
    pub proper: bool,
}

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Only the second value has it.
    Added,
    /// Only the first value has it.
    Removed,
    /// Both have it, differently.
    Changed,
}

impl ChangeKind {
    /// `added`, `removed` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where: `state.items["tea"]` (see the module documentation).
    pub path: String,
    /// What happened there.
    pub kind: ChangeKind,
    /// The first value's term there, printed (none when added).
    pub before: Option<String>,
    /// The second value's term there, printed (none when removed).
    pub after: Option<String>,
}

/// What differs between two values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// The differences, in the order of the values (map keys in term order), at most
    /// [`MAX_CHANGES`].
    pub changes: Vec<Change>,
    /// Differences past [`MAX_CHANGES`], counted and not listed.
    pub more: usize,
    /// Whether what the capture cut took part: parts of either value were not recorded, so
    /// differences in them cannot be seen.
    pub incomplete: bool,
}

impl Diff {
    /// Whether nothing differs (as far as was recorded).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.more == 0
    }

    /// Adds a difference (counted past [`MAX_CHANGES`]).
    pub fn push(&mut self, change: Change) {
        if self.changes.len() < MAX_CHANGES {
            self.changes.push(change);
        } else {
            self.more += 1;
        }
    }
}

/// One step of a path.
#[derive(Debug, Clone)]
enum Step {
    /// A map key or a keyword list's key, printed; `field` when it is an Elixir atom key
    /// that reads as `.name`.
    Key { text: String, field: bool },
    /// A tuple's element (from 0).
    Element(usize),
    /// A list's element (from 0).
    Position(usize),
}

/// Compares `before` with `after`, the whole values named `root` in paths.
pub fn diff(root: &str, before: Part<'_>, after: Part<'_>, style: Style) -> Result<Diff, Damaged> {
    let mut out = Diff::default();
    let mut walk = Walk {
        style,
        root,
        path: Vec::new(),
        out: &mut out,
    };
    walk.compare(before, after)?;
    Ok(out)
}

/// A walk over two values, gathering their differences.
struct Walk<'o, 'r> {
    style: Style,
    root: &'r str,
    path: Vec<Step>,
    out: &'o mut Diff,
}

impl Walk<'_, '_> {
    fn path_text(&self) -> String {
        let mut text = self.root.to_string();
        let base = match self.style {
            Style::Elixir => 0,
            Style::Erlang => 1,
        };
        for step in &self.path {
            match step {
                Step::Key { text: key, field } if *field => {
                    text.push('.');
                    text.push_str(key);
                }
                Step::Key { text: key, .. } => {
                    text.push('[');
                    text.push_str(key);
                    text.push(']');
                }
                Step::Element(i) => text.push_str(&format!("{{{}}}", i + base)),
                Step::Position(i) => text.push_str(&format!("[{}]", i + base)),
            }
        }
        text
    }

    fn emit(&mut self, kind: ChangeKind, before: Option<Part<'_>>, after: Option<Part<'_>>) {
        if self.out.changes.len() >= MAX_CHANGES {
            self.out.more += 1;
            return;
        }
        let change = Change {
            path: self.path_text(),
            kind,
            before: before.map(|p| p.text(self.style, TEXT_WIDTH)),
            after: after.map(|p| p.text(self.style, TEXT_WIDTH)),
        };
        self.out.push(change);
    }

    /// A part only one side has: noted as incomplete when it holds a cut.
    fn one_sided(&mut self, kind: ChangeKind, part: Part<'_>) -> Result<(), Damaged> {
        if part.holds_cut()? {
            self.out.incomplete = true;
        }
        match kind {
            ChangeKind::Added => self.emit(kind, None, Some(part)),
            _ => self.emit(kind, Some(part), None),
        }
        Ok(())
    }

    fn compare(&mut self, a: Part<'_>, b: Part<'_>) -> Result<(), Damaged> {
        if a.same(&b)? {
            if a.holds_cut()? {
                // Equal as recorded; what was not recorded may differ.
                self.out.incomplete = true;
            }
            return Ok(());
        }
        let (cut_a, cut_b) = (a.cut_kind()?, b.cut_kind()?);
        if cut_a.is_some() || cut_b.is_some() || self.path.len() >= MAX_DEPTH {
            if cut_a.is_some() || cut_b.is_some() {
                self.out.incomplete = true;
            }
            self.emit(ChangeKind::Changed, Some(a), Some(b));
            return Ok(());
        }
        if let (Some(x), Some(y)) = (a.map_pairs()?, b.map_pairs()?) {
            return self.maps(x, y, a, b);
        }
        if let (Some(x), Some(y)) = (a.tuple_elements()?, b.tuple_elements()?) {
            if x.len() == y.len() {
                for (i, (ea, eb)) in x.into_iter().zip(y).enumerate() {
                    self.path.push(Step::Element(i));
                    self.compare(ea, eb)?;
                    self.path.pop();
                }
                return Ok(());
            }
        }
        if let (Some(x), Some(y)) = (a.list()?, b.list()?) {
            let charlists =
                matches!(a.node()?, Node::Bytes(_)) || matches!(b.node()?, Node::Bytes(_));
            if x.proper && y.proper && !charlists {
                return self.lists(x, y);
            }
        }
        if a.holds_cut()? || b.holds_cut()? {
            self.out.incomplete = true;
        }
        self.emit(ChangeKind::Changed, Some(a), Some(b));
        Ok(())
    }

    fn key_step(&self, key: Part<'_>, fields: bool) -> Step {
        let text = key.text(self.style, TEXT_WIDTH);
        let field = fields
            && self.style == Style::Elixir
            && text.starts_with(':')
            && text[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && text[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '?' || c == '!');
        if field {
            Step::Key {
                text: text[1..].to_string(),
                field: true,
            }
        } else {
            Step::Key { text, field: false }
        }
    }

    fn maps(
        &mut self,
        (x, cut_x): MapPairs<'_>,
        (y, cut_y): MapPairs<'_>,
        a: Part<'_>,
        b: Part<'_>,
    ) -> Result<(), Damaged> {
        if cut_x || cut_y {
            self.out.incomplete = true;
        }
        // Structs of different kinds are different values, not a field that changed.
        let struct_of = |pairs: &[(Part<'_>, Part<'_>)]| -> Result<Option<Vec<u8>>, Damaged> {
            for (k, v) in pairs {
                if k.node()?.atom_text().as_deref() == Some("__struct__") {
                    return Ok(Some(v.bytes()?.to_vec()));
                }
            }
            Ok(None)
        };
        if struct_of(&x)? != struct_of(&y)? {
            self.emit(ChangeKind::Changed, Some(a), Some(b));
            return Ok(());
        }
        self.keyed(x, y, true)
    }

    /// Pairs matched by key: removed, changed and added keys in the keys' term order. A map's
    /// atom keys read as `.field` (`fields`), a keyword list's as `[:key]`.
    fn keyed(
        &mut self,
        x: Vec<(Part<'_>, Part<'_>)>,
        y: Vec<(Part<'_>, Part<'_>)>,
        fields: bool,
    ) -> Result<(), Damaged> {
        let mut second: HashMap<&[u8], Part<'_>> = HashMap::with_capacity(y.len());
        for (k, v) in &y {
            second.insert(k.bytes()?, *v);
        }
        let mut first_keys: std::collections::HashSet<&[u8]> =
            std::collections::HashSet::with_capacity(x.len());
        for (k, _) in &x {
            first_keys.insert(k.bytes()?);
        }
        // Every key once, in term order.
        let mut keys: Vec<(Part<'_>, Option<Part<'_>>, Option<Part<'_>>)> = Vec::new();
        for (k, v) in &x {
            keys.push((*k, Some(*v), second.get(k.bytes()?).copied()));
        }
        for (k, v) in &y {
            if !first_keys.contains(k.bytes()?) {
                keys.push((*k, None, Some(*v)));
            }
        }
        keys.sort_by(|p, q| p.0.order(&q.0));
        for (key, va, vb) in keys {
            self.path.push(self.key_step(key, fields));
            match (va, vb) {
                (Some(va), Some(vb)) => self.compare(va, vb)?,
                (Some(va), None) => self.one_sided(ChangeKind::Removed, va)?,
                (None, Some(vb)) => self.one_sided(ChangeKind::Added, vb)?,
                (None, None) => {}
            }
            self.path.pop();
        }
        Ok(())
    }

    fn lists(&mut self, x: ListParts<'_>, y: ListParts<'_>) -> Result<(), Damaged> {
        if x.cut || y.cut {
            self.out.incomplete = true;
        }
        if let (Some(kx), Some(ky)) = (keyword(&x.elements)?, keyword(&y.elements)?) {
            return self.keyed(kx, ky, false);
        }
        let xs: Vec<&[u8]> = x
            .elements
            .iter()
            .map(|p| p.bytes())
            .collect::<Result<_, _>>()?;
        let ys: Vec<&[u8]> = y
            .elements
            .iter()
            .map(|p| p.bytes())
            .collect::<Result<_, _>>()?;
        for op in similar::capture_diff_slices(similar::Algorithm::Myers, &xs, &ys) {
            match op {
                similar::DiffOp::Equal { .. } => {}
                similar::DiffOp::Delete {
                    old_index, old_len, ..
                } => {
                    for i in old_index..old_index + old_len {
                        self.path.push(Step::Position(i));
                        self.one_sided(ChangeKind::Removed, x.elements[i])?;
                        self.path.pop();
                    }
                }
                similar::DiffOp::Insert {
                    new_index, new_len, ..
                } => {
                    for i in new_index..new_index + new_len {
                        self.path.push(Step::Position(i));
                        self.one_sided(ChangeKind::Added, y.elements[i])?;
                        self.path.pop();
                    }
                }
                similar::DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    // Elements in the same places changed; the rest came or went.
                    let paired = old_len.min(new_len);
                    for k in 0..paired {
                        self.path.push(Step::Position(new_index + k));
                        self.compare(x.elements[old_index + k], y.elements[new_index + k])?;
                        self.path.pop();
                    }
                    for i in old_index + paired..old_index + old_len {
                        self.path.push(Step::Position(i));
                        self.one_sided(ChangeKind::Removed, x.elements[i])?;
                        self.path.pop();
                    }
                    for i in new_index + paired..new_index + new_len {
                        self.path.push(Step::Position(i));
                        self.one_sided(ChangeKind::Added, y.elements[i])?;
                        self.path.pop();
                    }
                }
            }
        }
        Ok(())
    }
}

/// A keyword list's pairs (`[a: 1]`, `[{a, 1}]`: two-element tuples whose first elements are
/// distinct atoms), or `None` for any other list. The empty list is not one: it compares as a
/// list.
fn keyword<'a>(elements: &[Part<'a>]) -> Result<Option<Vec<(Part<'a>, Part<'a>)>>, Damaged> {
    if elements.is_empty() {
        return Ok(None);
    }
    let mut pairs = Vec::with_capacity(elements.len());
    let mut seen = std::collections::HashSet::with_capacity(elements.len());
    for e in elements {
        let Some(parts) = e.tuple_elements()? else {
            return Ok(None);
        };
        let [key, value] = parts.as_slice() else {
            return Ok(None);
        };
        if !matches!(key.node()?, Node::Atom { .. }) || !seen.insert(key.bytes()?) {
            return Ok(None);
        }
        if key.node()?.atom_text().as_deref() == Some(term::CUT) {
            return Ok(None);
        }
        pairs.push((*key, *value));
    }
    Ok(Some(pairs))
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn shorten(text: &str, width: usize) -> String {
    match text.char_indices().nth(width) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_terms::{atom, encode, int};
    use eetf::{Binary, List, Map, Tuple};

    fn binary(text: &str) -> Term {
        Term::from(Binary::from(text.as_bytes()))
    }

    fn map(pairs: Vec<(Term, Term)>) -> Term {
        Term::from(Map::from(pairs.into_iter().collect::<HashMap<_, _>>()))
    }

    fn list(items: Vec<Term>) -> Term {
        Term::from(List::from(items))
    }

    fn tuple(items: Vec<Term>) -> Term {
        Term::from(Tuple::from(items))
    }

    fn changes(a: Term, b: Term, style: Style) -> Diff {
        let (x, y) = (encode(a), encode(b));
        let (x, y) = (Value::new(&x).unwrap(), Value::new(&y).unwrap());
        diff("state", Part::root(x), Part::root(y), style).unwrap()
    }

    fn lines(d: &Diff) -> Vec<String> {
        d.changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} -> {}",
                    c.kind.as_str(),
                    c.path,
                    c.before.as_deref().unwrap_or("-"),
                    c.after.as_deref().unwrap_or("-")
                )
            })
            .collect()
    }

    #[test]
    fn maps_are_compared_key_by_key_in_term_order() {
        let before = map(vec![
            (
                atom("items"),
                map(vec![(binary("tea"), int(10)), (binary("cake"), int(5))]),
            ),
            (atom("orders"), int(0)),
            (atom("gone"), atom("true")),
        ]);
        let after = map(vec![
            (
                atom("items"),
                map(vec![(binary("tea"), int(8)), (binary("cake"), int(5))]),
            ),
            (atom("orders"), int(1)),
            (atom("new"), list(vec![])),
        ]);
        let d = changes(before.clone(), after.clone(), Style::Elixir);
        assert_eq!(
            lines(&d),
            [
                "removed state.gone true -> -",
                "changed state.items[\"tea\"] 10 -> 8",
                "added state.new - -> []",
                "changed state.orders 0 -> 1",
            ]
        );
        assert!(!d.incomplete);
        let d = changes(before, after, Style::Erlang);
        assert_eq!(
            lines(&d),
            [
                "removed state[gone] true -> -",
                "changed state[items][<<\"tea\">>] 10 -> 8",
                "added state[new] - -> []",
                "changed state[orders] 0 -> 1",
            ]
        );
    }

    #[test]
    fn equal_values_have_no_differences() {
        let v = map(vec![(atom("a"), list(vec![int(1), int(2)]))]);
        assert!(changes(v.clone(), v, Style::Elixir).is_empty());
    }

    #[test]
    fn tuples_of_one_size_compare_by_element_and_others_whole() {
        let d = changes(
            tuple(vec![atom("state"), int(1), int(2)]),
            tuple(vec![atom("state"), int(1), int(3)]),
            Style::Erlang,
        );
        assert_eq!(lines(&d), ["changed state{3} 2 -> 3"]);
        let d = changes(
            tuple(vec![atom("state"), int(1), int(2)]),
            tuple(vec![atom("state"), int(1), int(2), int(3)]),
            Style::Elixir,
        );
        assert_eq!(
            lines(&d),
            ["changed state {:state, 1, 2} -> {:state, 1, 2, 3}"]
        );
    }

    #[test]
    fn lists_are_sequences_and_keyword_lists_are_keyed() {
        // One element put in front is one addition.
        let d = changes(
            list(vec![binary("b"), binary("c")]),
            list(vec![binary("a"), binary("b"), binary("c")]),
            Style::Elixir,
        );
        assert_eq!(lines(&d), ["added state[0] - -> \"a\""]);
        // A changed element in place is looked into.
        let d = changes(
            list(vec![map(vec![(atom("qty"), int(1))]), int(7)]),
            list(vec![map(vec![(atom("qty"), int(2))]), int(7)]),
            Style::Elixir,
        );
        assert_eq!(lines(&d), ["changed state[0].qty 1 -> 2"]);
        // Keyword lists by key, whatever their order.
        let kw = |pairs: Vec<(&str, Term)>| {
            list(
                pairs
                    .into_iter()
                    .map(|(k, v)| tuple(vec![atom(k), v]))
                    .collect(),
            )
        };
        let d = changes(
            kw(vec![("a", int(1)), ("b", int(2))]),
            kw(vec![("b", int(3)), ("a", int(1)), ("c", int(4))]),
            Style::Elixir,
        );
        assert_eq!(
            lines(&d),
            ["changed state[:b] 2 -> 3", "added state[:c] - -> 4"]
        );
        // Byte lists (charlists) compare whole; their elements are small integers.
        let d = changes(
            Term::from(eetf::ByteList::from(b"abc".to_vec())),
            Term::from(eetf::ByteList::from(b"abd".to_vec())),
            Style::Erlang,
        );
        assert_eq!(lines(&d), ["changed state \"abc\" -> \"abd\""]);
    }

    #[test]
    fn what_the_capture_cut_makes_a_diff_incomplete() {
        let cut = |kind: &str, detail: Term| tuple(vec![atom(term::CUT), atom(kind), detail]);
        // A map whose other pairs were not captured.
        let before = map(vec![
            (atom("a"), int(1)),
            (atom(term::CUT), cut("map", int(3))),
        ]);
        let after = map(vec![
            (atom("a"), int(2)),
            (atom(term::CUT), cut("map", int(3))),
        ]);
        let d = changes(before, after, Style::Elixir);
        assert_eq!(lines(&d), ["changed state.a 1 -> 2"]);
        assert!(d.incomplete);
        // A list cut at the end: the marker is not an element.
        let before = list(vec![int(1), cut("list", atom("nil"))]);
        let after = list(vec![int(1), int(2), cut("list", atom("nil"))]);
        let d = changes(before, after, Style::Elixir);
        assert_eq!(lines(&d), ["added state[1] - -> 2"]);
        assert!(d.incomplete);
    }

    #[test]
    fn structs_of_other_kinds_change_whole() {
        let s =
            |name: &str, v: i32| map(vec![(atom("__struct__"), atom(name)), (atom("v"), int(v))]);
        let d = changes(s("Elixir.A", 1), s("Elixir.A", 2), Style::Elixir);
        assert_eq!(lines(&d), ["changed state.v 1 -> 2"]);
        let d = changes(s("Elixir.A", 1), s("Elixir.B", 1), Style::Elixir);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].path, "state");
    }

    #[test]
    fn many_differences_are_counted_past_the_cap() {
        let a = list((0..300).map(|i| tuple(vec![int(i), int(0)])).collect());
        let b = list((0..300).map(|i| tuple(vec![int(i), int(1)])).collect());
        let d = changes(a, b, Style::Elixir);
        assert_eq!(d.changes.len(), MAX_CHANGES);
        assert_eq!(d.more, 100);
    }
}
