//! The one write WVA makes to a workload: starting a scale target (Deployment, StatefulSet or
//! LeaderWorkerSet) from zero (`SCALE_FROM_ZERO_ACTUATION=scale`).

use crate::target::{LeaderWorkerSet, ScaleTargetKind, TargetRef};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

/// What a start from zero did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `spec.replicas` went from 0 to 1.
    Patched,
    /// `spec.replicas` was no longer 0 (something else scaled it first): nothing changed.
    NotAtZero,
}

/// Starts `target` from zero ([`start_from_zero`]) and logs what happened; a failure is logged
/// with the permission to grant (the decision is published anyway).
pub async fn start_logged(client: &Client, target: &TargetRef) {
    let kind = target.kind;
    let resource = match kind {
        ScaleTargetKind::Deployment => "deployments/scale",
        ScaleTargetKind::StatefulSet => "statefulsets/scale",
        ScaleTargetKind::LeaderWorkerSet => "leaderworkersets/scale",
    };
    match start_from_zero(client, target).await {
        Ok(Start::Patched) => {
            tracing::info!(workload = %target, kind = %kind, "Scaled {kind} from 0 to 1 replica (SCALE_FROM_ZERO_ACTUATION=scale)");
        }
        Ok(Start::NotAtZero) => {
            tracing::info!(workload = %target, kind = %kind, "{kind} no longer at 0 replicas; left as it is");
        }
        Err(error) => {
            tracing::warn!(workload = %target, kind = %kind, error = %error, "Could not patch the scale subresource from 0 to 1; the decision is still published. Grant patch on {resource} (the chart does with SCALE_FROM_ZERO_ACTUATION=scale)");
        }
    }
}

/// Sets `spec.replicas` of `target` from 0 to 1 through its scale subresource (an LWS counts
/// groups: one group): it reads the scale, and only when it says 0 sends a merge patch of
/// `spec.replicas: 1` carrying the resourceVersion it read, so the API server rejects it if
/// anything scaled the target in between. It never changes anything else, never sets more
/// than 1 and never undoes a scale-up made meanwhile. (A JSON patch `test` of
/// `/spec/replicas` cannot do this: a Scale at 0 omits the field.)
pub async fn start_from_zero(client: &Client, target: &TargetRef) -> Result<Start, kube::Error> {
    match target.kind {
        ScaleTargetKind::Deployment => start::<Deployment>(client, target).await,
        ScaleTargetKind::StatefulSet => start::<StatefulSet>(client, target).await,
        ScaleTargetKind::LeaderWorkerSet => start::<LeaderWorkerSet>(client, target).await,
    }
}

async fn start<K>(client: &Client, target: &TargetRef) -> Result<Start, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), &target.namespace);
    let scale = api.get_scale(&target.name).await?;
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
        .patch_scale(&target.name, &params, &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(Start::Patched),
        // The resourceVersion moved: something else scaled it first.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Start::NotAtZero),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each kind's scale subresource is patched from 0 to 1, and only from 0.
    #[tokio::test]
    async fn every_kind_starts_from_zero_through_its_own_scale_subresource() {
        let double = wva_kube_double::KubeDouble::start().await;
        double
            .create(crate::k8s::optional::tests::lws_crd())
            .expect("CRD");
        let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "vllm"}]}});
        for (api_version, kind, plural, spec) in [
            (
                "apps/v1",
                "Deployment",
                "deployments",
                json!({"replicas": 0, "selector": {"matchLabels": {"app": "x"}}, "template": template}),
            ),
            (
                "apps/v1",
                "StatefulSet",
                "statefulsets",
                json!({"replicas": 0, "serviceName": "x", "selector": {"matchLabels": {"app": "x"}}, "template": template}),
            ),
            (
                "leaderworkerset.x-k8s.io/v1",
                "LeaderWorkerSet",
                "leaderworkersets",
                json!({"replicas": 0, "leaderWorkerTemplate": {"size": 2, "workerTemplate": template}}),
            ),
        ] {
            double
                .create(json!({"apiVersion": api_version, "kind": kind,
                    "metadata": {"name": "x", "namespace": "default"}, "spec": spec}))
                .expect("target");
            let target = TargetRef {
                kind: ScaleTargetKind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == kind)
                    .expect("a kind"),
                namespace: "default".into(),
                name: "x".into(),
            };
            let started = start_from_zero(&double.client(), &target).await;
            assert_eq!(started.expect("patched"), Start::Patched, "{kind}");
            let object = double.object(plural, "default", "x").expect("stored");
            assert_eq!(object["spec"]["replicas"], 1, "{kind}");
            let again = start_from_zero(&double.client(), &target).await;
            assert_eq!(again.expect("read"), Start::NotAtZero, "{kind}");
        }
    }
}
