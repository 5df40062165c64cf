//! Sends in rewritten code are reported to the runtime right before they happen.
//!
//! In every function and fun of a rewritten module, a send
//!
//! ```erlang
//! Dest ! Message
//! %% becomes
//! begin ES$D1 = Dest, ES$M2 = Message, 'es$$send'(send, ES$D1, ES$M2), ES$D1 ! ES$M2 end
//! ```
//!
//! and likewise `erlang:send/2,3`, `erlang:send_nosuspend/2,3`, `Process.send/3` (`send`),
//! `GenServer.cast/2`, `gen_server:cast/2`, `gen_statem:cast/2` (`cast`),
//! `erlang:send_after/3,4` and `Process.send_after/3,4` (`{send_after, Time}`). The
//! destination and the message (and a timer's time) are evaluated once, in their original
//! order, into fresh variables (not when they are already variables or literals); arguments
//! after them (options) stay in the call. The original send is the block's last expression,
//! at its place, with its annotations: its result, its exceptions (`badarg` to a name nobody
//! holds), its stack trace and whether it is a tail call are the original's.
//!
//! `'es$$send'/3` (see [`super::wrapper::send_helper`]) asks the gate whether the module
//! records and, if so, tells the runtime (`elixir_scope_runtime:sending/3`), which records the
//! send as an event of the process's current recorded call; paused, it costs a local call and
//! the gate's answer.
//!
//! The modules that implement those functions (`gen_server`, `GenServer`, `Process`, ...) are
//! not hooked inside: a cast made by recorded code is reported at its call site, and
//! reporting it again where `gen_server` sends it would record it twice.

use eetf::Term;

use crate::forms::build::*;
use crate::forms::{self, anno};

use super::naming::{variable, SEND_HELPER};

/// Modules whose own sends are not reported: they implement the sends reported at their
/// callers' call sites.
const IMPLEMENTATIONS: &[&str] = &[
    "erlang",
    "gen",
    "gen_server",
    "gen_statem",
    "Elixir.GenServer",
    "Elixir.Process",
    "Elixir.Kernel",
];

/// How a send site passes its destination and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// `send`, destination and message at these argument positions.
    Send(usize, usize),
    /// `cast`, destination and message first.
    Cast,
    /// `{send_after, Time}`: positions of the destination, the message and the time.
    SendAfter(usize, usize, usize),
}

/// The remote calls that send: module, function, arity, how.
const SENDS: &[(&str, &str, usize, How)] = &[
    ("erlang", "send", 2, How::Send(0, 1)),
    ("erlang", "send", 3, How::Send(0, 1)),
    ("erlang", "send_nosuspend", 2, How::Send(0, 1)),
    ("erlang", "send_nosuspend", 3, How::Send(0, 1)),
    ("Elixir.Process", "send", 3, How::Send(0, 1)),
    ("erlang", "send_after", 3, How::SendAfter(1, 2, 0)),
    ("erlang", "send_after", 4, How::SendAfter(1, 2, 0)),
    ("Elixir.Process", "send_after", 3, How::SendAfter(0, 1, 2)),
    ("Elixir.Process", "send_after", 4, How::SendAfter(0, 1, 2)),
    ("Elixir.GenServer", "cast", 2, How::Cast),
    ("gen_server", "cast", 2, How::Cast),
    ("gen_statem", "cast", 2, How::Cast),
];

/// Whether the sends of `module` are reported (see [`IMPLEMENTATIONS`]).
pub fn reports_sends_of(module: &str) -> bool {
    !IMPLEMENTATIONS.contains(&module)
}

/// Reports every send inside `term` (a function's clauses) to the runtime (see the module
/// documentation); `fresh` numbers the new variables across the module. Returns how many
/// sends changed.
pub fn report_sends(term: &mut Term, fresh: &mut u32) -> usize {
    let mut changed = 0;
    // Iterative: abstract code nests as deep as its longest list literal.
    let mut stack: Vec<&mut Term> = vec![term];
    while let Some(t) = stack.pop() {
        if let Some(how) = send_site(t) {
            changed += 1 + report(t, how, fresh);
            continue;
        }
        match t {
            Term::Tuple(x) => stack.extend(x.elements.iter_mut()),
            Term::List(x) => stack.extend(x.elements.iter_mut()),
            _ => {}
        }
    }
    changed
}

