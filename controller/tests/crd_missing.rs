//! A controller started before its CRD: one clear error with the fix, readiness false with the
//! same reason, and the watches start once the CRD is installed.

use kube::CustomResourceExt;
use kube::api::Api;
use std::time::Duration;
use tokio::sync::watch;
use wva_api::crd::VariantAutoscaling;
use wva_controller::k8s::crd::{CRD_MISSING, wait_until_installed};
use wva_kube_double::KubeDouble;

#[tokio::test]
async fn a_missing_crd_keeps_readiness_false_until_it_is_installed() {
    let api = KubeDouble::start().await;
    let vas: Api<VariantAutoscaling> = Api::all(api.client());
    let (ready_tx, mut ready) = watch::channel(Err("caches are not synced yet".to_string()));
    let waiting = tokio::spawn(async move { wait_until_installed(&vas, &ready_tx).await });
    ready.changed().await.expect("readiness changes");
    assert_eq!(*ready.borrow_and_update(), Err(CRD_MISSING.to_string()));
    assert!(CRD_MISSING.contains("wva crd | kubectl apply -f -"));
    assert!(!waiting.is_finished(), "startup waits for the CRD");
    let crd = serde_json::to_value(VariantAutoscaling::crd()).expect("CRD as JSON");
    api.create(crd).expect("CRD");
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the wait ends once the CRD exists")
        .expect("no panic");
    assert_eq!(
        *ready.borrow(),
        Err("caches are not synced yet".to_string()),
        "readiness waits for the caches next"
    );
}
