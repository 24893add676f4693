//! CRD registration, discovery, and the custom resource's verbs, patches and status subresource.

use crate::common::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use serde_json::json;
use wva_kube_double::KubeDouble;

#[tokio::test]
async fn crd_registration_makes_the_kind_served_and_discoverable() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    let vas: Api<VariantAutoscaling> = Api::default_namespaced(client.clone());
    let err = vas.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(code(&err).0, 404, "not served before the CRD exists");

    let crd = register_va_crd(&client).await;
    let conditions = crd.status.expect("status").conditions.expect("conditions");
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True"),
        "{conditions:?}"
    );
    assert_eq!(
        vas.list(&ListParams::default()).await.unwrap().items.len(),
        0
    );

    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "llmd.ai",
            "v1alpha1",
            "VariantAutoscaling",
        ))
        .expect("VariantAutoscaling discovered");
    assert_eq!(ar.plural, "variantautoscalings");
    assert_eq!(caps.scope, Scope::Namespaced);
    let (lease, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"))
        .expect("Lease discovered");
    assert_eq!(lease.plural, "leases");
    assert!(caps.supports_operation("watch"));
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
            .is_some()
    );

    let list = client
        .list_api_group_resources("llmd.ai/v1alpha1")
        .await
        .expect("resource list");
    let names: Vec<&str> = list.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["variantautoscalings", "variantautoscalings/status"]);
    assert_eq!(
        list.resources[0].short_names.as_deref(),
        Some(&["va".to_string()][..])
    );
    assert!(list.resources[0].verbs.contains(&"patch".to_string()));
    let core = client
        .list_core_api_resources("v1")
        .await
        .expect("core list");
    assert!(
        core.resources
            .iter()
            .any(|r| r.name == "namespaces" && !r.namespaced)
    );
    assert!(
        core.resources
            .iter()
            .any(|r| r.name == "configmaps" && r.namespaced)
    );
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );

    // Deleting the CRD stops serving the kind and removes its objects.
    vas.create(&PostParams::default(), &va("a", "d"))
        .await
        .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("variantautoscalings.llmd.ai", &Default::default())
        .await
        .unwrap();
    assert_eq!(code(&vas.get("a").await.unwrap_err()).0, 404);
    assert!(api.objects("variantautoscalings.llmd.ai").is_empty());
}

