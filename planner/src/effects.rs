//! Which remote functions have side effects a debugger cares about, which are pure, and which
//! are higher-order functions that call a fun once per element.
//!
//! The tables name Erlang and Elixir functions in their BEAM spelling (`'Elixir.IO'`). A rule
//! is a module, a function name (`*` for any), and an optional arity; the first rule that
//! matches decides, so specific rules come before a module's catch-all. A remote function no
//! rule matches is **unknown**: a function that calls one is not known to be pure.
//!
//! What counts as which [`Effect`]:
//!
//! | effect | functions |
//! |---|---|
//! | `send` | `!`, `erlang:send*`, `erlang:start_timer`, `gen_server`/`gen_statem`/`gen_event`/`gen` calls and casts, `GenServer.call/cast/reply/...`, `Process.send/send_after`, `Agent.get/update/cast/...`, `Registry.dispatch` |
//! | `receive` | `receive`, `timer:sleep`, `Process.sleep`, `Task.await/yield*` |
//! | `spawn` | `erlang:spawn*`, `proc_lib:spawn*/start*`, `*:start`/`start_link` of `gen_server`, `gen_statem`, `supervisor`, `GenServer`, `Supervisor`, `Agent`, `Task` (`async*`, `start*`), `Task.Supervisor`, `DynamicSupervisor.start_child`, `Kernel.spawn*` |
//! | `shared_state` | `ets`, `dets`, `mnesia`, `persistent_term:put/erase`, `atomics`, `counters`, `Registry.register/unregister/lookup` |
//! | `io` | `io`, `logger`, `error_logger`, `IO`, `Logger`, `os:cmd/putenv/getenv`, `System.cmd/shell/get_env/put_env/halt/stop`, ports, `gen_tcp`, `gen_udp`, `ssl`, `inet`, `httpc`, `erlang:halt` |
//! | `file` | `file`, `filelib`, `prim_file`, `File`, `Path.wildcard/expand` |
//! | `raise` | `erlang:error/raise/throw/exit/1`, `erlang:nif_error` |
//! | `process` | `erlang:put/get/erase` (process dictionary), `link`, `unlink`, `monitor`, `demonitor`, `process_flag`, `register`, `unregister`, `exit/2`, `group_leader`, `Process.*` |
//! | `nondeterministic` | clocks (`erlang:now/monotonic_time/system_time/timestamp`, `os:timestamp`, `os:system_time`, `System.*_time`, `DateTime.utc_now`, ...), `rand`, `random`, `crypto:strong_rand_bytes`, `make_ref`, `unique_integer`, `self`, `node`, `whereis`, `process_info` |
//!
//! Known pure: every other `erlang` function (BIFs and operators), `lists`, `maps`, `string`,
//! `binary`, `unicode`, `proplists`, `orddict`, `ordsets`, `sets`, `gb_trees`, `gb_sets`,
//! `dict`, `queue`, `array`, `math`, `io_lib`, `re`, `erl_anno`, and Elixir's `Enum`, `Stream`,
//! `List`, `Map`, `MapSet`, `Keyword`, `String`, `String.Chars`, `Integer`, `Float`, `Tuple`,
//! `Access`, `Range`, `Kernel`, `Inspect`, `Inspect.Algebra`, `Enumerable`, `Collectable`,
//! `Base`, `Bitwise`, `Regex`, `URI`, `Version`, `Exception` and the exceptions' `exception/1`
//! and `message/1`. A pure higher-order function (`Enum.map/2`) is only as pure as the fun it
//! gets: funs written inline are part of the caller's code and analyzed there.

use crate::facts::Effect;

/// What calling a remote function does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// It has this side effect.
    Effect(Effect),
    /// It has no side effect a debugger cares about.
    Pure,
    /// Not in the tables.
    Unknown,
}

/// One rule: module, function (`*`: any), arity (`None`: any).
type Rule = (&'static str, &'static str, Option<u32>, Class);

const fn e(effect: Effect) -> Class {
    Class::Effect(effect)
}

use Effect::*;

const P: Class = Class::Pure;

