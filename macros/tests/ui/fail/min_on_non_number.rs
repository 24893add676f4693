/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Whether to do it: `min` has no meaning here, and "1" is not even a bool.
    #[param(default = "false", min = "1")]
    enabled: bool,
}

fn main() {}