/// How `term` sends, when it is a send site.
fn send_site(term: &Term) -> Option<How> {
    if let Some([_, _, op, _, _]) = forms::tagged(term, "op") {
        return (forms::atom_name(op) == Some("!")).then_some(How::Send(0, 1));
    }
    let [_, _, callee, args] = forms::tagged(term, "call")? else {
        return None;
    };
    let [_, _, module, function] = forms::tagged(callee, "remote")? else {
        return None;
    };
    let name = |t: &Term| match forms::tagged(t, "atom") {
        Some([_, _, name]) => forms::atom_name(name).map(str::to_string),
        _ => None,
    };
    let (module, function) = (name(module)?, name(function)?);
    let arity = forms::list_elements(args)?.len();
    SENDS
        .iter()
        .find(|(m, f, a, _)| *m == module && *f == function && *a == arity)
        .map(|(_, _, _, how)| *how)
}

/// Rewrites the send site `term` into the block of the module documentation; returns how many
/// sends its operands held (reported too: the recursion goes one level per send nested in a
/// send's operands, never per element of a term).
fn report(term: &mut Term, how: How, fresh: &mut u32) -> usize {
    let is_op = forms::tag(term) == Some("op");
    let location = anno::location(&forms::tuple_elements(term).expect("a send")[1]);
    let a = anno::generated(location);
    // The send's operands, as the argument list of a call (`!` has two).
    let mut operands: Vec<Term> = {
        let e = forms::tuple_elements_mut(term).expect("a send");
        if is_op {
            let right = std::mem::replace(&mut e[4], atom("undefined"));
            let left = std::mem::replace(&mut e[3], atom("undefined"));
            vec![left, right]
        } else {
            std::mem::take(forms::list_elements_mut(&mut e[3]).expect("arguments"))
        }
    };
    let nested: usize = operands
        .iter_mut()
        .map(|operand| report_sends(operand, fresh))
        .sum();
    let (dest, message, time) = match how {
        How::Send(d, m) => (d, m, None),
        How::Cast => (0, 1, None),
        How::SendAfter(d, m, t) => (d, m, Some(t)),
    };
    // Evaluated once, in order, up to the last operand the report needs.
    let last = dest.max(message).max(time.unwrap_or(0));
    let mut exprs = Vec::new();
    for operand in operands.iter_mut().take(last + 1) {
        if is_plain(operand) {
            continue;
        }
        *fresh += 1;
        let name = variable(&format!("S{fresh}"));
        let value = std::mem::replace(operand, var(&a, &name));
        exprs.push(match_expr(&a, var(&a, &name), value));
    }
    let kind = match (how, time) {
        (How::SendAfter(..), Some(t)) => {
            tuple_expr(&a, vec![atom_lit(&a, "send_after"), operands[t].clone()])
        }
        (How::Cast, _) => atom_lit(&a, "cast"),
        _ => atom_lit(&a, "send"),
    };
    exprs.push(local_call(
        &a,
        SEND_HELPER,
        vec![kind, operands[dest].clone(), operands[message].clone()],
    ));
    {
        let e = forms::tuple_elements_mut(term).expect("a send");
        if is_op {
            let mut operands = operands.into_iter();
            e[3] = operands.next().expect("two operands");
            e[4] = operands.next().expect("two operands");
        } else {
            *forms::list_elements_mut(&mut e[3]).expect("arguments") = operands;
        }
    }
    let send = std::mem::replace(term, atom("undefined"));
    exprs.push(send);
    *term = block(&a, exprs);
    nested
}

/// A tuple expression `{tuple, A, Elements}`.
fn tuple_expr(a: &Term, elements: Vec<Term>) -> Term {
    tuple(vec![atom("tuple"), a.clone(), list(elements)])
}

