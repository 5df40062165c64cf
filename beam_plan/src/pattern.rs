//! Function patterns: `Module`, `Module.fun`, `Module.fun/arity`, with `*` wildcards, in Elixir
//! or Erlang spelling.
//!
//! | written | module | function | arity |
//! |---|---|---|---|
//! | `MyApp.Repo` | `Elixir.MyApp.Repo` | any | any |
//! | `MyApp.*` | `Elixir.MyApp.*` (every module under `MyApp`) | any | any |
//! | `MyApp.Repo.get/2` | `Elixir.MyApp.Repo` | `get` | 2 |
//! | `MyApp.Repo.get*` | `Elixir.MyApp.Repo` | `get*` | any |
//! | `MyApp.Repo.*/1` | `Elixir.MyApp.Repo` | any | 1 |
//! | `my_dep_mod` | `my_dep_mod` | any | any |
//! | `my_dep_mod:parse/1` | `my_dep_mod` | `parse` | 1 |
//! | `:my_dep_mod.parse/1` | `my_dep_mod` | `parse` | 1 |
//! | `*` | every module | any | any |
//!
//! In Elixir spelling, segments that start with an upper-case letter (after any `*`) name the
//! module, and a last segment that does not is the function; with an arity the last segment is
//! always the function. `*` is the only wildcard and matches any run of characters (dots
//! included); `?`, `!` and brackets are literal, as in `valid?/1`.

use std::fmt;

use beam_format::tables::FunctionRef;

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern {
    /// Glob over the module's BEAM name (`Elixir.MyApp.Repo`, `lists`).
    pub module: String,
    /// Glob over the function name; `None` matches every function.
    pub function: Option<String>,
    /// The arity; `None` matches every arity.
    pub arity: Option<u32>,
}

/// Why a pattern could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pattern {pattern:?}: {reason} (expected Module, Module.fun or Module.fun/arity, e.g. MyApp.Repo.get/2 or my_mod:parse/1)")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Pattern {
    /// Reads a pattern in Elixir or Erlang spelling.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let error = |reason: &str| PatternError {
            pattern: text.to_string(),
            reason: reason.to_string(),
        };
        let text_trimmed = text.trim();
        if text_trimmed.is_empty() {
            return Err(error("it is empty"));
        }
        let (body, arity) = split_arity(text_trimmed).map_err(|r| error(&r))?;
        let (module, function) = if let Some(erlang) = body.strip_prefix(':') {
            // Elixir spelling of an Erlang module: `:lists` or `:lists.reverse`.
            match erlang.rsplit_once('.') {
                Some((module, function)) => (module.to_string(), Some(function.to_string())),
                None => (erlang.to_string(), None),
            }
        } else if let Some((module, function)) = body.split_once(':') {
            (unquote(module), Some(unquote(function)))
        } else if starts_lower(body) {
            (unquote(body), None)
        } else {
            elixir(body, arity.is_some())
        };
        if module.is_empty() {
            return Err(error("the module part is empty"));
        }
        if function.as_deref() == Some("") {
            return Err(error("the function part is empty"));
        }
        if module.split('.').any(str::is_empty) && module.starts_with("Elixir.") {
            return Err(error("it has an empty segment (two dots in a row?)"));
        }
        if arity.is_some() && function.is_none() {
            return Err(error("an arity needs a function name before it"));
        }
        Ok(Pattern {
            module,
            function: function.filter(|f| f != "*"),
            arity,
        })
    }

    /// Whether the pattern can match functions of this module.
    pub fn matches_module(&self, module: &str) -> bool {
        glob(&self.module, module)
    }

    /// Whether the pattern matches this function (of a module it matches).
    pub fn matches_function(&self, function: &FunctionRef) -> bool {
        self.function
            .as_deref()
            .is_none_or(|f| glob(f, &function.name))
            && self.arity.is_none_or(|a| a == function.arity)
    }

    /// Whether the pattern covers every function of the modules it matches.
    pub fn is_whole_module(&self) -> bool {
        self.function.is_none() && self.arity.is_none()
    }
}

impl fmt::Display for Pattern {
    /// The canonical (Erlang) spelling: `module:function/arity`, `*` for any part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.module)?;
        if !self.is_whole_module() {
            write!(f, ":{}", self.function.as_deref().unwrap_or("*"))?;
            match self.arity {
                Some(arity) => write!(f, "/{arity}")?,
                None => write!(f, "/*")?,
            }
        }
        Ok(())
    }
}

