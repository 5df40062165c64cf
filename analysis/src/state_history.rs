//! A GenServer's state as each of its callbacks received it and returned it, read from the
//! recorded calls of the callbacks (OTP's `gen_server`, Elixir's `GenServer`, `gen_statem`,
//! and `gen_event` handlers).
//!
//! A callback gets the state as its last argument and returns the next one inside its result:
//!
//! | callback | state received | state returned |
//! |---|---|---|
//! | `init/1` | – | `{:ok, s}`, `{:ok, s, _}` |
//! | `handle_call/3` | 3rd argument | `{:reply, r, s}`, `{:reply, r, s, _}`, `{:noreply, s}`, `{:noreply, s, _}`, `{:stop, why, r, s}`, `{:stop, why, s}` |
//! | `handle_cast/2`, `handle_info/2`, `handle_continue/2` | 2nd | `{:noreply, s}`, `{:noreply, s, _}`, `{:stop, why, s}`; `{:ok, s}`, `{:ok, s, _}` (a `gen_event` handler's `handle_info/2`) |
//! | `terminate/2` | 2nd | – |
//! | `code_change/3` | 2nd | `{:ok, s}` |
//! | `gen_event`: `handle_event/2`, `handle_call/2` | 2nd | `{ok, S}`, `{ok, S, hibernate}`; `{ok, Reply, S}`, `{ok, Reply, S, hibernate}` |
//! | `gen_statem`: `init/1` | – | `{ok, Name, Data}`, `{ok, Name, Data, Actions}` |
//! | `gen_statem`: state functions `Name(Type, Content, Data)`, `handle_event(Type, Content, Name, Data)` | `{Name, Data}` | `{next_state, Name, Data[, Actions]}`, `{keep_state, Data[, A]}`, `keep_state_and_data`, `{keep_state_and_data, A}`, `{repeat_state, Data[, A]}`, `repeat_state_and_data`, `{repeat_state_and_data, A}`, `{stop, Why, Data}`, `{stop_and_reply, Why, Replies, Data}` |
//! | `gen_statem`: `terminate/3`, `code_change/4` | `{Name, Data}` | –; `{ok, Name, Data}` |
//!
//! A gen_statem's state has two parts, its name and its data; a diff names them `state` and
//! `data` (Elixir) or `State` and `Data` (Erlang), a gen_server's whole state `state` or
//! `State`. Values are read in place ([`crate::value_diff::Part`]); a callback that raised, is
//! still running, or returned something else (`:ignore`, `{:stop, why}`) returned no state.

use term::Style;

use crate::etf::{Damaged, Node, Value};
use crate::value_diff::{self, Change, ChangeKind, Diff, Part};

/// A behaviour callback, known by its name and arity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Callback {
    /// `init/1`.
    Init,
    /// `handle_call/3`: a request that waits for a reply.
    HandleCall,
    /// `handle_cast/2`.
    HandleCast,
    /// `handle_info/2`: any other message.
    HandleInfo,
    /// `handle_continue/2`.
    HandleContinue,
    /// `terminate/2` (`terminate/3` of a gen_statem).
    Terminate,
    /// `code_change/3` (`code_change/4` of a gen_statem).
    CodeChange,
    /// A gen_statem's `handle_event/4`.
    HandleEvent,
    /// A gen_statem's state function `Name(EventType, EventContent, Data)`.
    StateFunction,
    /// A gen_event handler's `handle_event/2`.
    EventHandler,
    /// A gen_event handler's `handle_call/2`.
    EventCall,
}

/// The function a gen_statem module is known by: gen_statem calls it in the process before
/// the first state function (and after a code change).
pub const CALLBACK_MODE: (&str, u8) = ("callback_mode", 0);

