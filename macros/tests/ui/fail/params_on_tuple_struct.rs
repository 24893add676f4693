/// Settings.
#[derive(wva_api::ConfigParams)]
struct Settings(u32);

fn main() {}
