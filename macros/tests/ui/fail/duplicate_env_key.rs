/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// Retries.
    #[param(default = "1")]
    max_retries: u32,
    /// Retries again, under a name with the same UPPER_SNAKE form.
    #[allow(non_snake_case)]
    #[param(default = "2")]
    MAX_RETRIES: u32,
}

fn main() {}