impl Callback {
    /// The callback `function/arity` is, in a module that runs as a gen_statem (`statem`: its
    /// `callback_mode/0` was called in the process) or as another behaviour.
    pub fn of(function: &str, arity: u8, statem: bool) -> Option<Callback> {
        if statem {
            return Some(match (function, arity) {
                ("init", 1) => Callback::Init,
                ("terminate", 3) => Callback::Terminate,
                ("code_change", 4) => Callback::CodeChange,
                ("handle_event", 4) => Callback::HandleEvent,
                ("format_status", _) => return None,
                (_, 3) => Callback::StateFunction,
                _ => return None,
            });
        }
        Some(match (function, arity) {
            ("init", 1) => Callback::Init,
            ("handle_call", 3) => Callback::HandleCall,
            ("handle_cast", 2) => Callback::HandleCast,
            ("handle_info", 2) => Callback::HandleInfo,
            ("handle_continue", 2) => Callback::HandleContinue,
            ("terminate", 2) => Callback::Terminate,
            ("code_change", 3) => Callback::CodeChange,
            ("handle_event", 4) => Callback::HandleEvent,
            ("handle_event", 2) => Callback::EventHandler,
            ("handle_call", 2) => Callback::EventCall,
            _ => return None,
        })
    }

    /// Whether a module's calls of it show that the module is a behaviour's callback module
    /// (a message handled), where `init/1`, `terminate` and `code_change` alone do not (plenty
    /// of modules have an `init/1`).
    pub fn handles_messages(self) -> bool {
        !matches!(
            self,
            Callback::Init | Callback::Terminate | Callback::CodeChange
        )
    }

    /// Whether it belongs to a gen_statem (its state has a name and data).
    fn statem(self, statem: bool) -> bool {
        statem || matches!(self, Callback::HandleEvent | Callback::StateFunction)
    }
}

/// A state's name: a gen_statem state function's own name, or a term.
#[derive(Debug, Clone, Copy)]
pub enum StateName<'a> {
    /// The state function that ran (its name is the state's).
    Function(&'a str),
    /// A term of a recorded value.
    Term(Part<'a>),
}

impl StateName<'_> {
    /// Printed in `style`.
    pub fn text(&self, style: Style) -> String {
        match self {
            StateName::Function(name) => style.term(&eetf::Term::from(eetf::Atom::from(*name))),
            StateName::Term(part) => part.text(style, value_diff::TEXT_WIDTH),
        }
    }

    fn atom(&self) -> Option<String> {
        match self {
            StateName::Function(name) => Some((*name).to_string()),
            StateName::Term(part) => part
                .node()
                .ok()
                .and_then(|n| n.atom_text().map(|t| t.into_owned())),
        }
    }

    fn same(&self, other: &StateName<'_>) -> bool {
        match (self.atom(), other.atom()) {
            (Some(a), Some(b)) => a == b,
            _ => match (self, other) {
                (StateName::Term(a), StateName::Term(b)) => a.same(b).unwrap_or(false),
                _ => false,
            },
        }
    }
}

/// A behaviour's state: a gen_statem's has a name beside its data.
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    /// A gen_statem's state name.
    pub name: Option<StateName<'a>>,
    /// The state (a gen_statem's data).
    pub data: Part<'a>,
}

impl State<'_> {
    /// Whether it is the same state as `other` (as recorded).
    pub fn same(&self, other: &State<'_>) -> bool {
        let names = match (&self.name, &other.name) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same(b),
            _ => false,
        };
        names && self.data.same(&other.data).unwrap_or(false)
    }

    /// Its recorded bytes, to compare with a state read from another call: the name's text
    /// and the data's bytes.
    pub fn fingerprint(&self) -> (Option<String>, Vec<u8>) {
        (
            self.name
                .as_ref()
                .map(|n| n.atom().unwrap_or_else(|| n.text(Style::Erlang))),
            self.data.bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        )
    }
}

/// What one callback received and returned.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// Which callback.
    pub callback: Callback,
    /// A gen_statem event's type (`{:call, from}`, `:cast`, `:info`, `:internal`, ...).
    pub event_type: Option<Part<'a>>,
    /// What it handled: the request, message, event or `init/1`'s argument, `terminate`'s
    /// reason, `code_change`'s old version.
    pub event: Option<Part<'a>>,
    /// The state it received (none for `init/1`, or when the capture cut the arguments short).
    pub before: Option<State<'a>>,
    /// The state it returned (see the module documentation).
    pub after: Option<State<'a>>,
    /// The first atom of its result (`reply`, `noreply`, `ok`, `stop`, `next_state`, ...), or
    /// the result when it is an atom.
    pub outcome: Option<String>,
    /// A `handle_call`'s reply (`{:reply, r, _}`, `{:stop, _, r, _}`).
    pub reply: Option<Part<'a>>,
}

