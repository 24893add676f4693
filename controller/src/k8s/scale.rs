//! The one write WVA makes to a workload: starting a Deployment from zero
//! (`SCALE_FROM_ZERO_ACTUATION=scale`).

use crate::keys::{self, DeploymentRef};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

/// What a start from zero did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `spec.replicas` went from 0 to 1.
    Patched,
    /// `spec.replicas` was no longer 0 (something else scaled it first): nothing changed.
    NotAtZero,
}

/// Sets `spec.replicas` of `deployment` from 0 to 1 through its scale subresource: it reads
/// the scale, and only when it says 0 sends a merge patch of `spec.replicas: 1` carrying the
/// resourceVersion it read, so the API server rejects it if anything scaled the Deployment in
/// between. It never changes anything else, never sets more than 1 and never undoes a
/// scale-up made meanwhile. (A JSON patch `test` of `/spec/replicas` cannot do this: a Scale
/// at 0 omits the field.)
pub async fn start_from_zero(
    client: &Client,
    deployment: &DeploymentRef,
) -> Result<Start, kube::Error> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), keys::namespace(deployment));
    let scale = api.get_scale(&deployment.name).await?;
    if scale.spec.and_then(|s| s.replicas).unwrap_or(0) != 0 {
        return Ok(Start::NotAtZero);
    }
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": scale.metadata.resource_version},
        "spec": {"replicas": 1},
    });
    let params = PatchParams {
        field_manager: Some(super::status::FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    match api
        .patch_scale(&deployment.name, &params, &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(Start::Patched),
        // The resourceVersion moved: something else scaled it first.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Start::NotAtZero),
        Err(error) => Err(error),
    }
}
