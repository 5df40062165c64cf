//! The `Dbgi` chunk: `{debug_info_v1, Backend, Data}`, where the rewriter takes code from.
//!
//! Erlang-compiled beams use the `erl_abstract_code` backend (Data is `{Forms, CompileOptions}`,
//! or `{none, _}` when compiled without debug info); Elixir-compiled beams use `elixir_erl`,
//! whose data only the BEAM can turn into Erlang forms (the helper does that).

use std::fmt;

use eetf::Term;

use crate::chunk::ChunkId;
use crate::container::Beam;
use crate::error::{EtfProblem, FormatError};
use crate::etf;

/// Which compiler backend wrote the debug info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Erlang's compiler: the data is abstract code.
    ErlAbstractCode,
    /// Elixir's compiler: the data is Elixir's own, turned into forms by `elixir_erl`.
    ElixirErl,
    /// Another backend (another BEAM language).
    Other(String),
}

impl Backend {
    /// The backend's module name, as in the chunk.
    pub fn as_str(&self) -> &str {
        match self {
            Backend::ErlAbstractCode => "erl_abstract_code",
            Backend::ElixirErl => "elixir_erl",
            Backend::Other(name) => name,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decoded `Dbgi` chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugInfo {
    /// The backend that wrote it.
    pub backend: Backend,
    /// The backend's data.
    pub data: Term,
}

impl DebugInfo {
    /// Decodes the `Dbgi` chunk of a beam; `None` when there is no such chunk.
    pub fn decode(beam: &Beam) -> Result<Option<DebugInfo>, FormatError> {
        let Some(chunk) = beam.chunk(ChunkId::DBGI) else {
            return Ok(None);
        };
        let bad = |reason| FormatError::BadTerm {
            context: "the Dbgi chunk".into(),
            reason,
        };
        let term = etf::decode(&chunk.data).map_err(bad)?;
        let shape = || {
            bad(EtfProblem::Shape(
                "expected {debug_info_v1, Backend, Data}".into(),
            ))
        };
        let Term::Tuple(tuple) = term else {
            return Err(shape());
        };
        let mut elements = tuple.elements.into_iter();
        let (Some(Term::Atom(tag)), Some(Term::Atom(backend)), Some(data), None) = (
            elements.next(),
            elements.next(),
            elements.next(),
            elements.next(),
        ) else {
            return Err(shape());
        };
        if tag.name != "debug_info_v1" {
            return Err(shape());
        }
        let backend = match backend.name.as_str() {
            "erl_abstract_code" => Backend::ErlAbstractCode,
            "elixir_erl" => Backend::ElixirErl,
            _ => Backend::Other(backend.name),
        };
        Ok(Some(DebugInfo { backend, data }))
    }

    /// Whether code can be recovered from it: `false` for `{none, _}` (compiled without
    /// `debug_info`), for encrypted debug info, and for data `none` of other backends (Elixir
    /// writes `{debug_info_v1, elixir_erl, none}` for `@compile {:debug_info, false}`).
    pub fn has_code(&self) -> bool {
        match (&self.backend, &self.data) {
            (Backend::ErlAbstractCode, Term::Tuple(t)) => {
                matches!(t.elements.first(), Some(Term::List(_)))
            }
            (Backend::ErlAbstractCode, _) => false,
            (_, Term::Atom(atom)) => atom.name != "none",
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eetf::{Atom, List, Tuple};

    fn info(backend: Backend, data: Term) -> DebugInfo {
        DebugInfo { backend, data }
    }

    #[test]
    fn knows_when_there_is_no_code() {
        let none = || Term::from(Atom::from("none"));
        let pair = |first: Term| Term::from(Tuple::from(vec![first, Term::from(List::nil())]));
        assert!(info(Backend::ErlAbstractCode, pair(Term::from(List::nil()))).has_code());
        assert!(!info(Backend::ErlAbstractCode, pair(none())).has_code());
        assert!(!info(Backend::ElixirErl, none()).has_code());
        assert!(info(Backend::ElixirErl, pair(none())).has_code());
    }
}
