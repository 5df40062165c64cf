//! Module attributes (`Attr`) and compile information (`CInf`): keyword lists of terms.

use eetf::Term;

use crate::chunk::ChunkId;
use crate::container::Beam;
use crate::error::{EtfProblem, FormatError};
use crate::etf;

/// A `{Key, Value}` entry of the `Attr` or `CInf` chunk.
pub type Entry = (String, Term);

/// The module attributes (`-behaviour`, `-vsn`, `-on_load`, ...); empty without an `Attr` chunk.
pub fn attributes(beam: &Beam) -> Result<Vec<Entry>, FormatError> {
    keyword_chunk(beam, ChunkId::ATTR)
}

/// The compile information (`options`, `version`, `source`); empty without a `CInf` chunk.
pub fn compile_info(beam: &Beam) -> Result<Vec<Entry>, FormatError> {
    keyword_chunk(beam, ChunkId::CINF)
}

/// The values of one attribute, in order (`behaviour` may appear several times).
pub fn values<'a>(entries: &'a [Entry], key: &'a str) -> impl Iterator<Item = &'a Term> + 'a {
    entries
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v)
}

fn keyword_chunk(beam: &Beam, id: ChunkId) -> Result<Vec<Entry>, FormatError> {
    let Some(chunk) = beam.chunk(id) else {
        return Ok(Vec::new());
    };
    let bad = |reason| FormatError::BadTerm {
        context: format!("the {id} chunk"),
        reason,
    };
    let Term::List(list) = etf::decode(&chunk.data).map_err(bad)? else {
        return Err(bad(EtfProblem::Shape("not a list".into())));
    };
    list.elements
        .into_iter()
        .map(|entry| match entry {
            Term::Tuple(t) if t.elements.len() == 2 => {
                let mut e = t.elements.into_iter();
                match (e.next(), e.next()) {
                    (Some(Term::Atom(key)), Some(value)) => Ok((key.name, value)),
                    _ => Err(bad(EtfProblem::Shape(
                        "an entry's key is not an atom".into(),
                    ))),
                }
            }
            other => Err(bad(EtfProblem::Shape(format!(
                "{other} is not a {{Key, Value}} pair"
            )))),
        })
        .collect()
}
