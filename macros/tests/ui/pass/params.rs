use std::time::Duration;
use wva_api::ConfigParams;
use wva_api::params::{BindAddress, Params, Sources};

/// Settings of a test struct.
#[derive(ConfigParams, Debug)]
#[params(mutable)]
struct Demo {
    /// How often to run.
    #[param(flag, default = "60s", min = "1s")]
    interval: Duration,
    /// Where to listen.
    #[param(flag = "listen", default = ":8080")]
    listen_address: BindAddress,
    /// Verbosity.
    #[param(short = 'v', default = "2")]
    v: u8,
    /// A URL nobody can guess.
    #[param(required)]
    base_url: String,
    /// An optional token.
    #[param(secret)]
    token: Option<String>,
    /// Whether to do it.
    #[param(default = "false", pending = "the thing")]
    enable_thing: bool,
}

fn main() {
    assert_eq!(Demo::SPECS.len(), 6);
    assert_eq!(Demo::SPECS[0].key, "INTERVAL");
    assert_eq!(Demo::SPECS[0].flag, Some("interval"));
    assert_eq!(Demo::SPECS[1].flag, Some("listen"));
    assert_eq!(Demo::SPECS[2].short, Some('v'));
    assert!(Demo::SPECS.iter().all(|s| s.mutable));
    assert!(Demo::SPECS[4].secret);
    let mut sources = Sources::default();
    sources.env.insert("BASE_URL".into(), "https://p".into());
    let demo = Demo::resolve(&sources).unwrap();
    assert_eq!(demo.interval, Duration::from_secs(60));
    assert_eq!(demo.base_url, "https://p");
    assert_eq!(demo.token, None);
    assert!(!demo.enable_thing && demo.v == 2 && demo.listen_address.socket_addr().is_some());
}
