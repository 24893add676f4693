/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Verbosity.
    #[param(short = '1', default = "2")]
    verbosity: u8,
}

fn main() {}
