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
    /// Encrypted (`compile` option `encrypt_debug_info`) with this cipher (`des3_cbc`): the
    /// backend is known only once decrypted, which the helper does with the key `beam_lib`
    /// finds (`~/.erlang.crypt`).
    Encrypted(String),
}

impl Backend {
    /// The backend's module name, as in the chunk (`encrypted` for encrypted debug info).
    pub fn as_str(&self) -> &str {
        match self {
            Backend::ErlAbstractCode => "erl_abstract_code",
            Backend::ElixirErl => "elixir_erl",
            Backend::Other(name) => name,
            Backend::Encrypted(_) => "encrypted",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Encrypted(cipher) => write!(f, "encrypted ({cipher})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// The decoded `Dbgi` chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugInfo {
    /// The backend that wrote it.
    pub backend: Backend,
    /// The backend's data (for encrypted debug info, the encrypted bytes as a binary).
    pub data: Term,
}

/// The first byte of an encrypted `Dbgi` chunk (`<<0, N, Cipher:N/binary, Encrypted/binary>>`,
/// as `beam_lib` reads it); an ETF term starts with 131.
const ENCRYPTED: u8 = 0;

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
        if let [ENCRYPTED, rest @ ..] = chunk.data.as_slice() {
            let truncated = || bad(EtfProblem::Shape("truncated encrypted debug info".into()));
            let (&length, rest) = rest.split_first().ok_or_else(truncated)?;
            if rest.len() < usize::from(length) {
                return Err(truncated());
            }
            let (cipher, encrypted) = rest.split_at(usize::from(length));
            return Ok(Some(DebugInfo {
                backend: Backend::Encrypted(String::from_utf8_lossy(cipher).into_owned()),
                data: Term::from(eetf::Binary::from(encrypted)),
            }));
        }
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
    /// `debug_info`) and for data `none` of other backends (Elixir writes `{debug_info_v1,
    /// elixir_erl, none}` for `@compile {:debug_info, false}`); `true` for encrypted debug info
    /// (given the key).
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
    fn encrypted_debug_info_is_recognized_not_a_bad_term() {
        // `erlc +debug_info '+{debug_info_key,"secret"}'` writes <<0, 8, "des3_cbc", ...>>.
        let mut chunk = vec![0, 8];
        chunk.extend_from_slice(b"des3_cbc");
        chunk.extend_from_slice(&[109, 191, 148, 201]);
        let beam = Beam {
            chunks: vec![crate::chunk::Chunk {
                id: ChunkId::DBGI,
                data: chunk.clone(),
            }],
            compressed: false,
        };
        let info = DebugInfo::decode(&beam).unwrap().unwrap();
        assert_eq!(info.backend, Backend::Encrypted("des3_cbc".into()));
        assert_eq!(info.backend.to_string(), "encrypted (des3_cbc)");
        assert!(info.has_code());
        let cut = Beam {
            chunks: vec![crate::chunk::Chunk {
                id: ChunkId::DBGI,
                data: chunk[..5].to_vec(),
            }],
            compressed: false,
        };
        let error = DebugInfo::decode(&cut).unwrap_err().to_string();
        assert!(error.contains("truncated encrypted debug info"), "{error}");
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
