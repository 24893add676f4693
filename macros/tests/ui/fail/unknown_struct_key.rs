/// Settings.
#[derive(wva_api::ConfigParams)]
#[params(mutabel)]
struct Settings {
    /// How many workers.
    #[param(default = "1")]
    workers: u32,
}

fn main() {}
