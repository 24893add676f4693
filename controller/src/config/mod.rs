//! Configuration: the command line derived from the parameter table, loading, live updates
//! of the main ConfigMap, and the collector's settings from the loaded configuration.

mod cli;
mod collector;
mod live;
mod load;
mod offline;
mod unknown;

pub use cli::{config_command, explicit_flags, run_command};
pub use collector::collector_settings;
pub use live::{Update, applied_message, apply_config_map, rejection_message};
pub use load::{Config, config_map_location, load};
pub use offline::{Report, check};
pub use unknown::{UnknownKey, unknown_keys};