#[tokio::test]
async fn custom_resource_create_get_list_and_every_patch_type() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    register_va_crd(&client).await;
    let vas: Api<VariantAutoscaling> = Api::default_namespaced(client.clone());

    let created = vas
        .create(&PostParams::default(), &va("va-a", "dep-a"))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();
    // Schema defaults are applied.
    assert_eq!(created.spec.variant_cost.as_deref(), Some("10.0"));
    assert_eq!(
        created.spec.scale_target_ref.api_version.as_deref(),
        Some("apps/v1")
    );
    let fetched = vas.get("va-a").await.unwrap();
    assert_eq!(
        (&fetched.metadata, &fetched.spec),
        (&created.metadata, &created.spec)
    );

    let mut gen_named = va("", "dep-b");
    gen_named.metadata.name = None;
    gen_named.metadata.generate_name = Some("va-gen-".into());
    let g = vas
        .create(&PostParams::default(), &gen_named)
        .await
        .unwrap();
    let gname = g.metadata.name.clone().unwrap();
    assert!(
        gname.starts_with("va-gen-") && gname.len() == "va-gen-".len() + 5,
        "{gname}"
    );

    // Merge patch of the spec bumps generation and resourceVersion.
    let p = vas
        .patch(
            "va-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"variantCost": "5.0"}})),
        )
        .await
        .unwrap();
    assert_eq!(p.spec.variant_cost.as_deref(), Some("5.0"));
    assert_eq!(p.metadata.generation, Some(2));
    let rv2: u64 = p
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);

    // JSON patch.
    let p = vas
        .patch(
            "va-a",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([
                    {"op": "test", "path": "/spec/variantCost", "value": "5.0"},
                    {"op": "replace", "path": "/spec/modelID", "value": "other/model"}
                ]))
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.spec.model_id, "other/model");
    assert_eq!(p.metadata.generation, Some(3));
    let failed = vas
        .patch(
            "va-a",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    json!([{"op": "test", "path": "/spec/variantCost", "value": "9"}]),
                )
                .unwrap(),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&failed).0, 422);

    // Server-side apply of the spec.
    let applied = vas
        .patch(
            "va-a",
            &PatchParams::apply("test-suite").force(),
            &Patch::Apply(json!({
                "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
                "metadata": {"name": "va-a", "labels": {"team": "x"}},
                "spec": {"variantCost": "7.5"}
            })),
        )
        .await
        .unwrap();
    assert_eq!(applied.spec.variant_cost.as_deref(), Some("7.5"));
    assert_eq!(
        applied.spec.model_id, "other/model",
        "apply merges, it does not replace"
    );
    assert_eq!(applied.metadata.generation, Some(4));
    assert_eq!(applied.metadata.labels.as_ref().unwrap()["team"], "x");

    // A patch that changes nothing is a no-op: same resourceVersion, same generation.
    let same = vas
        .patch(
            "va-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"variantCost": "7.5"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        applied.metadata.resource_version
    );
    // A metadata-only change moves the resourceVersion but not the generation.
    let labelled = vas
        .patch(
            "va-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": "ci"}}})),
        )
        .await
        .unwrap();
    assert_ne!(
        labelled.metadata.resource_version,
        applied.metadata.resource_version
    );
    assert_eq!(labelled.metadata.generation, Some(4));

    // Writes to the main resource ignore .status.
    let p = vas
        .patch(
            "va-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(p.status, None);

    let all = vas.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    assert!(all.metadata.resource_version.is_some());
    let env = vas
        .list(&ListParams::default().labels("env=ci"))
        .await
        .unwrap();
    assert_eq!(env.items.len(), 1);
    assert_eq!(env.items[0].metadata.name.as_deref(), Some("va-a"));
    // Direct store access sees the same objects.
    assert_eq!(api.objects("variantautoscalings.llmd.ai").len(), 2);
    assert_eq!(
        api.object("VariantAutoscaling", "default", "va-a").unwrap()["spec"]["variantCost"],
        "7.5"
    );
}