/// The rules, first match wins.
const RULES: &[Rule] = &[
    // erlang: effectful BIFs, then everything else is pure.
    ("erlang", "send", None, e(Send)),
    ("erlang", "send_after", None, e(Send)),
    ("erlang", "send_nosuspend", None, e(Send)),
    ("erlang", "start_timer", None, e(Send)),
    ("erlang", "!", None, e(Send)),
    ("erlang", "spawn", None, e(Spawn)),
    ("erlang", "spawn_link", None, e(Spawn)),
    ("erlang", "spawn_monitor", None, e(Spawn)),
    ("erlang", "spawn_opt", None, e(Spawn)),
    ("erlang", "spawn_request", None, e(Spawn)),
    ("erlang", "error", None, e(Raise)),
    ("erlang", "raise", None, e(Raise)),
    ("erlang", "throw", None, e(Raise)),
    ("erlang", "exit", Some(1), e(Raise)),
    ("erlang", "nif_error", None, e(Raise)),
    ("erlang", "exit", Some(2), e(Process)),
    ("erlang", "put", None, e(Process)),
    ("erlang", "get", None, e(Process)),
    ("erlang", "erase", None, e(Process)),
    ("erlang", "get_keys", None, e(Process)),
    ("erlang", "link", None, e(Process)),
    ("erlang", "unlink", None, e(Process)),
    ("erlang", "monitor", None, e(Process)),
    ("erlang", "demonitor", None, e(Process)),
    ("erlang", "process_flag", None, e(Process)),
    ("erlang", "register", None, e(Process)),
    ("erlang", "unregister", None, e(Process)),
    ("erlang", "group_leader", None, e(Process)),
    ("erlang", "garbage_collect", None, e(Process)),
    ("erlang", "suspend_process", None, e(Process)),
    ("erlang", "resume_process", None, e(Process)),
    ("erlang", "halt", None, e(Io)),
    ("erlang", "open_port", None, e(Io)),
    ("erlang", "port_command", None, e(Io)),
    ("erlang", "port_control", None, e(Io)),
    ("erlang", "port_call", None, e(Io)),
    ("erlang", "port_close", None, e(Io)),
    ("erlang", "display", None, e(Io)),
    ("erlang", "load_nif", None, e(Io)),
    ("erlang", "now", None, e(Nondeterministic)),
    ("erlang", "monotonic_time", None, e(Nondeterministic)),
    ("erlang", "system_time", None, e(Nondeterministic)),
    ("erlang", "timestamp", None, e(Nondeterministic)),
    ("erlang", "time", None, e(Nondeterministic)),
    ("erlang", "date", None, e(Nondeterministic)),
    ("erlang", "localtime", None, e(Nondeterministic)),
    ("erlang", "universaltime", None, e(Nondeterministic)),
    ("erlang", "unique_integer", None, e(Nondeterministic)),
    ("erlang", "make_ref", None, e(Nondeterministic)),
    ("erlang", "self", None, e(Nondeterministic)),
    ("erlang", "node", None, e(Nondeterministic)),
    ("erlang", "nodes", None, e(Nondeterministic)),
    ("erlang", "whereis", None, e(Nondeterministic)),
    ("erlang", "process_info", None, e(Nondeterministic)),
    ("erlang", "processes", None, e(Nondeterministic)),
    ("erlang", "statistics", None, e(Nondeterministic)),
    ("erlang", "system_info", None, e(Nondeterministic)),
    ("erlang", "apply", None, Class::Unknown),
    ("erlang", "*", None, P),
    // OTP behaviours' client functions.
    ("gen_server", "start", None, e(Spawn)),
    ("gen_server", "start_link", None, e(Spawn)),
    ("gen_server", "start_monitor", None, e(Spawn)),
    ("gen_server", "*", None, e(Send)),
    ("gen_statem", "start", None, e(Spawn)),
    ("gen_statem", "start_link", None, e(Spawn)),
    ("gen_statem", "start_monitor", None, e(Spawn)),
    ("gen_statem", "*", None, e(Send)),
    ("gen_event", "start", None, e(Spawn)),
    ("gen_event", "start_link", None, e(Spawn)),
    ("gen_event", "*", None, e(Send)),
    ("gen", "*", None, e(Send)),
    ("supervisor", "*", None, e(Spawn)),
    ("proc_lib", "*", None, e(Spawn)),
    ("timer", "sleep", None, e(Receive)),
    ("timer", "*", None, e(Send)),
    ("ets", "*", None, e(SharedState)),
    ("dets", "*", None, e(SharedState)),
    ("mnesia", "*", None, e(SharedState)),
    ("persistent_term", "put", None, e(SharedState)),
    ("persistent_term", "erase", None, e(SharedState)),
    ("persistent_term", "get", None, e(SharedState)),
    ("atomics", "*", None, e(SharedState)),
    ("counters", "*", None, e(SharedState)),
    ("io", "*", None, e(Io)),
    ("logger", "*", None, e(Io)),
    ("error_logger", "*", None, e(Io)),
    ("os", "timestamp", None, e(Nondeterministic)),
    ("os", "system_time", None, e(Nondeterministic)),
    ("os", "perf_counter", None, e(Nondeterministic)),
    ("os", "*", None, e(Io)),
    ("gen_tcp", "*", None, e(Io)),
    ("gen_udp", "*", None, e(Io)),
    ("gen_sctp", "*", None, e(Io)),
    ("ssl", "*", None, e(Io)),
    ("inet", "*", None, e(Io)),
    ("httpc", "*", None, e(Io)),
    ("file", "*", None, e(File)),
    ("filelib", "*", None, e(File)),
    ("prim_file", "*", None, e(File)),
    ("rand", "*", None, e(Nondeterministic)),
    ("random", "*", None, e(Nondeterministic)),
    ("crypto", "strong_rand_bytes", None, e(Nondeterministic)),
    ("calendar", "local_time", None, e(Nondeterministic)),
    ("calendar", "universal_time", None, e(Nondeterministic)),
    ("calendar", "*", None, P),
    // Pure Erlang libraries.
    ("lists", "*", None, P),
    ("maps", "*", None, P),
    ("string", "*", None, P),
    ("binary", "*", None, P),
    ("unicode", "*", None, P),
    ("proplists", "*", None, P),
    ("orddict", "*", None, P),
    ("ordsets", "*", None, P),
    ("sets", "*", None, P),
    ("gb_trees", "*", None, P),
    ("gb_sets", "*", None, P),
    ("dict", "*", None, P),
    ("queue", "*", None, P),
    ("array", "*", None, P),
    ("math", "*", None, P),
    ("io_lib", "*", None, P),
    ("re", "*", None, P),
    ("erl_anno", "*", None, P),
    // Elixir.
    ("Elixir.GenServer", "start", None, e(Spawn)),
    ("Elixir.GenServer", "start_link", None, e(Spawn)),
    ("Elixir.GenServer", "whereis", None, e(Nondeterministic)),
    ("Elixir.GenServer", "*", None, e(Send)),
    ("Elixir.Supervisor", "*", None, e(Spawn)),
    ("Elixir.DynamicSupervisor", "*", None, e(Spawn)),
    ("Elixir.Agent", "start", None, e(Spawn)),
    ("Elixir.Agent", "start_link", None, e(Spawn)),
    ("Elixir.Agent", "*", None, e(Send)),
    ("Elixir.Task", "await", None, e(Receive)),
    ("Elixir.Task", "await_many", None, e(Receive)),
    ("Elixir.Task", "yield", None, e(Receive)),
    ("Elixir.Task", "yield_many", None, e(Receive)),
    ("Elixir.Task", "*", None, e(Spawn)),
    ("Elixir.Task.Supervisor", "*", None, e(Spawn)),
    ("Elixir.Process", "send", None, e(Send)),
    ("Elixir.Process", "send_after", None, e(Send)),
    ("Elixir.Process", "sleep", None, e(Receive)),
    ("Elixir.Process", "spawn", None, e(Spawn)),
    ("Elixir.Process", "*", None, e(Process)),
    ("Elixir.Kernel", "spawn", None, e(Spawn)),
    ("Elixir.Kernel", "spawn_link", None, e(Spawn)),
    ("Elixir.Kernel", "spawn_monitor", None, e(Spawn)),
    ("Elixir.Kernel", "send", None, e(Send)),
    ("Elixir.Kernel", "self", None, e(Nondeterministic)),
    ("Elixir.Kernel", "node", None, e(Nondeterministic)),
    ("Elixir.Kernel", "make_ref", None, e(Nondeterministic)),
    ("Elixir.Kernel", "apply", None, Class::Unknown),
    ("Elixir.Kernel", "*", None, P),
    ("Elixir.Registry", "dispatch", None, e(Send)),
    ("Elixir.Registry", "*", None, e(SharedState)),
    ("Elixir.IO", "*", None, e(Io)),
    ("Elixir.Logger", "*", None, e(Io)),
    ("Elixir.System", "monotonic_time", None, e(Nondeterministic)),
    ("Elixir.System", "system_time", None, e(Nondeterministic)),
    ("Elixir.System", "os_time", None, e(Nondeterministic)),
    ("Elixir.System", "unique_integer", None, e(Nondeterministic)),
    ("Elixir.System", "*", None, e(Io)),
    ("Elixir.Port", "*", None, e(Io)),
    ("Elixir.File", "*", None, e(File)),
    ("Elixir.Path", "wildcard", None, e(File)),
    ("Elixir.Path", "expand", None, e(File)),
    ("Elixir.Path", "*", None, P),
    ("Elixir.DateTime", "utc_now", None, e(Nondeterministic)),
    ("Elixir.DateTime", "now", None, e(Nondeterministic)),
    ("Elixir.NaiveDateTime", "utc_now", None, e(Nondeterministic)),
    (
        "Elixir.NaiveDateTime",
        "local_now",
        None,
        e(Nondeterministic),
    ),
    ("Elixir.Date", "utc_today", None, e(Nondeterministic)),
    ("Elixir.Time", "utc_now", None, e(Nondeterministic)),
    ("Elixir.Enum", "random", None, e(Nondeterministic)),
    ("Elixir.Enum", "shuffle", None, e(Nondeterministic)),
    ("Elixir.Enum", "take_random", None, e(Nondeterministic)),
    ("Elixir.Enum", "*", None, P),
    ("Elixir.Stream", "*", None, P),
    ("Elixir.List", "*", None, P),
    ("Elixir.Map", "*", None, P),
    ("Elixir.MapSet", "*", None, P),
    ("Elixir.Keyword", "*", None, P),
    ("Elixir.String", "*", None, P),
    ("Elixir.String.Chars", "*", None, P),
    ("Elixir.Integer", "*", None, P),
    ("Elixir.Float", "*", None, P),
    ("Elixir.Tuple", "*", None, P),
    ("Elixir.Access", "*", None, P),
    ("Elixir.Range", "*", None, P),
    ("Elixir.Inspect", "*", None, P),
    ("Elixir.Inspect.Algebra", "*", None, P),
    ("Elixir.Enumerable", "*", None, P),
    ("Elixir.Collectable", "*", None, P),
    ("Elixir.Base", "*", None, P),
    ("Elixir.Bitwise", "*", None, P),
    ("Elixir.Regex", "*", None, P),
    ("Elixir.URI", "*", None, P),
    ("Elixir.Version", "*", None, P),
    ("Elixir.Exception", "*", None, P),
    ("Elixir.Date", "*", None, P),
    ("Elixir.Time", "*", None, P),
    ("Elixir.DateTime", "*", None, P),
    ("Elixir.NaiveDateTime", "*", None, P),
];

