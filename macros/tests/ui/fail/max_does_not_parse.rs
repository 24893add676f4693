/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Retries: "many" is not a number.
    #[param(default = "2", max = "many")]
    retries: u32,
}

fn main() {}
