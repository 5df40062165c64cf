//! Behaviours and their callbacks: which functions of a module are called by a framework
//! (OTP, Elixir, Plug) rather than by the program.
//!
//! A function is a callback when
//! - the module declares a behaviour whose callbacks are known: the table below (OTP and
//!   Elixir behaviours, `Plug`), or `-callback` attributes of a behaviour module that is part
//!   of the analyzed code (a project's own behaviours and protocols);
//! - the module is an Elixir protocol implementation: its public functions implement the
//!   protocol;
//! - the module declares `gen_statem`: exported functions of arity 3 are taken as state
//!   callbacks (`state_functions` mode);
//! - the module looks like a Plug (exports `init/1` and `call/2`): those two;
//! - it is exported and named `handle_*` (cowboy, Phoenix channels and the like).

use std::collections::BTreeMap;

use beam_format::FunctionRef;

use crate::facts::{FunctionFacts, ModuleFacts};

const GEN_SERVER: &[(&str, u32)] = &[
    ("init", 1),
    ("handle_call", 3),
    ("handle_cast", 2),
    ("handle_info", 2),
    ("handle_continue", 2),
    ("terminate", 2),
    ("code_change", 3),
    ("format_status", 1),
    ("format_status", 2),
];

const GEN_STATEM: &[(&str, u32)] = &[
    ("init", 1),
    ("callback_mode", 0),
    ("handle_event", 4),
    ("terminate", 3),
    ("code_change", 4),
    ("format_status", 1),
    ("format_status", 2),
];

const GEN_EVENT: &[(&str, u32)] = &[
    ("init", 1),
    ("handle_event", 2),
    ("handle_call", 2),
    ("handle_info", 2),
    ("terminate", 2),
    ("code_change", 3),
];

const APPLICATION: &[(&str, u32)] = &[
    ("start", 2),
    ("stop", 1),
    ("prep_stop", 1),
    ("config_change", 3),
    ("start_phase", 3),
];

const SUPERVISOR: &[(&str, u32)] = &[("init", 1)];

const PLUG: &[(&str, u32)] = &[("init", 1), ("call", 2)];

/// The callbacks of behaviours everyone uses, by behaviour module.
const KNOWN: &[(&str, &[(&str, u32)])] = &[
    ("gen_server", GEN_SERVER),
    ("Elixir.GenServer", GEN_SERVER),
    ("gen_statem", GEN_STATEM),
    ("gen_event", GEN_EVENT),
    ("supervisor", SUPERVISOR),
    ("supervisor_bridge", SUPERVISOR),
    ("Elixir.Supervisor", SUPERVISOR),
    ("Elixir.DynamicSupervisor", SUPERVISOR),
    ("application", APPLICATION),
    ("Elixir.Application", APPLICATION),
    ("Elixir.Plug", PLUG),
    ("Elixir.Mix.Task", &[("run", 1)]),
    (
        "Elixir.Access",
        &[("fetch", 2), ("get_and_update", 3), ("pop", 2)],
    ),
];

/// The callbacks of a well-known behaviour.
pub fn known_callbacks(behaviour: &str) -> Option<&'static [(&'static str, u32)]> {
    KNOWN
        .iter()
        .find(|(name, _)| *name == behaviour)
        .map(|(_, callbacks)| *callbacks)
}

/// Callbacks declared by the analyzed behaviour modules (`-callback`), by module.
pub type Declared = BTreeMap<String, Vec<FunctionRef>>;

/// The behaviour (or framework) `function` of `module` is a callback of, if it is one.
pub fn callback_of(
    module: &ModuleFacts,
    function: &FunctionFacts,
    declared: &Declared,
) -> Option<String> {
    if !function.exported {
        return None;
    }
    let f = &function.function;
    for behaviour in &module.behaviours {
        let listed = known_callbacks(behaviour)
            .map(|known| known.iter().any(|(n, a)| *n == f.name && *a == f.arity))
            .or_else(|| declared.get(behaviour).map(|d| d.contains(f)))
            .unwrap_or(false);
        if listed {
            return Some(behaviour.clone());
        }
        if behaviour == "gen_statem" && f.arity == 3 {
            return Some(behaviour.clone());
        }
    }
    if let Some(protocol) = &module.implements_protocol {
        if function.generated.is_none() {
            return Some(protocol.clone());
        }
    }
    if module.is_plug_like() && PLUG.iter().any(|(n, a)| *n == f.name && *a == f.arity) {
        return Some("Plug".into());
    }
    if f.name.starts_with("handle_") {
        return Some("handle_*".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_otp_and_elixir_behaviours() {
        assert!(known_callbacks("Elixir.GenServer")
            .unwrap()
            .contains(&("handle_call", 3)));
        assert!(known_callbacks("application")
            .unwrap()
            .contains(&("start", 2)));
        assert_eq!(known_callbacks("Elixir.MyApp.Behaviour"), None);
    }
}