/// Splits `body/arity`; the arity may be `*`.
fn split_arity(text: &str) -> Result<(&str, Option<u32>), String> {
    match text.rsplit_once('/') {
        // A function may be named `/` (Kernel./2): only a numeric or `*` tail is an arity.
        Some((body, "*")) if !body.is_empty() => Ok((body, None)),
        Some((body, arity))
            if !body.is_empty()
                && !arity.is_empty()
                && arity.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let arity = arity
                .parse::<u32>()
                .ok()
                .filter(|a| *a <= 255)
                .ok_or_else(|| format!("arity {arity} is not between 0 and 255"))?;
            Ok((body, Some(arity)))
        }
        _ => Ok((text, None)),
    }
}

/// Elixir spelling: `Alias.Alias[.fun]`.
fn elixir(body: &str, has_arity: bool) -> (String, Option<String>) {
    if body == "*" && !has_arity {
        return ("*".to_string(), None);
    }
    let (module, function) = match body.rsplit_once('.') {
        Some((module, last)) if has_arity || !is_module_segment(last) => {
            (module, Some(last.to_string()))
        }
        _ if has_arity => ("", Some(body.to_string())),
        _ => (body, None),
    };
    let module = if module.is_empty() {
        String::new()
    } else {
        format!(
            "Elixir.{}",
            module.strip_prefix("Elixir.").unwrap_or(module)
        )
    };
    (module, function)
}

fn is_module_segment(segment: &str) -> bool {
    let rest = segment.trim_start_matches('*');
    rest.is_empty() || rest.starts_with(|c: char| c.is_uppercase())
}

fn starts_lower(text: &str) -> bool {
    text.starts_with(|c: char| c.is_lowercase() || c == '\'')
}

fn unquote(text: &str) -> String {
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(text)
        .to_string()
}

/// Matches `text` against `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*` at all
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn f(name: &str, arity: u32) -> FunctionRef {
        FunctionRef {
            name: name.into(),
            arity,
        }
    }

    #[test]
    fn reads_both_spellings() {
        let cases = [
            ("MyApp.Repo", "Elixir.MyApp.Repo"),
            ("MyApp.*", "Elixir.MyApp.*"),
            ("MyApp.Repo.get/2", "Elixir.MyApp.Repo:get/2"),
            ("MyApp.Repo.get*", "Elixir.MyApp.Repo:get*/*"),
            ("MyApp.Repo.*/1", "Elixir.MyApp.Repo:*/1"),
            ("MyApp.Repo.valid?/1", "Elixir.MyApp.Repo:valid?/1"),
            ("Elixir.MyApp.Repo", "Elixir.MyApp.Repo"),
            ("Kernel.//2", "Elixir.Kernel:/\u{2f}2"),
            ("my_dep_mod", "my_dep_mod"),
            ("my_dep_mod:parse/1", "my_dep_mod:parse/1"),
            ("my_dep_mod:*", "my_dep_mod"),
            (":my_dep_mod.parse/1", "my_dep_mod:parse/1"),
            (":lists", "lists"),
            ("'Elixir.Foo':bar", "Elixir.Foo:bar/*"),
            ("*", "*"),
            ("*:init/1", "*:init/1"),
            ("*Web.*", "Elixir.*Web.*"),
        ];
        for (text, canonical) in cases {
            assert_eq!(p(text).to_string(), canonical, "{text}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for text in [
            "",
            "  ",
            "MyApp./2",
            "MyApp..Repo",
            "a:/1",
            ":/1",
            "Foo.bar/300",
        ] {
            let err = Pattern::parse(text).expect_err(text);
            assert!(err.to_string().contains("bad pattern"), "{err}");
        }
    }

    #[test]
    fn matches_modules_and_functions() {
        let repo = p("MyApp.Repo.get*/2");
        assert!(repo.matches_module("Elixir.MyApp.Repo"));
        assert!(!repo.matches_module("Elixir.MyApp.Repo.Query"));
        assert!(repo.matches_function(&f("get_by", 2)));
        assert!(!repo.matches_function(&f("get_by", 3)));
        assert!(!repo.matches_function(&f("all", 2)));

        let tree = p("MyApp.*");
        assert!(tree.matches_module("Elixir.MyApp.Repo.Query"));
        assert!(!tree.matches_module("Elixir.MyApp"));
        assert!(tree.is_whole_module());

        let literal = p("M.valid?/1");
        assert!(literal.matches_function(&f("valid?", 1)));
        assert!(!literal.matches_function(&f("valida", 1)));
    }

    #[test]
    fn globs_only_know_the_star() {
        assert!(glob("a*c", "abc"));
        assert!(glob("a*c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "a_b_b_c"));
        assert!(!glob("a*c", "ab"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("a*a", "a"));
        assert!(glob("x?", "x?"));
        assert!(!glob("x?", "xy"));
    }
}
