//! The runtime contract, as the rewriter sees it: every remote call rewritten code makes into
//! ElixirScope's modules, in one table that the emitters (`patch::wrapper`,
//! `patch::introspection`, `patch::catch_sites`) build their calls from.
//!
//! The runtime's part is declared once more on the Erlang side, as the behaviour
//! `elixir_scope_contract` (`runtime_nif/erlang/elixir_scope_contract.erl`), which both
//! runtimes implement: the product's `elixir_scope_runtime` and the tests' ETS runtime
//! (`tests/fixtures/test_runtime`). `tests/contract.rs` holds the three together: the
//! behaviour's callbacks are [`runtime_callbacks`], both runtimes export them, the gate and
//! `elixir_scope_stacktrace` export what [`CALLS`] names of them, and the modules rewritten
//! from a set of real beams call nothing of ElixirScope outside [`CALLS`].
//!
//! docs/ARCHITECTURE.md ("The runtime contract") says what each call means.

use eetf::Term;

use crate::forms::build::remote_call;

/// The runtime module wrapped code calls (the behaviour's implementation).
pub const RUNTIME: &str = "elixir_scope_runtime";

/// The module every wrapper asks whether to record (`elixir_scope_gate:on(M)`); the runtime
/// generates and loads it on every change of state.
pub const GATE: &str = "elixir_scope_gate";

/// The module that cleans stack traces and process introspection (ships with the runtime).
pub const STACKTRACE: &str = "elixir_scope_stacktrace";

/// The Erlang behaviour that declares the runtime's part of the contract.
pub const BEHAVIOUR: &str = "elixir_scope_contract";

/// The persistent term that is `true` while recording is on everywhere (the tail-call reports
/// read it).
pub const RECORDING_KEY: &str = "elixir_scope_recording";

/// One function of the contract: `module:function/arity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Callee {
    /// The module called.
    pub module: &'static str,
    /// The function.
    pub function: &'static str,
    /// Its arity.
    pub arity: usize,
}

const fn runtime(function: &'static str, arity: usize) -> Callee {
    Callee {
        module: RUNTIME,
        function,
        arity,
    }
}

const fn stacktrace(function: &'static str, arity: usize) -> Callee {
    Callee {
        module: STACKTRACE,
        function,
        arity,
    }
}

/// `elixir_scope_gate:on(Module)`: whether to record calls of `Module` now.
pub const GATE_ON: Callee = Callee {
    module: GATE,
    function: "on",
    arity: 1,
};
/// `enter(M, F, Arity, Args) -> Token | deep`.
pub const ENTER: Callee = runtime("enter", 4);
/// `enter(M, F, Arity, Args, {Arguments, Result, Caps})`: for a function with capture options.
pub const ENTER_CAPTURED: Callee = runtime("enter", 5);
/// `return(Token, Result) -> Result`.
pub const RETURN: Callee = runtime("return", 2);
/// `exception(Token, Class, Reason, Stack) -> no_return()`.
pub const EXCEPTION: Callee = runtime("exception", 4);
/// `tail_call(M, F, Arity, Args) -> ok`: a local tail call to a wrapped function.
pub const TAIL_CALL: Callee = runtime("tail_call", 4);
/// `tail_call(M, F, Arity, Args, {Arguments, Result, Caps})`: the same with capture options.
pub const TAIL_CALL_CAPTURED: Callee = runtime("tail_call", 5);
/// `remote_tail_call(M, F, Arity) -> ok`: announces `?MODULE:f(...)` in tail position.
pub const REMOTE_TAIL_CALL: Callee = runtime("remote_tail_call", 3);
/// `sending(Kind, Dest, Message) -> ok`: right before a send.
pub const SENDING: Callee = runtime("sending", 3);
/// `discarding_stack(Args) -> Args`: on the arguments of a hibernation.
pub const DISCARDING_STACK: Callee = runtime("discarding_stack", 1);
/// `recording(Module) -> boolean()`: what the installed default gate asks (rewritten code
/// never calls it itself; the behaviour declares it, so both runtimes answer it).
pub const RECORDING: Callee = runtime("recording", 1);

/// `clean(Stack)`: a caught stack trace as the original code would see it.
pub const CLEAN: Callee = stacktrace("clean", 1);
/// `clean_process_info(Answer)`: a `process_info/1,2` answer without the recorder's traces.
pub const CLEAN_PROCESS_INFO: Callee = stacktrace("clean_process_info", 1);
/// `clean_dictionary(Entries)`: `get/0` without the runtime's keys.
pub const CLEAN_DICTIONARY: Callee = stacktrace("clean_dictionary", 1);
/// `clean_keys(Keys)`: `get_keys/0,1` without the runtime's keys.
pub const CLEAN_KEYS: Callee = stacktrace("clean_keys", 1);
/// `clean_erased(Entries)`: `erase/0`, the runtime's entries put back.
pub const CLEAN_ERASED: Callee = stacktrace("clean_erased", 1);
/// `clean_fun_info(Answer)`: `fun_info/1,2` with the fun's original name.
pub const CLEAN_FUN_INFO: Callee = stacktrace("clean_fun_info", 1);

/// Every remote call rewritten code may make into ElixirScope's modules.
pub const CALLS: &[Callee] = &[
    GATE_ON,
    ENTER,
    ENTER_CAPTURED,
    RETURN,
    EXCEPTION,
    TAIL_CALL,
    TAIL_CALL_CAPTURED,
    REMOTE_TAIL_CALL,
    SENDING,
    DISCARDING_STACK,
    CLEAN,
    CLEAN_PROCESS_INFO,
    CLEAN_DICTIONARY,
    CLEAN_KEYS,
    CLEAN_ERASED,
    CLEAN_FUN_INFO,
];

/// The callbacks of the behaviour `elixir_scope_contract`: what [`CALLS`] names of
/// [`RUNTIME`], and [`RECORDING`].
pub fn runtime_callbacks() -> impl Iterator<Item = Callee> {
    CALLS
        .iter()
        .copied()
        .filter(|c| c.module == RUNTIME)
        .chain([RECORDING])
}

/// `Module:Function(Args...)` for a function of the contract, as abstract code.
pub fn call(anno: &Term, callee: Callee, args: Vec<Term>) -> Term {
    debug_assert_eq!(args.len(), callee.arity, "{callee:?}");
    remote_call(anno, callee.module, callee.function, args)
}

/// Whether `module` is one the contract calls.
pub fn is_contract_module(module: &str) -> bool {
    [RUNTIME, GATE, STACKTRACE].contains(&module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_listed_once_and_only_into_elixir_scope() {
        let mut unique = CALLS.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), CALLS.len(), "a call listed twice");
        assert!(CALLS.iter().all(|c| is_contract_module(c.module)));
        let callbacks: Vec<Callee> = runtime_callbacks().collect();
        assert!(callbacks.contains(&RECORDING) && callbacks.contains(&ENTER));
        assert!(!callbacks.contains(&GATE_ON) && !callbacks.contains(&CLEAN));
    }
}
