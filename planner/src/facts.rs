//! What the analyzer finds out about a module and its functions.
//!
//! Facts are per module and need only that module's code, so they are cached by the beam's
//! hash; everything that needs several modules (recursion through other modules, callers,
//! purity of callees) is computed from them by [`crate::graph`].

use std::collections::BTreeSet;
use std::fmt;

use beam_format::FunctionRef;
use beam_rewrite::SkipReason;
use serde::{Deserialize, Serialize};

/// A side effect a debugger cares about (see [`crate::effects`] for what counts as which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Sends a message or makes a synchronous request (`!`, `send`, `GenServer.call`, ...).
    Send,
    /// Waits for a message (`receive`, `Task.await`, `timer:sleep`).
    Receive,
    /// Starts processes (`spawn*`, `Task.async`, `GenServer.start_link`, ...).
    Spawn,
    /// Reads or writes shared state: ETS, DETS, Mnesia, `persistent_term`, atomics, counters.
    SharedState,
    /// Console, logging, ports, sockets, the OS (`IO`, `Logger`, `io`, `logger`, `os:cmd`, ...).
    Io,
    /// The file system (`File`, `file`, `filelib`, ...).
    File,
    /// Raises, throws or exits (`raise`, `erlang:error/raise/throw/exit`).
    Raise,
    /// Changes the process: its dictionary, links, monitors, flags, registered names.
    Process,
    /// Reads clocks or random numbers, makes references or unique integers.
    Nondeterministic,
}

impl Effect {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Send => "send",
            Effect::Receive => "receive",
            Effect::Spawn => "spawn",
            Effect::SharedState => "shared_state",
            Effect::Io => "io",
            Effect::File => "file",
            Effect::Raise => "raise",
            Effect::Process => "process",
            Effect::Nondeterministic => "nondeterministic",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function another function calls or refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// The module (the caller's own for local calls).
    pub module: String,
    /// The function's name.
    pub name: String,
    /// Its arity.
    pub arity: u32,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.module, self.name, self.arity)
    }
}

/// Why a call happens once per element of something: the loop it sits in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoopContext {
    /// Inside a list, binary or map comprehension.
    Comprehension,
    /// Inside a fun (or as a captured function) passed to a higher-order function such as
    /// `Enum.map/2` or `lists:foldl/3`.
    HigherOrder {
        /// The higher-order function (`Elixir.Enum:reduce/3`).
        function: String,
    },
}

impl fmt::Display for LoopContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopContext::Comprehension => f.write_str("inside a comprehension"),
            LoopContext::HigherOrder { function } => {
                write!(
                    f,
                    "in a fun passed to {}",
                    crate::analyzer::readable(function)
                )
            }
        }
    }
}

/// One call (or function reference) from a function.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Call {
    /// What is called.
    pub target: Target,
    /// Whether it is a reference (`fun f/1`, `&f/1`) rather than a call.
    pub reference: bool,
    /// The loop the call or reference sits in, if any.
    pub in_loop: Option<LoopContext>,
}

/// Why a function counts as generated code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Generated {
    /// The compiler marked it (`{generated, true}` in its annotation).
    Annotated,
    /// Its name is one compilers generate (`module_info`, `__info__`, `MACRO-*`, protocol
    /// dispatch, ...).
    Name,
}

/// What the analyzer knows about one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionFacts {
    /// Name and arity.
    pub function: FunctionRef,
    /// The line it starts on.
    pub line: i32,
    /// Whether it is exported.
    pub exported: bool,
    /// How many clauses it has.
    pub clauses: usize,
    /// Its size: expressions in its guards and bodies (patterns not counted).
    pub size: u32,
    /// Why it is generated code, if it is.
    pub generated: Option<Generated>,
    /// The file a macro brought it from, when that is not the module's own file
    /// (`use GenServer` defines `child_spec/1` from `lib/gen_server.ex`).
    pub injected_from: Option<String>,
    /// Why the rewriter cannot wrap it, if it cannot (the rewriter's own rule).
    pub cannot_wrap: Option<SkipReason>,
    /// Side effects of its own code (not of what it calls).
    pub effects: BTreeSet<Effect>,
    /// Remote calls whose effects are unknown (functions of modules outside the known tables
    /// and outside the analyzed code), deduplicated.
    pub unknown_calls: BTreeSet<Target>,
    /// Whether it calls a fun value or `apply` with a computed target.
    pub dynamic_calls: bool,
    /// Named calls and references, deduplicated.
    pub calls: BTreeSet<Call>,
}

impl FunctionFacts {
    /// Whether its own code is free of side effects and of calls it cannot see through
    /// (callees inside the analyzed code are judged by [`crate::graph`]).
    pub fn locally_pure(&self) -> bool {
        self.effects.is_empty() && self.unknown_calls.is_empty() && !self.dynamic_calls
    }
}

/// What the analyzer knows about one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleFacts {
    /// The module.
    pub module: String,
    /// Its source file (the first `-file` attribute).
    pub file: Option<String>,
    /// Whether it came from Elixir (`elixir_erl` debug info).
    pub elixir: bool,
    /// The behaviours it declares (`-behaviour`, Elixir's `@behaviour`, protocol
    /// implementations).
    pub behaviours: Vec<String>,
    /// The callbacks it declares itself (it defines a behaviour or protocol).
    pub declared_callbacks: Vec<FunctionRef>,
    /// The protocol it implements, for Elixir protocol implementations.
    pub implements_protocol: Option<String>,
    /// Whether it is an Elixir protocol.
    pub is_protocol: bool,
    /// Its functions, in source order.
    pub functions: Vec<FunctionFacts>,
}

impl ModuleFacts {
    /// The facts of one of its functions.
    pub fn function(&self, function: &FunctionRef) -> Option<&FunctionFacts> {
        self.functions.iter().find(|f| &f.function == function)
    }

    /// Whether it looks like a Plug (exports `init/1` and `call/2`).
    pub fn is_plug_like(&self) -> bool {
        let exports = |name: &str, arity| {
            self.functions
                .iter()
                .any(|f| f.exported && f.function.name == name && f.function.arity == arity)
        };
        exports("init", 1) && exports("call", 2)
    }
}
