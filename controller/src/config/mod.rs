//! Configuration: the command line derived from the parameter table, loading, and live
//! updates of the main ConfigMap.

mod cli;
mod live;
mod load;

pub use cli::{config_command, explicit_flags, run_command};
pub use live::{Update, applied_message, apply_config_map, rejection_message};
pub use load::{Config, config_map_location, load};
