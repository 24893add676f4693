/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Worker names.
    #[param(default = "a")]
    workers: Vec<String>,
}

fn main() {}
