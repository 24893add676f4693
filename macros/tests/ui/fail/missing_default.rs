/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How many workers.
    #[param(flag)]
    workers: u32,
}

fn main() {}
