//! One module per subcommand.

pub mod baseline;
pub mod compare;
pub mod gate;
pub mod report;
pub mod run;
pub mod validate;
