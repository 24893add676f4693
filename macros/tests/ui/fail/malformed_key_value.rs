/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// How many workers: the default must be a string literal, and no "missing key" follows.
    #[param(default = 1)]
    workers: u32,
}

fn main() {}
