/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// The Prometheus URL.
    #[param(required)]
    url: Option<String>,
}

fn main() {}
