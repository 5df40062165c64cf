//! One function's clauses, walked without recursion: size, calls, references, effects, and
//! the loop each call sits in.

use std::collections::BTreeSet;

use beam_format::FunctionRef;
use beam_rewrite::forms::{self, FunctionForm};
use eetf::Term;

use crate::effects::{self, Class};
use crate::facts::{Call, Effect, LoopContext, Target};

/// What walking a function found.
#[derive(Debug, Default)]
pub struct Walked {
    pub size: u32,
    pub effects: BTreeSet<Effect>,
    pub unknown_calls: BTreeSet<Target>,
    pub dynamic_calls: bool,
    pub calls: BTreeSet<Call>,
}

/// Node kinds counted in a function's size.
const EXPRESSIONS: &[&str] = &[
    "var",
    "atom",
    "integer",
    "float",
    "char",
    "string",
    "nil",
    "cons",
    "tuple",
    "map",
    "op",
    "call",
    "match",
    "case",
    "if",
    "receive",
    "try",
    "fun",
    "named_fun",
    "lc",
    "bc",
    "mc",
    "block",
    "bin",
    "record",
    "record_field",
    "record_index",
    "catch",
    "maybe",
    "maybe_match",
];

/// Walks the guards and bodies of `function`'s clauses (patterns are not expressions that run).
/// `defined` are the module's functions: a local call to anything else is a call to an
/// auto-imported BIF (`spawn(F)` is `erlang:spawn(F)`).
pub fn function(
    module: &str,
    defined: &BTreeSet<FunctionRef>,
    function: &FunctionForm<'_>,
) -> Walked {
    let mut walker = Walker {
        module,
        defined,
        out: Walked::default(),
        stack: Vec::new(),
    };
    for clause in function.clauses {
        walker.clause(clause, None);
    }
    walker.run();
    walker.out
}

struct Walker<'a> {
    module: &'a str,
    defined: &'a BTreeSet<FunctionRef>,
    out: Walked,
    stack: Vec<(&'a Term, Option<LoopContext>)>,
}

impl<'a> Walker<'a> {
    /// Pushes a clause's guards and body (not its patterns).
    fn clause(&mut self, clause: &'a Term, ctx: Option<LoopContext>) {
        if let Some([_, _, _patterns, guards, body]) = forms::tagged(clause, "clause") {
            self.stack.push((guards, ctx.clone()));
            self.stack.push((body, ctx));
        }
    }

    fn run(&mut self) {
        while let Some((term, ctx)) = self.stack.pop() {
            self.visit(term, ctx);
        }
    }

    fn visit(&mut self, term: &'a Term, ctx: Option<LoopContext>) {
        let elements = match term {
            Term::List(list) => {
                for e in &list.elements {
                    self.stack.push((e, ctx.clone()));
                }
                return;
            }
            Term::Tuple(t) => &t.elements,
            _ => return,
        };
        let Some(tag) = elements.first().and_then(forms::atom_name) else {
            // Not a node (a plain tuple inside a node, e.g. a record field's pair).
            for e in elements {
                self.stack.push((e, ctx.clone()));
            }
            return;
        };
        if EXPRESSIONS.contains(&tag) {
            self.out.size = self.out.size.saturating_add(1);
        }
        match (tag, elements.as_slice()) {
            ("clause", _) => self.clause(term, ctx),
            ("call", [_, anno, callee, args]) => self.call(
                callee,
                args,
                ctx,
                beam_rewrite::forms::anno::is_generated(anno),
            ),
            ("op", [_, _, op, left, right]) => {
                if forms::atom_name(op) == Some("!") {
                    self.out.effects.insert(Effect::Send);
                }
                self.stack.push((left, ctx.clone()));
                self.stack.push((right, ctx));
            }
            ("receive", _) => {
                self.out.effects.insert(Effect::Receive);
                self.children(elements, ctx);
            }
            ("lc" | "bc" | "mc", _) => self.children(elements, Some(LoopContext::Comprehension)),
            ("generate" | "b_generate" | "m_generate", [_, _, _pattern, expr]) => {
                self.stack.push((expr, ctx));
            }
            ("fun", [_, _, body]) => self.fun(body, ctx),
            ("named_fun", [_, _, _name, clauses]) => self.stack.push((clauses, ctx)),
            // Literals and variables: nothing inside runs.
            ("var" | "atom" | "integer" | "float" | "char" | "string" | "nil", _) => {}
            _ => self.children(elements, ctx),
        }
    }

    /// Pushes the elements of a node after its tag and annotation.
    fn children(&mut self, elements: &'a [Term], ctx: Option<LoopContext>) {
        for e in elements.iter().skip(2) {
            self.stack.push((e, ctx.clone()));
        }
    }

