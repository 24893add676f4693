use std::time::Duration;

/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How often to run.
    #[param(defualt = "60s")]
    interval: Duration,
}

fn main() {}
