//! One module per subcommand.

pub mod doctor;
pub mod inspect;
pub mod instrument;
pub mod plan;
pub mod restore;
