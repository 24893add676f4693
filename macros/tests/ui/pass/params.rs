use std::time::Duration;
use wva_api::ConfigParams;
use wva_api::params::{BindAddress, Key, Params, Sources};

/// Settings of a test struct.
#[derive(ConfigParams, Debug)]
#[params(mutable)]
struct Demo {
    /// How often to run.
    ///
    /// Each run reads every source again.
    /// It never overlaps the previous run.
    ///
    /// A second paragraph of long help.
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
    assert_eq!(Demo::SPECS[0].summary, "How often to run.");
    assert_eq!(
        Demo::SPECS[0].details,
        "Each run reads every source again. It never overlaps the previous run.\n\nA second paragraph of long help."
    );
    assert_eq!(Demo::SPECS[1].details, "");
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
    // One typed key per field, named like its env var / ConfigMap key.
    let interval: Key<Duration> = Demo::INTERVAL;
    assert_eq!(interval.name(), "INTERVAL");
    assert_eq!(Demo::LISTEN_ADDRESS.spec().flag, Some("listen"));
    let token: Key<Option<String>> = Demo::TOKEN;
    assert_eq!(token.resolve(&sources), Ok(None));
    assert_eq!(Demo::V.resolve(&sources), Ok(2));
}
