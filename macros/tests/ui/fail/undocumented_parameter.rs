/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    #[param(default = "1")]
    workers: u32,
}

fn main() {}