/// Modules whose functions call a fun argument once per element (or per step).
const HIGHER_ORDER_MODULES: &[&str] = &[
    "lists",
    "maps",
    "orddict",
    "dict",
    "sets",
    "ordsets",
    "gb_sets",
    "gb_trees",
    "proplists",
    "Elixir.Enum",
    "Elixir.Stream",
    "Elixir.List",
    "Elixir.Map",
    "Elixir.MapSet",
    "Elixir.Keyword",
    "Elixir.Task",
];

/// What calling `module:function/arity` does.
pub fn classify(module: &str, function: &str, arity: u32) -> Class {
    if module.starts_with("Elixir.") && module.ends_with("Error") && function == "exception" {
        return P;
    }
    RULES
        .iter()
        .find(|(m, f, a, _)| {
            *m == module && (*f == "*" || *f == function) && a.is_none_or(|a| a == arity)
        })
        .map_or(Class::Unknown, |rule| rule.3)
}

/// Whether a fun passed to `module:function` is called once per element.
pub fn is_higher_order(module: &str) -> bool {
    HIGHER_ORDER_MODULES.contains(&module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_erlang_and_elixir_spellings() {
        let cases = [
            ("erlang", "send", 2, e(Send)),
            ("erlang", "+", 2, P),
            ("erlang", "exit", 1, e(Raise)),
            ("erlang", "exit", 2, e(Process)),
            ("erlang", "apply", 3, Class::Unknown),
            ("Elixir.GenServer", "call", 2, e(Send)),
            ("Elixir.GenServer", "start_link", 3, e(Spawn)),
            ("gen_server", "cast", 2, e(Send)),
            ("Elixir.Process", "send", 3, e(Send)),
            ("Elixir.Process", "put", 2, e(Process)),
            ("Elixir.Task", "async", 1, e(Spawn)),
            ("Elixir.Task", "await", 2, e(Receive)),
            ("ets", "lookup", 2, e(SharedState)),
            ("Elixir.IO", "puts", 1, e(Io)),
            ("io", "format", 2, e(Io)),
            ("Elixir.File", "read!", 1, e(File)),
            ("Elixir.Enum", "map", 2, P),
            ("Elixir.Enum", "random", 1, e(Nondeterministic)),
            ("Elixir.ArgumentError", "exception", 1, P),
            ("Elixir.MyApp.Repo", "get", 2, Class::Unknown),
            ("lists", "reverse", 1, P),
        ];
        for (m, f, a, want) in cases {
            assert_eq!(classify(m, f, a), want, "{m}:{f}/{a}");
        }
        assert!(is_higher_order("Elixir.Enum"));
        assert!(!is_higher_order("Elixir.String"));
    }
}
