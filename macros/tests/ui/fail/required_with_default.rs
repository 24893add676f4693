/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// The Prometheus URL.
    #[param(required, default = "https://prometheus:9090")]
    url: String,
}

fn main() {}