/// Reads a callback's call: `function` (its name: a gen_statem state function's is the
/// state's), its arguments (the recorded list) and, when it returned, its result. `statem`
/// tells a gen_statem's `init/1` (`{ok, Name, Data}`) from a gen_server's (`{ok, State,
/// Timeout}`).
pub fn step<'a>(
    callback: Callback,
    function: &'a str,
    statem: bool,
    args: Value<'a>,
    result: Option<Value<'a>>,
) -> Result<Step<'a>, Damaged> {
    let statem = callback.statem(statem);
    let arguments = Part::root(args)
        .list()?
        .map(|l| l.elements)
        .unwrap_or_default();
    let arg = |i: usize| -> Result<Option<Part<'a>>, Damaged> {
        match arguments.get(i) {
            Some(p) if p.cut_kind()?.is_none() => Ok(Some(*p)),
            _ => Ok(None),
        }
    };
    let plain = |i: usize| -> Result<Option<State<'a>>, Damaged> {
        Ok(arg(i)?.map(|data| State { name: None, data }))
    };
    let named = |name: Option<StateName<'a>>, i: usize| -> Result<Option<State<'a>>, Damaged> {
        Ok(match (name, arg(i)?) {
            (Some(name), Some(data)) => Some(State {
                name: Some(name),
                data,
            }),
            _ => None,
        })
    };
    let (event_type, event, before) = match callback {
        Callback::Init => (None, arg(0)?, None),
        Callback::HandleCall => (None, arg(0)?, plain(2)?),
        Callback::HandleCast
        | Callback::HandleInfo
        | Callback::HandleContinue
        | Callback::EventHandler
        | Callback::EventCall => (None, arg(0)?, plain(1)?),
        Callback::Terminate | Callback::CodeChange if statem => {
            (None, arg(0)?, named(arg(1)?.map(StateName::Term), 2)?)
        }
        Callback::Terminate | Callback::CodeChange => (None, arg(0)?, plain(1)?),
        Callback::StateFunction => (
            arg(0)?,
            arg(1)?,
            named(Some(StateName::Function(function)), 2)?,
        ),
        Callback::HandleEvent => (arg(0)?, arg(1)?, named(arg(2)?.map(StateName::Term), 3)?),
    };
    let mut step = Step {
        callback,
        event_type,
        event,
        before,
        after: None,
        outcome: None,
        reply: None,
    };
    if let Some(result) = result {
        read_result(&mut step, statem, Part::root(result))?;
    }
    Ok(step)
}

