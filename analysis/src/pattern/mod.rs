//! Patterns over recorded calls, written as Elixir or Erlang code:
//! `Shop.Checkout.place(%{customer: "joe"})`, `lists:keyfind(_, 1, _)`,
//! `Cart.add(_, qty) when qty > 10`, and value patterns for results and exceptions
//! (`{:error, _}`).
//!
//! The language is each dialect's pattern syntax: literals (integers in any base, floats,
//! atoms, Elixir binaries and charlists, Erlang strings and `<<"binaries">>`), `_` and
//! variables (bound by their first occurrence; a repeated variable must see equal values),
//! tuples, lists with `|` tails and Elixir keyword lists, maps (`%{k: v}`, `#{k := V}`: the
//! pairs named must be there, others may be), Elixir structs (`%User{name: n}`), binary
//! prefixes (`"GET " <> path`, `<<"GET ", Path/binary>>`), and guards over numbers, sizes and
//! types (`when`, `and`, `or`, `not`, Erlang's `,` and `;`, comparisons, `is_integer/1` and
//! the other type tests, `byte_size/1`, `length/1`, `map_size/1`, `tuple_size/1`, `abs/1`).
//!
//! A call pattern names its module and function (`_` for any), and optionally its arguments
//! or arity: `Mod.fun(args)`, `Mod.fun/2`, `Mod.fun`, `mod:fun(Args)`, `_:handle_call(_, _, _)`.
//! Matching reads the stored bytes in place ([`crate::etf`]). A value the capture cut (a
//! list's end, a map's other pairs, a binary's tail) or redacted is matched only by `_` or a
//! variable: a pattern never claims what was not recorded.
//!
//! - [`lexer`](self) – words; `parser` – the syntax tree; `matcher` – matching and guards.

mod lexer;
mod matcher;
mod parser;

pub use matcher::Bindings;

/// Which language a pattern is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Elixir: `Mod.fun(%{a: 1})`, `:atom`, `"binary"`, variables in lower case.
    Elixir,
    /// Erlang: `mod:fun(#{a := 1})`, `atom`, `<<"binary">>`, variables capitalized.
    Erlang,
}

impl Dialect {
    /// The dialect a call pattern is written in: Erlang when it starts with an atom and a
    /// colon (`lists:keyfind`, `'Elixir.Foo':bar`, `_:f`), Elixir otherwise.
    pub fn of_call(text: &str) -> Dialect {
        let t = text.trim_start();
        let head_len = if let Some(rest) = t.strip_prefix('\'') {
            rest.find('\'').map(|i| i + 2)
        } else {
            Some(
                t.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '@'))
                    .unwrap_or(t.len()),
            )
        };
        let starts_lower = t
            .chars()
            .next()
            .is_some_and(|c| c.is_lowercase() || c == '_' || c == '\'');
        match head_len {
            Some(n) if n > 0 && starts_lower => {
                let after = t[n..].trim_start();
                if after.starts_with(':') && !after.starts_with("::") {
                    Dialect::Erlang
                } else {
                    Dialect::Elixir
                }
            }
            _ => Dialect::Elixir,
        }
    }
}

/// A pattern that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}\n  {source_text}\n  {caret}", caret = caret(*column))]
pub struct PatternError {
    /// The pattern as given.
    pub source_text: String,
    /// Where the problem is (1-based, in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

fn caret(column: usize) -> String {
    format!("{}^", " ".repeat(column.saturating_sub(1)))
}

impl PatternError {
    pub(crate) fn new(source_text: &str, column: usize, message: String) -> PatternError {
        PatternError {
            source_text: source_text.to_owned(),
            column,
            message,
        }
    }
}

/// A pattern over one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `_`, `_name`: anything.
    Any,
    /// A variable: anything the first time, then a value equal to the first.
    Var(usize),
    /// An integer (as in a pattern, `1` does not match `1.0`).
    Int(i128),
    /// A float (exactly a float).
    Float(f64),
    /// An atom.
    Atom(String),
    /// A binary with exactly these bytes.
    Binary(Vec<u8>),
    /// A binary starting with these bytes, the rest matched by `rest` (a binary).
    Prefix {
        /// The bytes it starts with.
        prefix: Vec<u8>,
        /// What the rest must match.
        rest: Box<Pattern>,
    },
    /// A tuple.
    Tuple(Vec<Pattern>),
    /// A list: these elements, then `tail` (`[]` when `None`).
    List {
        /// The elements.
        items: Vec<Pattern>,
        /// What follows them.
        tail: Option<Box<Pattern>>,
    },
    /// A map holding at least these pairs (keys are literals).
    Map(Vec<(Pattern, Pattern)>),
    /// A term with exactly these bytes (a pid, reference, fun or big integer given as a term).
    Exact(Vec<u8>),
}

/// A guard's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// Both.
    And(Box<Guard>, Box<Guard>),
    /// Either.
    Or(Box<Guard>, Box<Guard>),
    /// Not.
    Not(Box<Guard>),
    /// A comparison.
    Compare(Comparison, GuardExpr, GuardExpr),
    /// A type test (`is_integer(x)`).
    Is(TypeTest, GuardExpr),
    /// A bare expression that must be the atom `true`.
    True(GuardExpr),
}

