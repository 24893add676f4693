/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings {
    /// The first address.
    #[param(flag = "address", default = "a")]
    first_address: String,
    /// The second address.
    #[param(flag = "address", default = "b")]
    second_address: String,
}

fn main() {}