    /// `fun (...) -> ... end`, `fun f/1`, `fun m:f/1`.
    fn fun(&mut self, body: &'a Term, ctx: Option<LoopContext>) {
        if let Some([_, clauses]) = forms::tagged(body, "clauses") {
            self.stack.push((clauses, ctx));
            return;
        }
        if let Some(target) = self.fun_target(body) {
            self.reference(target, ctx);
        }
    }

    /// The function a `{function, F, A}` or `{function, M, F, A}` fun body names.
    fn fun_target(&self, body: &Term) -> Option<Target> {
        match forms::tagged(body, "function")? {
            [_, name, arity] => Some(Target {
                module: self.module.to_string(),
                name: forms::atom_name(name)?.to_string(),
                arity: u32::try_from(forms::int_value(arity)?).ok()?,
            }),
            [_, module, name, arity] => Some(Target {
                module: literal_atom(module)?.to_string(),
                name: literal_atom(name)?.to_string(),
                arity: u32::try_from(literal_int(arity)?).ok()?,
            }),
            _ => None,
        }
    }

    fn reference(&mut self, target: Target, ctx: Option<LoopContext>) {
        if target.module != self.module {
            self.classify(&target);
        }
        self.out.calls.insert(Call {
            target,
            reference: true,
            in_loop: ctx,
        });
    }

    /// A call; `generated` calls (the compiler's own checks, such as Elixir's `BadMapError`
    /// for `map.field`) do not count as raising.
    fn call(
        &mut self,
        callee: &'a Term,
        args: &'a Term,
        ctx: Option<LoopContext>,
        generated: bool,
    ) {
        let arguments = forms::list_elements(args).unwrap_or_default();
        let arity = arguments.len() as u32;
        if let Some(name) = literal_atom(callee) {
            let local = FunctionRef {
                name: name.to_string(),
                arity,
            };
            if !self.defined.contains(&local) {
                let bif = Target {
                    module: "erlang".into(),
                    name: name.to_string(),
                    arity,
                };
                self.classify(&bif);
                self.stack.push((args, ctx));
                return;
            }
            self.out.calls.insert(Call {
                target: Target {
                    module: self.module.to_string(),
                    name: name.to_string(),
                    arity,
                },
                reference: false,
                in_loop: ctx.clone(),
            });
            self.stack.push((args, ctx));
            return;
        }
        let remote = match forms::tagged(callee, "remote") {
            Some([_, _, module, function]) => literal_atom(module).zip(literal_atom(function)),
            _ => None,
        };
        let Some((module, function)) = remote else {
            self.out.dynamic_calls = true;
            self.stack.push((callee, ctx.clone()));
            self.stack.push((args, ctx));
            return;
        };
        let target = Target {
            module: module.to_string(),
            name: function.to_string(),
            arity,
        };
        if module != self.module {
            let raised_before = self.out.effects.contains(&Effect::Raise);
            self.classify(&target);
            if generated && !raised_before {
                self.out.effects.remove(&Effect::Raise);
            }
        }
        let loop_for_funs = effects::is_higher_order(module).then(|| LoopContext::HigherOrder {
            function: format!("{module}:{function}/{arity}"),
        });
        self.out.calls.insert(Call {
            target,
            reference: false,
            in_loop: ctx.clone(),
        });
        for argument in arguments {
            match (&loop_for_funs, forms::tag(argument)) {
                (Some(hof), Some("fun" | "named_fun")) => {
                    self.stack.push((argument, Some(hof.clone())));
                }
                _ => self.stack.push((argument, ctx.clone())),
            }
        }
    }

    fn classify(&mut self, target: &Target) {
        match effects::classify(&target.module, &target.name, target.arity) {
            Class::Effect(effect) => {
                self.out.effects.insert(effect);
            }
            Class::Pure => {}
            Class::Unknown => {
                if matches!(
                    (target.module.as_str(), target.name.as_str()),
                    ("erlang" | "Elixir.Kernel", "apply")
                ) {
                    self.out.dynamic_calls = true;
                } else {
                    self.out.unknown_calls.insert(target.clone());
                }
            }
        }
    }
}

/// The name of an `{atom, Anno, Name}` expression.
fn literal_atom(term: &Term) -> Option<&str> {
    match forms::tagged(term, "atom")? {
        [_, _, name] => forms::atom_name(name),
        _ => None,
    }
}

/// The value of an `{integer, Anno, N}` expression.
fn literal_int(term: &Term) -> Option<i32> {
    match forms::tagged(term, "integer")? {
        [_, _, value] => forms::int_value(value),
        _ => None,
    }
}
