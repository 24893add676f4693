//! Waiting for the VariantAutoscaling CRD: without it every watch of VAs fails with NotFound,
//! so startup says once what is missing and how to install it, keeps readiness false, and
//! checks again with a growing delay until it appears.

use kube::Api;
use kube::api::ListParams;
use std::time::Duration;
use tokio::sync::watch;
use wva_api::crd::VariantAutoscaling;

/// What is wrong and the fix, for the log and the readiness probe.
pub const CRD_MISSING: &str = "the VariantAutoscaling CRD (variantautoscalings.llmd.ai) is not installed: install it with `wva crd | kubectl apply -f -` (the Helm chart installs it too); waiting for it";

/// The first and the longest delay between two checks.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);

/// The delay after `previous`: doubled, at most [`MAX_DELAY`].
pub fn next_delay(previous: Duration) -> Duration {
    (previous * 2).min(MAX_DELAY)
}

/// Returns once VAs can be listed through `api`. While the CRD is missing, logs
/// [`CRD_MISSING`] once, sets `ready` to it, and checks again after 1s, 2s, 4s ... up to 60s.
/// Other errors are left to the watches, which log and retry them.
pub async fn wait_until_installed(
    api: &Api<VariantAutoscaling>,
    ready: &watch::Sender<Result<(), String>>,
) {
    let mut delay = FIRST_DELAY;
    let mut missing = false;
    loop {
        match api.list_metadata(&ListParams::default().limit(1)).await {
            Err(kube::Error::Api(status)) if status.code == 404 => {
                if !missing {
                    tracing::error!("{CRD_MISSING}");
                    let previous = ready.send_replace(Err(CRD_MISSING.to_string()));
                    drop(previous);
                    missing = true;
                } else {
                    tracing::debug!(retry_in = ?delay, "VariantAutoscaling CRD still missing");
                }
                tokio::time::sleep(delay).await;
                delay = next_delay(delay);
            }
            _ => {
                if missing {
                    tracing::info!("VariantAutoscaling CRD installed; starting the watches");
                    drop(ready.send_replace(Err("caches are not synced yet".to_string())));
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_a_minute() {
        let mut delay = FIRST_DELAY;
        let mut seen = Vec::new();
        for _ in 0..8 {
            seen.push(delay.as_secs());
            delay = next_delay(delay);
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
