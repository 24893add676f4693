use std::time::Duration;

/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How often to run.
    #[param(default = "sixty seconds")]
    interval: Duration,
    /// How many workers.
    #[param(default = "-1")]
    workers: u32,
}

fn main() {}
