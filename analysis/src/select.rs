//! Calls chosen by what they were given, returned or raised: a [`CallQuery`] (a call pattern
//! with result and exception patterns) narrows a [`CallFilter`] by module, function and arity,
//! so the store walks only those functions' blocks, and matches values in place; [`search`]
//! finds calls that hold a value anywhere (Erlang Doctor's `tr:contains_data`), and [`origin`]
//! the calls that returned a value they were not given: where it came from.

use memchr::memmem::Finder;
use store::{CallFilter, CallView, Class, Snapshot, StoreError};

use crate::etf::Damaged;
use crate::pattern::{CallPattern, Dialect, PatternError, ValuePattern};

/// Why a question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A pattern does not parse.
    #[error("{what}: {source}")]
    Pattern {
        /// Which pattern (`--match`, `--result`, ...).
        what: &'static str,
        /// Where and why.
        source: PatternError,
    },
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value is not a term.
    #[error("call {call}: {source}")]
    Damaged {
        /// The call that holds it.
        call: u64,
        /// Where.
        source: Damaged,
    },
}

/// Which calls: a call pattern, what they must have returned, what they must have raised.
#[derive(Debug, Clone, Default)]
pub struct CallQuery {
    /// Module, function, arity and arguments.
    pub call: Option<CallPattern>,
    /// A pattern the result must match (the call returned).
    pub result: Option<ValuePattern>,
    /// What the call must have raised.
    pub exception: Option<ExceptionPattern>,
}

/// What an exception must be.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionPattern {
    /// Its class, when given (`error:`, `exit:`, `throw:`).
    pub class: Option<Class>,
    /// What it must be, when given.
    pub reason: Option<Reason>,
}

/// An exception's reason: an Elixir exception module (which also stands for the Erlang
/// reasons Elixir turns into it: `badarg` for `ArgumentError`), or a pattern over the reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// `ArgumentError`: the module's atom, `Elixir.ArgumentError`.
    Module(String),
    /// A pattern over the raw reason.
    Pattern(ValuePattern),
}

