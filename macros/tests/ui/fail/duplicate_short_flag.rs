/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Verbosity.
    #[param(short = 'v', default = "2")]
    verbosity: u8,
    /// Version check.
    #[param(short = 'v', default = "false")]
    version_check: bool,
}

fn main() {}