#[tokio::test]
async fn status_subresource_server_side_apply_merges_conditions_and_drops_unapplied_fields() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    register_va_crd(&client).await;
    let vas: Api<VariantAutoscaling> = Api::default_namespaced(client.clone());
    let created = vas
        .create(&PostParams::default(), &va("va-s", "dep"))
        .await
        .unwrap();

    let wva = PatchParams::apply("wva-controller").force();
    let status = |conds: serde_json::Value, alloc: serde_json::Value| {
        Patch::Apply(json!({
            "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
            "metadata": {"name": "va-s"},
            "status": {"observedGeneration": 1, "conditions": conds, "desiredOptimizedAlloc": alloc}
        }))
    };
    let cond = |t: &str, s: &str| json!({"type": t, "status": s, "reason": "R", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"});
    let first = vas
        .patch_status(
            "va-s",
            &wva,
            &status(
                json!([cond("Ready", "True"), cond("MetricsAvailable", "True")]),
                json!({"numReplicas": 2, "accelerator": "A100"}),
            ),
        )
        .await
        .unwrap();
    let st = first.status.clone().unwrap();
    assert_eq!(st.conditions.len(), 2);
    assert_eq!(
        st.desired_optimized_alloc,
        Some(json!({"numReplicas": 2, "accelerator": "A100"}))
    );
    assert_eq!(
        first.metadata.generation,
        Some(1),
        "status writes leave the generation alone"
    );
    assert_eq!(first.spec, created.spec);

    // Another writer's condition (merge patch on /status) survives the controller's next apply.
    vas.patch_status(
        "va-s",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [cond("Ready", "True"), cond("MetricsAvailable", "True"), cond("External", "True")]}})),
    )
    .await
    .unwrap();

    // The controller applies again without MetricsAvailable and with an empty decision.
    let second = vas
        .patch_status(
            "va-s",
            &wva,
            &status(json!([cond("Ready", "False")]), json!({})),
        )
        .await
        .unwrap();
    let st = second.status.unwrap();
    let types: Vec<(&str, &str)> = st
        .conditions
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(types, [("Ready", "False"), ("External", "True")]);
    assert_eq!(
        st.desired_optimized_alloc,
        Some(json!({})),
        "fields no longer applied are removed"
    );

    // A different manager changing an owned field conflicts unless forced.
    let intruder = Patch::Apply(json!({
        "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
        "metadata": {"name": "va-s"}, "status": {"observedGeneration": 7}
    }));
    let err = vas
        .patch_status("va-s", &PatchParams::apply("intruder"), &intruder)
        .await
        .unwrap_err();
    assert_eq!(code(&err), (409, "Conflict".into()));
    let forced = vas
        .patch_status("va-s", &PatchParams::apply("intruder").force(), &intruder)
        .await
        .unwrap();
    assert_eq!(forced.status.unwrap().observed_generation, Some(7));

    // replace_status changes only .status, whatever else the body says.
    let mut body = vas.get("va-s").await.unwrap();
    body.spec.model_id = "ignored".into();
    body.status.as_mut().unwrap().observed_generation = Some(8);
    let replaced = vas
        .replace_status("va-s", &PostParams::default(), &body)
        .await
        .unwrap();
    assert_eq!(replaced.spec.model_id, "meta/llama-3.1-8b");
    assert_eq!(replaced.status.unwrap().observed_generation, Some(8));

    // Apply to the status of a missing object is 404; apply to a missing object creates it.
    let missing = Patch::Apply(json!({
        "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
        "metadata": {"name": "nope"}, "status": {"observedGeneration": 1}
    }));
    let err = vas.patch_status("nope", &wva, &missing).await.unwrap_err();
    assert_eq!(code(&err).0, 404);
    let made = vas
        .patch(
            "va-new",
            &PatchParams::apply("wva-controller"),
            &Patch::Apply(json!({
                "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
                "metadata": {"name": "va-new"},
                "spec": {"modelID": "m", "scaleTargetRef": {"kind": "Deployment", "name": "d"}}
            })),
        )
        .await
        .unwrap();
    assert_eq!(made.metadata.generation, Some(1));
    assert_eq!(made.spec.variant_cost.as_deref(), Some("10.0"));
}

#[tokio::test]
async fn custom_resources_are_pruned_defaulted_and_checked_for_required_fields() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    register_va_crd(&client).await;
    let (status, body) = raw(
        &api,
        "POST",
        "/apis/llmd.ai/v1alpha1/namespaces/default/variantautoscalings",
        "application/json",
        r#"{"apiVersion":"llmd.ai/v1alpha1","kind":"VariantAutoscaling","metadata":{"name":"p"},
            "spec":{"modelID":"m","scaleTargetRef":{"kind":"Deployment","name":"d"},"unknownField":1},
            "extra":true}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let stored = json(&body);
    assert!(
        stored["spec"].get("unknownField").is_none(),
        "unknown fields are pruned"
    );
    assert!(stored.get("extra").is_none());
    assert_eq!(stored["spec"]["variantCost"], "10.0");

    let (status, body) = raw(
        &api,
        "POST",
        "/apis/llmd.ai/v1alpha1/namespaces/default/variantautoscalings",
        "application/json",
        r#"{"apiVersion":"llmd.ai/v1alpha1","kind":"VariantAutoscaling","metadata":{"name":"q"},
            "spec":{"scaleTargetRef":{"kind":"Deployment"}}}"#,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let s = json(&body);
    assert_eq!(s["reason"], "Invalid");
    let msg = s["message"].as_str().unwrap();
    assert!(msg.contains("spec.modelID: Required value"), "{msg}");
    assert!(
        msg.contains("spec.scaleTargetRef.name: Required value"),
        "{msg}"
    );

    // A status condition without its required fields is rejected too.
    let vas: Api<VariantAutoscaling> = Api::default_namespaced(client);
    let err = vas
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready"}]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, 422);
}
