//! Patterns' syntax: tokens into [`Pattern`]s, guards and call patterns, with errors that
//! point at the column.

use super::lexer::{tokens, Tok};
use super::{
    CallPattern, Comparison, Dialect, Guard, GuardExpr, GuardFn, Pattern, PatternError, TypeTest,
    ValuePattern,
};

/// Parses a call pattern.
pub(crate) fn call(text: &str, dialect: Dialect) -> Result<CallPattern, PatternError> {
    let mut p = Parser::new(text, dialect)?;
    let (module, function) = p.call_head()?;
    let mut arity = None;
    let mut args = None;
    if p.eat("(") {
        let mut items = Vec::new();
        if !p.eat(")") {
            loop {
                items.push(p.pattern()?);
                if p.eat(")") {
                    break;
                }
                p.expect(",", "`,` or `)` after an argument")?;
            }
        }
        let n = u8::try_from(items.len()).map_err(|_| p.error("more than 255 arguments"))?;
        arity = Some(n);
        let guard = p.maybe_guard()?;
        args = Some(ValuePattern {
            pattern: Pattern::List { items, tail: None },
            guard,
            vars: std::mem::take(&mut p.vars),
            dialect,
        });
    } else if p.eat("/") {
        match p.next() {
            Tok::Int(n) if (0..=255).contains(&n) => arity = Some(n as u8),
            _ => return Err(p.error_before("an arity (0 to 255) after `/`")),
        }
    } else if p.peek_is_word("when") {
        return Err(p.error("a guard needs the arguments it names: `Mod.fun(x) when x > 1`"));
    }
    p.end()?;
    Ok(CallPattern {
        module,
        function,
        arity,
        args,
        dialect,
    })
}

/// Parses a value pattern with an optional guard.
pub(crate) fn value(text: &str, dialect: Dialect) -> Result<ValuePattern, PatternError> {
    let mut p = Parser::new(text, dialect)?;
    if matches!(p.peek(), Tok::End) {
        return Err(p.error("an empty pattern"));
    }
    let pattern = p.pattern()?;
    let guard = p.maybe_guard()?;
    p.end()?;
    Ok(ValuePattern {
        pattern,
        guard,
        vars: p.vars,
        dialect,
    })
}

