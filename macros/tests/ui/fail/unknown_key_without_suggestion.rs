/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How many workers.
    #[param(default = "1", colour = "red")]
    workers: u32,
}

fn main() {}
