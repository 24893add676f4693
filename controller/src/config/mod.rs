//! Configuration: the command line derived from the parameter table, and loading.

mod cli;
mod load;

pub use cli::{explicit_flags, run_command};
pub use load::{Config, load};