struct Parser<'t> {
    text: &'t str,
    toks: Vec<(Tok, usize)>,
    at: usize,
    dialect: Dialect,
    vars: Vec<String>,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str, dialect: Dialect) -> Result<Parser<'t>, PatternError> {
        Ok(Parser {
            text,
            toks: tokens(text, dialect)?,
            at: 0,
            dialect,
            vars: Vec::new(),
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.at + n).min(self.toks.len() - 1)].0
    }

    fn next(&mut self) -> Tok {
        let tok = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        tok
    }

    fn column(&self) -> usize {
        self.toks[self.at].1
    }

    fn error(&self, message: &str) -> PatternError {
        PatternError::new(self.text, self.column(), message.to_owned())
    }

    /// An error at the token just read.
    fn error_before(&self, expected: &str) -> PatternError {
        let column = self.toks[self.at.saturating_sub(1)].1;
        PatternError::new(self.text, column, format!("expected {expected}"))
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(p) if *p == punct) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str, what: &str) -> Result<(), PatternError> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> PatternError {
        let found = match self.peek() {
            Tok::End => "the end".to_owned(),
            tok => format!("`{}`", describe(tok)),
        };
        self.error(&format!("expected {what}, found {found}"))
    }

    fn peek_is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn end(&mut self) -> Result<(), PatternError> {
        match self.peek() {
            Tok::End => Ok(()),
            _ => Err(self.unexpected("the end of the pattern")),
        }
    }

    /// `Mod.fun`, `:mod.fun`, `Mod`, `mod:fun`, `'Elixir.Foo':bar`, `_` for either part.
    fn call_head(&mut self) -> Result<(Option<String>, Option<String>), PatternError> {
        let module = match (self.dialect, self.next()) {
            (_, Tok::Ident(w)) if w == "_" => None,
            (Dialect::Elixir, Tok::Alias(a)) => Some(format!("Elixir.{a}")),
            (Dialect::Elixir, Tok::Atom(a)) => Some(a),
            (Dialect::Erlang, Tok::Ident(w)) if starts_lower(&w) => Some(w),
            (Dialect::Erlang, Tok::Quoted(a)) => Some(a),
            _ => {
                return Err(self.error_before(match self.dialect {
                    Dialect::Elixir => "a module (`Shop.Checkout`, `:lists` or `_`)",
                    Dialect::Erlang => "a module (`lists`, `'Elixir.Foo'` or `_`)",
                }))
            }
        };
        let separator = match self.dialect {
            Dialect::Elixir => ".",
            Dialect::Erlang => ":",
        };
        if !self.eat(separator) {
            if self.dialect == Dialect::Elixir && module.is_some() {
                // A module alone: any of its functions.
                return Ok((module, None));
            }
            return Err(self.unexpected(&format!("`{separator}` and a function name")));
        }
        let function = match self.next() {
            Tok::Ident(w) if w == "_" => None,
            Tok::Ident(w) if self.dialect == Dialect::Elixir || starts_lower(&w) => Some(w),
            Tok::Quoted(f) if self.dialect == Dialect::Erlang => Some(f),
            Tok::Str(f) if self.dialect == Dialect::Elixir => Some(f),
            _ => return Err(self.error_before("a function name (or `_`)")),
        };
        Ok((module, function))
    }

    fn maybe_guard(&mut self) -> Result<Option<Guard>, PatternError> {
        if self.peek_is_word("when") {
            self.next();
            return Ok(Some(self.guard()?));
        }
        Ok(None)
    }

    /// A pattern: a primary, or an Elixir binary prefix `"text" <> rest`.
    fn pattern(&mut self) -> Result<Pattern, PatternError> {
        let column = self.column();
        let first = self.primary()?;
        if self.dialect == Dialect::Elixir && self.eat("<>") {
            let Pattern::Binary(prefix) = first else {
                return Err(PatternError::new(
                    self.text,
                    column,
                    "the left side of `<>` must be a string literal".to_owned(),
                ));
            };
            let rest = self.pattern()?;
            return Ok(match rest {
                Pattern::Binary(more) => Pattern::Binary([prefix, more].concat()),
                Pattern::Prefix { prefix: more, rest } => Pattern::Prefix {
                    prefix: [prefix, more].concat(),
                    rest,
                },
                rest @ (Pattern::Any | Pattern::Var(_)) => Pattern::Prefix {
                    prefix,
                    rest: Box::new(rest),
                },
                _ => {
                    return Err(self.error_before("a string, `_` or a variable after `<>`"));
                }
            });
        }
        Ok(first)
    }

    fn primary(&mut self) -> Result<Pattern, PatternError> {
        let column = self.column();
        let tok = self.next();
        let pattern = match tok {
            Tok::Int(n) => Pattern::Int(n),
            Tok::Float(f) => Pattern::Float(f),
            Tok::Punct("-") => match self.next() {
                Tok::Int(n) => Pattern::Int(-n),
                Tok::Float(f) => Pattern::Float(-f),
                _ => return Err(self.error_before("a number after `-`")),
            },
            Tok::Str(s) => match self.dialect {
                Dialect::Elixir => Pattern::Binary(s.into_bytes()),
                Dialect::Erlang => charlist(&s),
            },
            Tok::Quoted(s) => match self.dialect {
                Dialect::Elixir => charlist(&s),
                Dialect::Erlang => Pattern::Atom(s),
            },
            Tok::Atom(a) => Pattern::Atom(a),
            Tok::Alias(a) => Pattern::Atom(format!("Elixir.{a}")),
            Tok::Ident(w) => self.word(w, column)?,
            Tok::Punct("{") => Pattern::Tuple(self.sequence("}")?),
            Tok::Punct("[") => self.list()?,
            Tok::Punct("%{") if self.dialect == Dialect::Elixir => Pattern::Map(self.pairs()?),
            Tok::Punct("#{") if self.dialect == Dialect::Erlang => Pattern::Map(self.pairs()?),
            Tok::Punct("%") if self.dialect == Dialect::Elixir => self.structure()?,
            Tok::Punct("#") if self.dialect == Dialect::Erlang => {
                return Err(PatternError::new(
                    self.text,
                    column,
                    "records are not known here: write the record as its tuple, \
                     `{name, Field1, ...}`"
                        .to_owned(),
                ))
            }
            Tok::Punct("<<") => self.bits()?,
            Tok::Punct("^") => {
                return Err(PatternError::new(
                    self.text,
                    column,
                    "pins (`^x`) have nothing to pin here: write the value".to_owned(),
                ))
            }
            Tok::Key(k) => {
                return Err(PatternError::new(
                    self.text,
                    column,
                    format!("`{k}:` belongs in a keyword list or map: `[{k}: ...]`"),
                ))
            }
            Tok::End => {
                return Err(PatternError::new(
                    self.text,
                    column,
                    "expected a pattern, found the end".to_owned(),
                ))
            }
            other => {
                return Err(PatternError::new(
                    self.text,
                    column,
                    format!("expected a pattern, found `{}`", describe(&other)),
                ))
            }
        };
        Ok(pattern)
    }

    /// An identifier in a pattern: `_`, a variable, or (Erlang, Elixir's `true`, `false`,
    /// `nil`) an atom.
    fn word(&mut self, w: String, column: usize) -> Result<Pattern, PatternError> {
        if w.starts_with('_') {
            return Ok(Pattern::Any);
        }
        let is_var = match self.dialect {
            Dialect::Elixir => !matches!(w.as_str(), "true" | "false" | "nil"),
            Dialect::Erlang => !starts_lower(&w),
        };
        if !is_var {
            return Ok(Pattern::Atom(w));
        }
        if matches!(self.peek(), Tok::Punct("(")) {
            return Err(PatternError::new(
                self.text,
                column,
                format!("`{w}(...)` is a call: patterns hold values only"),
            ));
        }
        Ok(Pattern::Var(self.var(&w)))
    }

    fn var(&mut self, name: &str) -> usize {
        match self.vars.iter().position(|v| v == name) {
            Some(i) => i,
            None => {
                self.vars.push(name.to_owned());
                self.vars.len() - 1
            }
        }
    }

    /// Patterns separated by commas up to `close`.
    fn sequence(&mut self, close: &'static str) -> Result<Vec<Pattern>, PatternError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.pattern()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(",", &format!("`,` or `{close}`"))?;
        }
    }

    /// After `[`: elements, keyword pairs, a `|` tail, `]`.
    fn list(&mut self) -> Result<Pattern, PatternError> {
        let mut items = Vec::new();
        let mut tail = None;
        if self.eat("]") {
            return Ok(Pattern::List { items, tail });
        }
        loop {
            if let Tok::Key(k) = self.peek().clone() {
                self.next();
                let value = self.pattern()?;
                items.push(Pattern::Tuple(vec![Pattern::Atom(k), value]));
            } else {
                items.push(self.pattern()?);
            }
            if self.eat("|") {
                tail = Some(Box::new(self.pattern()?));
                self.expect("]", "`]` after the tail")?;
                break;
            }
            if self.eat("]") {
                break;
            }
            self.expect(",", "`,`, `|` or `]`")?;
        }
        Ok(Pattern::List { items, tail })
    }

    /// After `%{` or `#{`: pairs up to `}`.
    fn pairs(&mut self) -> Result<Vec<(Pattern, Pattern)>, PatternError> {
        let mut pairs = Vec::new();
        if self.eat("}") {
            return Ok(pairs);
        }
        loop {
            if let Tok::Key(k) = self.peek().clone() {
                self.next();
                pairs.push((Pattern::Atom(k), self.pattern()?));
            } else {
                let column = self.column();
                let key = self.pattern()?;
                if !is_literal(&key) {
                    return Err(PatternError::new(
                        self.text,
                        column,
                        "a map key in a pattern must be a literal".to_owned(),
                    ));
                }
                let arrow = match self.dialect {
                    Dialect::Elixir => self.eat("=>"),
                    Dialect::Erlang => self.eat(":=") || self.eat("=>"),
                };
                if !arrow {
                    return Err(self.unexpected(match self.dialect {
                        Dialect::Elixir => "`=>` after a map key",
                        Dialect::Erlang => "`:=` after a map key",
                    }));
                }
                pairs.push((key, self.pattern()?));
            }
            if self.eat("}") {
                return Ok(pairs);
            }
            self.expect(",", "`,` or `}`")?;
        }
    }

    /// After `%`: `Alias{pairs}`, a struct.
    fn structure(&mut self) -> Result<Pattern, PatternError> {
        let module = match self.next() {
            Tok::Alias(a) => Pattern::Atom(format!("Elixir.{a}")),
            Tok::Atom(a) => Pattern::Atom(a),
            Tok::Ident(w) if w.starts_with('_') => Pattern::Any,
            _ => return Err(self.error_before("a struct's module after `%`")),
        };
        self.expect("{", "`{` after the struct's module")?;
        let mut pairs = vec![(Pattern::Atom("__struct__".to_owned()), module)];
        pairs.extend(self.pairs()?);
        Ok(Pattern::Map(pairs))
    }

    /// After `<<`: literal bytes, then at most one rest segment (`rest::binary`,
    /// `Rest/binary`).
    fn bits(&mut self) -> Result<Pattern, PatternError> {
        let mut prefix = Vec::new();
        let mut rest = None;
        if self.eat(">>") {
            return Ok(Pattern::Binary(prefix));
        }
        loop {
            let column = self.column();
            match self.next() {
                Tok::Str(s) if rest.is_none() => prefix.extend(s.into_bytes()),
                Tok::Int(n) if rest.is_none() && (0..=255).contains(&n) => prefix.push(n as u8),
                Tok::Ident(w) if rest.is_none() => {
                    let binary_type = match self.dialect {
                        Dialect::Elixir => self.eat("::"),
                        Dialect::Erlang => self.eat("/"),
                    } && matches!(self.next(), Tok::Ident(t) if t == "binary" || t == "bytes");
                    if !binary_type {
                        return Err(PatternError::new(
                            self.text,
                            column,
                            match self.dialect {
                                Dialect::Elixir => "a binary pattern takes literal bytes, then \
                                                    `rest::binary` last"
                                    .to_owned(),
                                Dialect::Erlang => "a binary pattern takes literal bytes, then \
                                                    `Rest/binary` last"
                                    .to_owned(),
                            },
                        ));
                    }
                    rest = Some(self.word(w, column)?);
                }
                _ => {
                    return Err(PatternError::new(
                        self.text,
                        column,
                        "a binary pattern takes strings and bytes (0-255), then one binary \
                         rest last"
                            .to_owned(),
                    ))
                }
            }
            if self.eat(">>") {
                break;
            }
            self.expect(",", "`,` or `>>`")?;
        }
        Ok(match rest {
            None => Pattern::Binary(prefix),
            Some(rest) => Pattern::Prefix {
                prefix,
                rest: Box::new(rest),
            },
        })
    }

    // Guards.

    fn guard(&mut self) -> Result<Guard, PatternError> {
        let mut left = self.guard_and()?;
        loop {
            let or = self.peek_is_word("or")
                || self.peek_is_word("orelse")
                || (self.dialect == Dialect::Erlang && matches!(self.peek(), Tok::Punct(";")));
            if !or {
                return Ok(left);
            }
            self.next();
            left = Guard::Or(Box::new(left), Box::new(self.guard_and()?));
        }
    }

    fn guard_and(&mut self) -> Result<Guard, PatternError> {
        let mut left = self.guard_not()?;
        loop {
            let and = self.peek_is_word("and")
                || self.peek_is_word("andalso")
                || (self.dialect == Dialect::Erlang && matches!(self.peek(), Tok::Punct(",")));
            if !and {
                return Ok(left);
            }
            self.next();
            left = Guard::And(Box::new(left), Box::new(self.guard_not()?));
        }
    }

    fn guard_not(&mut self) -> Result<Guard, PatternError> {
        if self.peek_is_word("not") {
            self.next();
            return Ok(Guard::Not(Box::new(self.guard_not()?)));
        }
        if matches!(self.peek(), Tok::Punct("(")) {
            self.next();
            let inner = self.guard()?;
            self.expect(")", "`)`")?;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Guard, PatternError> {
        let column = self.column();
        if let Tok::Ident(w) = self.peek().clone() {
            if let (Some(test), Tok::Punct("(")) = (type_test(&w), self.peek_at(1)) {
                self.next();
                self.next();
                let arg = self.guard_expr()?;
                self.expect(")", "`)`")?;
                return Ok(Guard::Is(test, arg));
            }
        }
        let left = self.guard_expr()?;
        let op = match self.peek() {
            Tok::Punct("<") => Some(Comparison::Less),
            Tok::Punct("<=") if self.dialect == Dialect::Elixir => Some(Comparison::LessEq),
            Tok::Punct("=<") if self.dialect == Dialect::Erlang => Some(Comparison::LessEq),
            Tok::Punct(">") => Some(Comparison::Greater),
            Tok::Punct(">=") => Some(Comparison::GreaterEq),
            Tok::Punct("==") => Some(Comparison::Eq),
            Tok::Punct("!=") if self.dialect == Dialect::Elixir => Some(Comparison::NotEq),
            Tok::Punct("/=") if self.dialect == Dialect::Erlang => Some(Comparison::NotEq),
            Tok::Punct("===") if self.dialect == Dialect::Elixir => Some(Comparison::Exact),
            Tok::Punct("=:=") if self.dialect == Dialect::Erlang => Some(Comparison::Exact),
            Tok::Punct("!==") if self.dialect == Dialect::Elixir => Some(Comparison::NotExact),
            Tok::Punct("=/=") if self.dialect == Dialect::Erlang => Some(Comparison::NotExact),
            Tok::Punct(p @ ("<=" | "=<" | "!=" | "/=" | "===" | "=:=" | "!==" | "=/=")) => {
                return Err(self.error(&format!(
                    "`{p}` is not {} syntax",
                    match self.dialect {
                        Dialect::Elixir => "Elixir",
                        Dialect::Erlang => "Erlang",
                    }
                )))
            }
            _ => None,
        };
        match op {
            Some(op) => {
                self.next();
                let right = self.guard_expr()?;
                Ok(Guard::Compare(op, left, right))
            }
            None => match left {
                GuardExpr::Literal(Pattern::Atom(ref a)) if a == "true" => Ok(Guard::True(left)),
                GuardExpr::Var(_) => Ok(Guard::True(left)),
                _ => Err(PatternError::new(
                    self.text,
                    column,
                    "a guard condition must compare (`x > 1`) or test a type (`is_integer(x)`)"
                        .to_owned(),
                )),
            },
        }
    }

    fn guard_expr(&mut self) -> Result<GuardExpr, PatternError> {
        let column = self.column();
        if self.eat("-") {
            return Ok(GuardExpr::Negate(Box::new(self.guard_expr()?)));
        }
        if let Tok::Ident(w) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Punct("(")) {
                self.next();
                self.next();
                let arg = self.guard_expr()?;
                self.expect(")", "`)`")?;
                return self.guard_call(&w, arg, column);
            }
            let is_var = match self.dialect {
                Dialect::Elixir => !matches!(w.as_str(), "true" | "false" | "nil"),
                Dialect::Erlang => !starts_lower(&w),
            };
            if is_var {
                self.next();
                return match self.vars.iter().position(|v| *v == w) {
                    Some(i) => Ok(GuardExpr::Var(i)),
                    None => Err(PatternError::new(
                        self.text,
                        column,
                        format!("`{w}` is not bound by the pattern"),
                    )),
                };
            }
        }
        let literal = self.primary()?;
        if !is_literal(&literal) {
            return Err(PatternError::new(
                self.text,
                column,
                "guards compare variables and literals".to_owned(),
            ));
        }
        Ok(GuardExpr::Literal(literal))
    }

    /// `byte_size(x)` and friends (type tests are conditions: see `comparison`).
    fn guard_call(
        &self,
        name: &str,
        arg: GuardExpr,
        column: usize,
    ) -> Result<GuardExpr, PatternError> {
        let f = match name {
            "byte_size" => GuardFn::ByteSize,
            "length" => GuardFn::Length,
            "map_size" => GuardFn::MapSize,
            "tuple_size" => GuardFn::TupleSize,
            "abs" => GuardFn::Abs,
            _ => {
                return Err(PatternError::new(
                    self.text,
                    column,
                    format!(
                        "`{name}/1` is not a guard function here (these are: byte_size, \
                         length, map_size, tuple_size, abs and the is_ type tests)"
                    ),
                ))
            }
        };
        Ok(GuardExpr::Apply(f, Box::new(arg)))
    }
}

