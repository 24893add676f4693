use std::time::Duration;

/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How often to run.
    #[param(default = "60s", min = "soon")]
    interval: Duration,
}

fn main() {}
