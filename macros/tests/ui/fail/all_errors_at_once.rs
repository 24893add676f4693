use std::time::Duration;

/// Settings: three mistakes, all reported in one compile.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How often to run.
    #[param(flg, default = "1x")]
    interval: Duration,
    /// How many workers.
    workers: u32,
}

fn main() {}