fn type_test(name: &str) -> Option<TypeTest> {
    Some(match name {
        "is_integer" => TypeTest::Integer,
        "is_float" => TypeTest::Float,
        "is_number" => TypeTest::Number,
        "is_atom" => TypeTest::Atom,
        "is_binary" | "is_bitstring" => TypeTest::Binary,
        "is_list" => TypeTest::List,
        "is_map" => TypeTest::Map,
        "is_tuple" => TypeTest::Tuple,
        "is_pid" => TypeTest::Pid,
        "is_boolean" => TypeTest::Boolean,
        "is_nil" => TypeTest::Nil,
        _ => return None,
    })
}

fn starts_lower(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_lowercase)
}

/// An Erlang string or an Elixir charlist: a list of code points.
fn charlist(s: &str) -> Pattern {
    Pattern::List {
        items: s.chars().map(|c| Pattern::Int(c as i128)).collect(),
        tail: None,
    }
}

/// Whether a pattern has no `_` or variable in it.
pub(crate) fn is_literal(p: &Pattern) -> bool {
    match p {
        Pattern::Any | Pattern::Var(_) | Pattern::Prefix { .. } => false,
        Pattern::Int(_)
        | Pattern::Float(_)
        | Pattern::Atom(_)
        | Pattern::Binary(_)
        | Pattern::Exact(_) => true,
        Pattern::Tuple(items) => items.iter().all(is_literal),
        Pattern::List { items, tail } => {
            items.iter().all(is_literal) && tail.as_deref().is_none_or(is_literal)
        }
        Pattern::Map(pairs) => pairs.iter().all(|(k, v)| is_literal(k) && is_literal(v)),
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Int(n) => n.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Quoted(s) => format!("'{s}'"),
        Tok::Atom(a) => format!(":{a}"),
        Tok::Ident(w) | Tok::Alias(w) => w.clone(),
        Tok::Key(k) => format!("{k}:"),
        Tok::Punct(p) => (*p).to_owned(),
        Tok::End => "the end".to_owned(),
    }
}
