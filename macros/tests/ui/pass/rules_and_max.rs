use std::time::Duration;
use wva_api::ConfigParams;
use wva_api::params::{Params, Sources, Violation};

/// Settings with a range and a rule between two fields.
#[derive(ConfigParams, Debug)]
#[params(rules = Self::rules)]
struct Demo {
    /// How long a lease lasts.
    #[param(default = "60s", min = "1s", max = "1h")]
    lease: Duration,
    /// When to renew it.
    #[param(default = "50s", min = "1s", max = "1h")]
    renew: Duration,
}

impl Demo {
    fn rules(&self) -> Vec<Violation> {
        if self.renew < self.lease {
            return Vec::new();
        }
        vec![Self::RENEW.violation(&self.renew, "must be below LEASE")]
    }
}

fn main() {
    assert_eq!(Demo::SPECS[0].max, Some("1h"));
    assert_eq!(Demo::SPECS[0].range_display(), "1s to 1h");
    let mut sources = Sources::default();
    assert!(Demo::resolve(&sources).is_ok());
    sources.env.insert("LEASE".into(), "2h".into());
    let error = Demo::resolve(&sources).unwrap_err();
    assert_eq!(
        error.errors[0].message,
        "invalid value \"2h\" for LEASE from env var LEASE: must be at most 1h; fix the value or remove it to use the default (60s)"
    );
    sources.env.insert("LEASE".into(), "30s".into());
    let error = Demo::resolve(&sources).unwrap_err();
    assert_eq!(
        error.errors[0].message,
        "invalid value \"50s\" for RENEW from the built-in default: must be below LEASE"
    );
}
