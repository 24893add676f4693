/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// The namespace to watch.
    #[param(default = "default")]
    namespace: Option<String>,
}

fn main() {}