/// The state a callback returned, its result's tag, and a reply.
fn read_result<'a>(step: &mut Step<'a>, statem: bool, result: Part<'a>) -> Result<(), Damaged> {
    let (tag, rest) = match result.node()? {
        Node::Atom { .. } => (
            result.node()?.atom_text().map(|t| t.into_owned()),
            Vec::new(),
        ),
        Node::Tuple { .. } => {
            let elements = result.tuple_elements()?.unwrap_or_default();
            let tag = match elements.first() {
                Some(first) => first.node()?.atom_text().map(|t| t.into_owned()),
                None => None,
            };
            (tag, elements.into_iter().skip(1).collect())
        }
        _ => (None, Vec::new()),
    };
    let Some(tag) = tag else {
        return Ok(());
    };
    let plain = |p: Option<&Part<'a>>| -> Result<Option<State<'a>>, Damaged> {
        match p {
            Some(p) if p.cut_kind()?.is_none() => Ok(Some(State {
                name: None,
                data: *p,
            })),
            _ => Ok(None),
        }
    };
    // A gen_statem's next state: a name and data.
    let named = |name: Part<'a>, data: Option<&Part<'a>>| -> Result<Option<State<'a>>, Damaged> {
        Ok(plain(data)?.map(|s| State {
            name: Some(StateName::Term(name)),
            data: s.data,
        }))
    };
    // A gen_statem result that keeps the state's name takes it from what it received.
    let name_in = step.before.and_then(|s| s.name);
    let keep = |data: Option<&Part<'a>>| -> Result<Option<State<'a>>, Damaged> {
        Ok(match (name_in, plain(data)?) {
            (Some(name), Some(s)) => Some(State {
                name: Some(name),
                data: s.data,
            }),
            _ => None,
        })
    };
    let mut reply = None;
    let after = match (step.callback, statem, tag.as_str(), rest.len()) {
        (Callback::Init | Callback::CodeChange, true, "ok", 2 | 3) => named(rest[0], rest.get(1))?,
        (Callback::Init | Callback::CodeChange, false, "ok", 1 | 2) => plain(rest.first())?,
        (Callback::StateFunction | Callback::HandleEvent, _, _, _) => {
            match (tag.as_str(), rest.len()) {
                ("next_state", 2 | 3) => named(rest[0], rest.get(1))?,
                ("keep_state" | "repeat_state", 1 | 2) => keep(rest.first())?,
                ("keep_state_and_data" | "repeat_state_and_data", 0 | 1) => step.before,
                ("stop", 2) => keep(rest.get(1))?,
                ("stop_and_reply", 3) => keep(rest.get(2))?,
                _ => None,
            }
        }
        (Callback::HandleCall, _, "reply", 2 | 3) => {
            reply = rest.first().copied();
            plain(rest.get(1))?
        }
        (Callback::HandleCall, _, "stop", 3) => {
            reply = rest.get(1).copied();
            plain(rest.get(2))?
        }
        (
            Callback::HandleCall
            | Callback::HandleCast
            | Callback::HandleInfo
            | Callback::HandleContinue,
            _,
            "noreply",
            1 | 2,
        ) => plain(rest.first())?,
        (
            Callback::HandleCall
            | Callback::HandleCast
            | Callback::HandleInfo
            | Callback::HandleContinue,
            _,
            "stop",
            2,
        ) => plain(rest.get(1))?,
        (Callback::HandleInfo | Callback::EventHandler, _, "ok", 1 | 2) => plain(rest.first())?,
        (Callback::EventCall, _, "ok", 2 | 3) => {
            reply = rest.first().copied();
            plain(rest.get(1))?
        }
        _ => None,
    };
    step.after = after;
    step.reply = reply;
    step.outcome = Some(tag);
    Ok(())
}