/// Comparison operators (`==` compares numbers by value, `===`/`=:=` exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Less,
    /// `<=`, `=<`
    LessEq,
    /// `>`
    Greater,
    /// `>=`
    GreaterEq,
    /// `==`
    Eq,
    /// `!=`, `/=`
    NotEq,
    /// `===`, `=:=`
    Exact,
    /// `!==`, `=/=`
    NotExact,
}

/// Type tests in guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeTest {
    /// `is_integer/1`
    Integer,
    /// `is_float/1`
    Float,
    /// `is_number/1`
    Number,
    /// `is_atom/1`
    Atom,
    /// `is_binary/1`
    Binary,
    /// `is_list/1`
    List,
    /// `is_map/1`
    Map,
    /// `is_tuple/1`
    Tuple,
    /// `is_pid/1`
    Pid,
    /// `is_boolean/1`
    Boolean,
    /// `is_nil/1` (Elixir)
    Nil,
}

/// Values in guards.
#[derive(Debug, Clone, PartialEq)]
pub enum GuardExpr {
    /// A bound variable.
    Var(usize),
    /// A literal.
    Literal(Pattern),
    /// A size or `abs` of an expression.
    Apply(GuardFn, Box<GuardExpr>),
    /// `-x`.
    Negate(Box<GuardExpr>),
}

/// Functions in guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardFn {
    /// `byte_size/1`
    ByteSize,
    /// `length/1`
    Length,
    /// `map_size/1`
    MapSize,
    /// `tuple_size/1`
    TupleSize,
    /// `abs/1`
    Abs,
}

/// A pattern with its variables and guard.
#[derive(Debug, Clone, PartialEq)]
pub struct ValuePattern {
    /// The pattern.
    pub pattern: Pattern,
    /// The guard, if any.
    pub guard: Option<Guard>,
    /// The variables' names, by index.
    pub vars: Vec<String>,
    /// The dialect it was written in.
    pub dialect: Dialect,
}

/// A pattern over calls: which function, and what its arguments must match.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPattern {
    /// The module's atom (`Elixir.Shop.Checkout`, `lists`), `None` for any.
    pub module: Option<String>,
    /// The function's name, `None` for any.
    pub function: Option<String>,
    /// The arity, when the pattern gives arguments or `/N`.
    pub arity: Option<u8>,
    /// The arguments (a list pattern of `arity` elements), when given, with the guard.
    pub args: Option<ValuePattern>,
    /// The dialect it was written in.
    pub dialect: Dialect,
}

impl CallPattern {
    /// Parses a call pattern; the dialect is told by its start (see [`Dialect::of_call`]).
    pub fn parse(text: &str) -> Result<CallPattern, PatternError> {
        parser::call(text, Dialect::of_call(text))
    }
}

impl ValuePattern {
    /// Parses a value pattern, optionally with a guard, in `dialect`.
    pub fn parse(text: &str, dialect: Dialect) -> Result<ValuePattern, PatternError> {
        parser::value(text, dialect)
    }

    /// A pattern matching exactly the value `bytes` (external term format), for a value
    /// given as a term (IEx) rather than as text. Its maps match as patterns' maps do: the
    /// pairs it has must be there.
    pub fn of_value(bytes: &[u8], dialect: Dialect) -> Result<ValuePattern, crate::etf::Damaged> {
        let value = crate::etf::Value::new(bytes)?;
        Ok(ValuePattern {
            pattern: matcher::literal(&value, value.root())?,
            guard: None,
            vars: Vec::new(),
            dialect,
        })
    }

    /// Whether the value `bytes` matches; `None` when the bytes are not a term.
    pub fn matches(&self, bytes: &[u8]) -> Result<bool, crate::etf::Damaged> {
        let value = crate::etf::Value::new(bytes)?;
        let mut bindings = Bindings::new(self.vars.len());
        matcher::matches_at(self, &value, value.root(), &mut bindings)
    }

    /// Whether the term at `at` of `value` matches.
    pub fn matches_at(
        &self,
        value: &crate::etf::Value<'_>,
        at: usize,
    ) -> Result<bool, crate::etf::Damaged> {
        let mut bindings = Bindings::new(self.vars.len());
        matcher::matches_at(self, value, at, &mut bindings)
    }

    /// Whether any term inside the value `bytes` (the value itself included) matches.
    pub fn occurs_in(&self, bytes: &[u8]) -> Result<bool, crate::etf::Damaged> {
        let value = crate::etf::Value::new(bytes)?;
        matcher::occurs(self, &value)
    }

    /// Byte strings that any matching value's bytes must contain (a literal binary's or
    /// atom's text): a cheap test that rules out most values before matching.
    pub fn needles(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        matcher::needles(&self.pattern, &mut out);
        out
    }
}

#[cfg(test)]
mod tests;