/// Whether evaluating `term` twice is the same as once: a variable or a literal.
fn is_plain(term: &Term) -> bool {
    matches!(
        forms::tag(term),
        Some("var" | "atom" | "integer" | "float" | "char" | "string" | "nil")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Term {
        int(3)
    }

    fn call(module: &str, function: &str, args: Vec<Term>) -> Term {
        remote_call(&a(), module, function, args)
    }

    fn tuple_of(elements: Vec<Term>) -> Term {
        tuple_expr(&a(), elements)
    }

    /// The block's expressions.
    fn exprs(term: &Term) -> &[Term] {
        let [_, _, exprs] = forms::tagged(term, "block").expect("a block") else {
            panic!("not a block");
        };
        forms::list_elements(exprs).expect("expressions")
    }

    #[test]
    fn a_send_of_plain_operands_is_reported_then_done_as_it_was() {
        let send = op(&a(), "!", var(&a(), "Pid"), atom_lit(&a(), "ping"));
        let mut body = list(vec![send.clone()]);
        let mut fresh = 0;
        assert_eq!(report_sends(&mut body, &mut fresh), 1);
        let block = &forms::list_elements(&body).unwrap()[0];
        let exprs = exprs(block);
        assert_eq!(exprs.len(), 2);
        assert_eq!(
            exprs[0],
            local_call(
                &anno::generated(int(3)),
                SEND_HELPER,
                vec![
                    atom_lit(&anno::generated(int(3)), "send"),
                    var(&a(), "Pid"),
                    atom_lit(&a(), "ping")
                ]
            )
        );
        // The send itself is the original term, last: a tail call stays one.
        assert_eq!(exprs[1], send);
        assert_eq!(fresh, 0);
    }

    #[test]
    fn operands_are_evaluated_once_in_order_and_options_stay_in_the_call() {
        let dest = call("m", "whom", vec![]);
        let message = tuple_of(vec![atom_lit(&a(), "restock"), var(&a(), "Item")]);
        let time = call("m", "delay", vec![]);
        let options = call("m", "options", vec![]);
        let send_after = call(
            "Elixir.Process",
            "send_after",
            vec![dest.clone(), message.clone(), time.clone(), options.clone()],
        );
        let mut body = list(vec![send_after]);
        let mut fresh = 0;
        assert_eq!(report_sends(&mut body, &mut fresh), 1);
        assert_eq!(fresh, 3);
        let exprs = exprs(&forms::list_elements(&body).unwrap()[0]);
        let g = anno::generated(int(3));
        let v = |n: u32| var(&g, &variable(&format!("S{n}")));
        assert_eq!(exprs[0], match_expr(&g, v(1), dest));
        assert_eq!(exprs[1], match_expr(&g, v(2), message));
        assert_eq!(exprs[2], match_expr(&g, v(3), time));
        assert_eq!(
            exprs[3],
            local_call(
                &g,
                SEND_HELPER,
                vec![
                    tuple_expr(&g, vec![atom_lit(&g, "send_after"), v(3)]),
                    v(1),
                    v(2)
                ]
            )
        );
        assert_eq!(
            exprs[4],
            call(
                "Elixir.Process",
                "send_after",
                vec![v(1), v(2), v(3), options]
            )
        );
    }

    #[test]
    fn casts_and_nested_sends_are_all_reported_and_other_calls_are_not() {
        // GenServer.cast(server(), send(other, :x)): the inner send is inside an operand.
        let inner = call(
            "erlang",
            "send",
            vec![var(&a(), "Other"), atom_lit(&a(), "x")],
        );
        let cast = call("Elixir.GenServer", "cast", vec![var(&a(), "S"), inner]);
        let mut body = list(vec![
            cast,
            call(
                "gen_server",
                "call",
                vec![var(&a(), "S"), atom_lit(&a(), "x")],
            ),
            call("erlang", "send", vec![var(&a(), "S")]),
        ]);
        let mut fresh = 0;
        assert_eq!(report_sends(&mut body, &mut fresh), 2);
        let body = forms::list_elements(&body).unwrap();
        assert_eq!(forms::tag(&body[0]), Some("block"));
        assert_eq!(forms::tag(&body[1]), Some("call"));
        assert_eq!(forms::tag(&body[2]), Some("call"));
        assert!(!reports_sends_of("gen_server") && reports_sends_of("Elixir.Shop.Stock"));
    }
}
