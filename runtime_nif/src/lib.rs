//! The ElixirScope runtime NIF: the hot path of recording.
//!
//! Built by the runtime issue; see `docs/ARCHITECTURE.md` for the runtime contract.
