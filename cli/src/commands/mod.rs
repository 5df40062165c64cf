//! One module per subcommand.

pub mod attach;
pub mod calls;
pub mod crashes;
pub mod diff;
pub mod doctor;
pub mod export;
pub mod inspect;
pub mod instrument;
pub mod log;
pub mod mix_archive;
pub mod origin;
pub mod plan;
pub mod profile;
pub mod restore;
pub mod search;
pub mod serve;
pub mod stats;
pub mod tests;
pub mod trace;
