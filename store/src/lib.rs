//! The event store of ElixirScope: recorded calls in a redb database, and queries over them.
//!
//! Built by the runtime issue; see `docs/ARCHITECTURE.md` for the planned schema.