impl ExceptionPattern {
    /// Parses `[Class:]Reason`: `ArgumentError`, `error:badarg`, `exit`, `throw:{:stop, _}`,
    /// `{:badmatch, _}`; Class alone for any exception of the class.
    pub fn parse(text: &str, dialect: Dialect) -> Result<ExceptionPattern, PatternError> {
        let t = text.trim();
        let (class, rest) = match t.split_once(':') {
            Some((c, rest)) if class_of(c.trim()).is_some() && !rest.starts_with(':') => {
                (class_of(c.trim()), rest.trim())
            }
            _ => match class_of(t) {
                Some(c) => (Some(c), ""),
                None => (None, t),
            },
        };
        if rest.is_empty() {
            if class.is_none() {
                return Err(PatternError::new(
                    text,
                    1,
                    "an empty exception pattern".to_owned(),
                ));
            }
            return Ok(ExceptionPattern {
                class,
                reason: None,
            });
        }
        let offset = text.len() - text.trim_start().len() + t.len() - rest.len();
        let is_alias = rest.split('.').all(|seg| {
            seg.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && seg.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
        let reason = if is_alias && dialect == Dialect::Elixir {
            Reason::Module(format!("Elixir.{rest}"))
        } else {
            let pattern = ValuePattern::parse(rest, dialect).map_err(|mut e| {
                e.column += text[..offset].chars().count();
                e.source_text = text.to_owned();
                e
            })?;
            Reason::Pattern(pattern)
        };
        Ok(ExceptionPattern {
            class,
            reason: Some(reason),
        })
    }

    /// Whether the exception `{Reason, Stacktrace}` of class `class` matches.
    pub fn matches(&self, class: Class, value: &[u8]) -> Result<bool, Damaged> {
        if self.class.is_some_and(|c| c != class) {
            return Ok(false);
        }
        let Some(reason) = &self.reason else {
            return Ok(true);
        };
        let v = crate::etf::Value::new(value)?;
        let crate::etf::Node::Tuple { arity: 2, at } = v.node(v.root())? else {
            return Ok(false);
        };
        match reason {
            Reason::Pattern(p) => p.matches_at(&v, at),
            Reason::Module(module) => {
                Ok(exception_module(&v, at)?.as_deref() == Some(module.as_str()))
            }
        }
    }
}

fn class_of(word: &str) -> Option<Class> {
    match word {
        "error" => Some(Class::Error),
        "exit" => Some(Class::Exit),
        "throw" => Some(Class::Throw),
        _ => None,
    }
}

/// The Elixir exception module of a reason: an exception struct's, or the one Elixir makes of
/// an Erlang reason (`Exception.normalize/3`).
fn exception_module(v: &crate::etf::Value<'_>, at: usize) -> Result<Option<String>, Damaged> {
    use crate::etf::Node;
    let name_of = |at: usize| -> Result<Option<String>, Damaged> {
        Ok(v.node(at)?.atom_text().map(|t| t.into_owned()))
    };
    let elixir = |name: &str| {
        Some(match name {
            "badarg" => "ArgumentError",
            "badarith" => "ArithmeticError",
            "badarity" => "BadArityError",
            "badfun" => "BadFunctionError",
            "badmatch" => "MatchError",
            "case_clause" => "CaseClauseError",
            "try_clause" => "TryClauseError",
            "with_clause" => "WithClauseError",
            "function_clause" => "FunctionClauseError",
            "undef" => "UndefinedFunctionError",
            "badkey" => "KeyError",
            "badmap" => "BadMapError",
            "badbool" => "BadBooleanError",
            "badstruct" => "BadStructError",
            "system_limit" => "SystemLimitError",
            _ => return None,
        })
        .map(|m| format!("Elixir.{m}"))
    };
    Ok(match v.node(at)? {
        Node::Map { pairs, at: first } => {
            let mut pos = first;
            let mut found = None;
            for _ in 0..pairs {
                let value_at = v.skip(pos)?;
                if name_of(pos)?.as_deref() == Some("__struct__") {
                    found = name_of(value_at)?;
                }
                pos = v.skip(value_at)?;
            }
            found
        }
        Node::Atom { .. } => name_of(at)?.as_deref().and_then(elixir),
        Node::Tuple { arity, at: first } if arity >= 1 => {
            name_of(first)?.as_deref().and_then(elixir)
        }
        _ => None,
    })
}

impl CallQuery {
    /// A query from the texts of `--match`, `--result` and `--exception` (any may be absent);
    /// the values are read in the call pattern's dialect, else in `dialect`.
    pub fn parse(
        call: Option<&str>,
        result: Option<&str>,
        exception: Option<&str>,
        dialect: Dialect,
    ) -> Result<CallQuery, QueryError> {
        let call = call
            .map(|t| {
                CallPattern::parse(t).map_err(|source| QueryError::Pattern {
                    what: "--match",
                    source,
                })
            })
            .transpose()?;
        let dialect = call.as_ref().map_or(dialect, |c| c.dialect);
        let result = result
            .map(|t| {
                ValuePattern::parse(t, dialect).map_err(|source| QueryError::Pattern {
                    what: "--result",
                    source,
                })
            })
            .transpose()?;
        let exception = exception
            .map(|t| {
                ExceptionPattern::parse(t, dialect).map_err(|source| QueryError::Pattern {
                    what: "--exception",
                    source,
                })
            })
            .transpose()?;
        Ok(CallQuery {
            call,
            result,
            exception,
        })
    }

    /// Whether the query asks anything.
    pub fn is_empty(&self) -> bool {
        self.call.is_none() && self.result.is_none() && self.exception.is_none()
    }

    /// `filter` narrowed by the call pattern's module, function and arity (which the store
    /// answers from its index), and to exceptions when an exception is asked for.
    pub fn narrow(&self, mut filter: CallFilter) -> CallFilter {
        if let Some(call) = &self.call {
            if call.module.is_some() {
                filter.module.clone_from(&call.module);
            }
            if call.function.is_some() {
                filter.function.clone_from(&call.function);
            }
            if call.arity.is_some() {
                filter.arity = call.arity;
            }
        }
        if self.exception.is_some() {
            filter.exceptions_only = true;
        }
        filter
    }

    /// Whether a call matches the patterns (module, function and arity are the filter's).
    pub fn keeps(&self, call: &CallView<'_>) -> Result<bool, QueryError> {
        let damaged = |source| QueryError::Damaged {
            call: call.id(),
            source,
        };
        if let Some(args) = self.call.as_ref().and_then(|c| c.args.as_ref()) {
            if !args.matches(call.args()?).map_err(damaged)? {
                return Ok(false);
            }
        }
        if let Some(result) = &self.result {
            if call.exception().is_some() {
                return Ok(false);
            }
            match call.value()? {
                Some(value) if result.matches(&value).map_err(damaged)? => {}
                _ => return Ok(false),
            }
        }
        if let Some(exception) = &self.exception {
            let (Some(class), Some(value)) = (call.exception(), call.value()?) else {
                return Ok(false);
            };
            if !exception.matches(class, &value).map_err(damaged)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The calls of `filter` that match, newest first. The filter's candidate limit does not
    /// apply when a pattern is given unless it was set: a pattern is a search.
    pub fn calls(
        &self,
        snap: &Snapshot,
        filter: &CallFilter,
    ) -> Result<Vec<store::Call>, QueryError> {
        let mut filter = self.narrow(filter.clone());
        if !self.is_empty() && filter.scan_limit == 0 {
            filter.scan_limit = usize::MAX;
        }
        let mut failure = None;
        let calls = snap.calls_where(&filter, |view| match self.keeps(view) {
            Ok(keep) => Ok(keep),
            Err(QueryError::Store(e)) => Err(e),
            Err(e) => {
                failure.get_or_insert(e);
                Ok(false)
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(calls),
        }
    }
}

/// Where a value was found in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// In its arguments.
    Arguments,
    /// In its result.
    Result,
    /// In its exception (reason or stack trace).
    Exception,
}

/// Whether values hold a pattern anywhere, their bytes tested cheaply first: every needle of
/// the pattern must occur in them before the value is walked.
struct Holds<'p> {
    pattern: &'p ValuePattern,
    needles: Vec<Finder<'static>>,
}

impl<'p> Holds<'p> {
    fn new(pattern: &'p ValuePattern) -> Holds<'p> {
        Holds {
            pattern,
            needles: pattern
                .needles()
                .into_iter()
                .map(|n| Finder::new(&n).into_owned())
                .collect(),
        }
    }

    /// Whether the value `bytes` of call `call` holds the pattern.
    fn test(&self, bytes: &[u8], call: u64) -> Result<bool, QueryError> {
        if !self.needles.iter().all(|f| f.find(bytes).is_some()) {
            return Ok(false);
        }
        self.pattern
            .occurs_in(bytes)
            .map_err(|source| QueryError::Damaged { call, source })
    }
}

/// Calls with ids in `[from, to]` whose arguments, result or exception hold a term matching
/// `value` anywhere, in id order, at most `limit`, each with where it was found first.
pub fn search(
    snap: &Snapshot,
    value: &ValuePattern,
    from: u64,
    to: u64,
    limit: usize,
) -> Result<Vec<(store::Call, Found)>, QueryError> {
    let holds = Holds::new(value);
    let mut out = Vec::new();
    let mut failure = None;
    snap.scan_views(from, to, |view| {
        let found = (|| -> Result<Option<Found>, QueryError> {
            if holds.test(view.args()?, view.id())? {
                return Ok(Some(Found::Arguments));
            }
            if let Some(v) = view.value()? {
                if holds.test(&v, view.id())? {
                    return Ok(Some(if view.exception().is_some() {
                        Found::Exception
                    } else {
                        Found::Result
                    }));
                }
            }
            Ok(None)
        })();
        match found {
            Ok(Some(found)) => out.push((view.to_call()?, found)),
            Ok(None) => {}
            Err(QueryError::Store(e)) => return Err(e),
            Err(e) => {
                failure = Some(e);
                return Ok(false);
            }
        }
        Ok(out.len() < limit)
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The calls that returned a value holding `value` without having been given it in their
/// arguments: where the value came from. In the order they returned (the first is the
/// innermost maker: a caller that passes the value on returns after it), at most `limit`.
pub fn origin(
    snap: &Snapshot,
    value: &ValuePattern,
    limit: usize,
) -> Result<Vec<store::Call>, QueryError> {
    let holds = Holds::new(value);
    // The `limit` earliest ends: a max-heap of (end, id) that drops its latest.
    let mut earliest: std::collections::BinaryHeap<(u64, u64)> = Default::default();
    let mut failure = None;
    snap.scan_views(0, u64::MAX, |view| {
        let made = (|| -> Result<bool, QueryError> {
            if view.exception().is_some() {
                return Ok(false);
            }
            let Some(result) = view.value()? else {
                return Ok(false);
            };
            Ok(holds.test(&result, view.id())? && !holds.test(view.args()?, view.id())?)
        })();
        match made {
            Ok(true) => {
                earliest.push((view.end().unwrap_or(u64::MAX), view.id()));
                if earliest.len() > limit {
                    earliest.pop();
                }
            }
            Ok(false) => {}
            Err(QueryError::Store(e)) => return Err(e),
            Err(e) => {
                failure = Some(e);
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let mut calls = Vec::with_capacity(earliest.len());
    for (_, id) in earliest.into_sorted_vec() {
        calls.extend(snap.call(id)?);
    }
    Ok(calls)
}
