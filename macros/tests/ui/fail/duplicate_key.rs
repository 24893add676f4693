/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How many workers.
    #[param(default = "1", default = "2")]
    workers: u32,
}

fn main() {}
