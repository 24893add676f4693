/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// The name: a string has no maximum.
    #[param(default = "a", max = "z")]
    name: String,
}

fn main() {}