/// What changed from `before` to `after`, paths rooted at `state` (and `data` for a
/// gen_statem's data) in Elixir, `State` (and `Data`) in Erlang.
pub fn state_diff(before: &State<'_>, after: &State<'_>, style: Style) -> Result<Diff, Damaged> {
    let (state, data) = match style {
        Style::Elixir => ("state", "data"),
        Style::Erlang => ("State", "Data"),
    };
    match (&before.name, &after.name) {
        (None, None) => value_diff::diff(state, before.data, after.data, style),
        (name_before, name_after) => {
            let mut out = value_diff::diff(data, before.data, after.data, style)?;
            let same_name = match (name_before, name_after) {
                (Some(a), Some(b)) => a.same(b),
                _ => false,
            };
            if !same_name {
                let change = Change {
                    path: state.to_string(),
                    kind: ChangeKind::Changed,
                    before: name_before.as_ref().map(|n| n.text(style)),
                    after: name_after.as_ref().map(|n| n.text(style)),
                };
                out.changes.insert(0, change);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_terms::{atom, encode, int};
    use eetf::{List, Term, Tuple};

    fn tuple(items: Vec<Term>) -> Term {
        Term::from(Tuple::from(items))
    }

    fn args(items: Vec<Term>) -> Vec<u8> {
        encode(Term::from(List::from(items)))
    }

    #[test]
    fn callbacks_are_known_by_name_and_arity() {
        assert_eq!(
            Callback::of("handle_call", 3, false),
            Some(Callback::HandleCall)
        );
        assert_eq!(
            Callback::of("handle_call", 2, false),
            Some(Callback::EventCall)
        );
        assert_eq!(Callback::of("idle", 3, false), None);
        assert_eq!(Callback::of("idle", 3, true), Some(Callback::StateFunction));
        assert_eq!(
            Callback::of("terminate", 3, true),
            Some(Callback::Terminate)
        );
        assert!(!Callback::Init.handles_messages());
        assert!(Callback::HandleInfo.handles_messages());
    }

    #[test]
    fn a_counter_whose_call_replies_and_counts() {
        let a = args(vec![
            atom("bump"),
            tuple(vec![atom("from"), atom("tag")]),
            int(1),
        ]);
        let r = encode(tuple(vec![atom("reply"), atom("ok"), int(2)]));
        let (a, r) = (Value::new(&a).unwrap(), Value::new(&r).unwrap());
        let s = step(Callback::HandleCall, "handle_call", false, a, Some(r)).unwrap();
        assert_eq!(s.outcome.as_deref(), Some("reply"));
        assert_eq!(s.reply.unwrap().text(Style::Elixir, 80), ":ok");
        assert_eq!(s.event.unwrap().text(Style::Erlang, 80), "bump");
        let (before, after) = (s.before.unwrap(), s.after.unwrap());
        assert_eq!(before.data.text(Style::Elixir, 80), "1");
        let d = state_diff(&before, &after, Style::Erlang).unwrap();
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].path, "State");
        assert_eq!(d.changes[0].after.as_deref(), Some("2"));
    }

    #[test]
    fn a_state_machine_names_its_state() {
        // locked({call, From}, unlock, Data) -> {next_state, open, Data + 1, [...]}.
        let a = args(vec![
            tuple(vec![atom("call"), tuple(vec![atom("from"), atom("tag")])]),
            atom("unlock"),
            int(0),
        ]);
        let r = encode(tuple(vec![
            atom("next_state"),
            atom("open"),
            int(1),
            Term::from(List::nil()),
        ]));
        let (a, r) = (Value::new(&a).unwrap(), Value::new(&r).unwrap());
        let s = step(Callback::StateFunction, "locked", true, a, Some(r)).unwrap();
        let (before, after) = (s.before.unwrap(), s.after.unwrap());
        assert!(!before.same(&after));
        let d = state_diff(&before, &after, Style::Erlang).unwrap();
        let lines: Vec<String> = d
            .changes
            .iter()
            .map(|c| format!("{} {:?} {:?}", c.path, c.before, c.after))
            .collect();
        assert_eq!(
            lines,
            [
                "State Some(\"locked\") Some(\"open\")",
                "Data Some(\"0\") Some(\"1\")"
            ]
        );
        // keep_state_and_data keeps both.
        let r = encode(atom("keep_state_and_data"));
        let r = Value::new(&r).unwrap();
        let s = step(Callback::StateFunction, "locked", true, a, Some(r)).unwrap();
        assert!(s.before.unwrap().same(&s.after.unwrap()));
    }

    #[test]
    fn results_without_a_state_return_none() {
        let a = args(vec![atom("stop"), int(3)]);
        let a = Value::new(&a).unwrap();
        for result in [
            atom("ignore"),
            tuple(vec![atom("stop"), atom("normal")]),
            int(7),
        ] {
            let r = encode(result);
            let s = step(
                Callback::HandleCast,
                "handle_cast",
                false,
                a,
                Some(Value::new(&r).unwrap()),
            )
            .unwrap();
            assert!(s.after.is_none());
            assert!(s.before.is_some());
        }
        // init/1 receives no state.
        let r = encode(tuple(vec![atom("ok"), int(0), atom("hibernate")]));
        let s = step(
            Callback::Init,
            "init",
            false,
            a,
            Some(Value::new(&r).unwrap()),
        )
        .unwrap();
        assert!(s.before.is_none());
        assert_eq!(s.after.unwrap().data.text(Style::Elixir, 10), "0");
    }
}
