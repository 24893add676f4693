/// Settings.
#[derive(wva_api::ConfigParams)]
#[params(rules = "Self::rules")]
struct Settings {
    /// Retries.
    #[param(default = "2")]
    retries: u32,
}

fn main() {}
