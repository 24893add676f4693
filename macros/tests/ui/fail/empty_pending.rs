/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Enable the thing.
    #[param(default = "false", pending = " ")]
    enable_thing: bool,
}

fn main() {}
