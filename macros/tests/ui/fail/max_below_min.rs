use std::time::Duration;

/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How often to run: no value is both at least 10m and at most 1m.
    #[param(default = "5m", min = "10m", max = "1m")]
    interval: Duration,
}

fn main() {}
