//! Kubeconfig, request counting, direct store helpers, the scale subresource, shutdown.

use crate::common::*;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use wva_kube_double::KubeDouble;

#[tokio::test]
async fn the_kubeconfig_file_reaches_the_double() {
    let api = KubeDouble::start().await;
    let path = std::env::temp_dir().join(format!(
        "kube-double-{}-{}.yaml",
        std::process::id(),
        api.addr().port()
    ));
    api.write_kubeconfig(&path).unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(config.default_namespace, "default");
    let client = kube::Client::try_from(config).unwrap();
    let nss: Api<Namespace> = Api::all(client);
    let mut names: Vec<String> = nss
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let by_hand: Api<Namespace> = Api::all(manual_client(&api));
    assert!(by_hand.get("default").await.is_ok());
}

#[tokio::test]
async fn requests_are_counted_by_verb_and_resource() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for n in ["a", "b", "c"] {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(n.into());
        cms.create(&PostParams::default(), &c).await.unwrap();
    }
    cms.list(&ListParams::default()).await.unwrap();
    cms.get("a").await.unwrap();
    let before = api.request_counts();
    assert_eq!(before.get("create", "configmaps"), 3);
    assert_eq!(before.get("list", "configmaps"), 1);
    assert_eq!(before.get("get", "configmaps"), 1);
    assert_eq!(before.writes(), 3);
    // A watch-driven consumer makes one list and one watch however many objects change.
    let mut events = watcher(cms.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    for _ in 0..3 {
        events.next().await.unwrap().unwrap();
    }
    for n in ["a", "b", "c"] {
        cms.patch(
            n,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": n}})),
        )
        .await
        .unwrap();
        events.next().await.unwrap().unwrap();
    }
    let delta = api.request_counts().since(&before);
    assert_eq!(delta.get("list", "configmaps"), 1);
    assert_eq!(delta.get("watch", "configmaps"), 1);
    assert_eq!(delta.get("patch", "configmaps"), 3);
    assert_eq!(delta.total(), 5, "{delta:?}");
    client.apiserver_version().await.unwrap();
    assert_eq!(api.request_count("get", "/version"), 1);
    api.reset_request_counts();
    assert_eq!(api.request_counts().total(), 0);
}

#[tokio::test]
async fn store_helpers_and_the_scale_subresource() {
    let api = KubeDouble::start().await;
    let deps: Api<Deployment> = Api::default_namespaced(client(&api));
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "vllm", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "vllm"}},
                 "template": {"metadata": {"labels": {"app": "vllm"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"readyReplicas": 99}
    }))
    .unwrap();
    let created = deps.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(created.status, None, "status is not settable on create");
    let with_status = api.set_deployment_status("default", "vllm", 2).unwrap();
    assert_eq!(with_status["status"]["readyReplicas"], 2);
    assert_eq!(
        deps.get("vllm")
            .await
            .unwrap()
            .status
            .unwrap()
            .available_replicas,
        Some(2)
    );

    let scale = deps.get_scale("vllm").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=vllm"));
    deps.patch_scale(
        "vllm",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    let after = deps.get("vllm").await.unwrap();
    assert_eq!(after.spec.unwrap().replicas, Some(5));
    assert_eq!(after.metadata.generation, Some(2));

    let cm = api
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "direct", "namespace": "default"}}))
        .unwrap();
    assert!(cm["metadata"]["uid"].is_string());
    assert_eq!(api.objects("configmaps").len(), 1);
    api.delete("configmaps", "default", "direct").unwrap();
    assert!(api.object("configmaps", "default", "direct").is_none());
}

#[tokio::test]
async fn dropping_the_double_stops_the_server() {
    let api = KubeDouble::start().await;
    let addr = api.addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(api);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn events_are_one_store_seen_through_core_v1_and_events_k8s_io_v1() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event as NewEvent;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let api = KubeDouble::start().await;
    let client = client(&api);
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut c = ConfigMap::default();
    c.metadata.name = Some("wva-config".into());
    let c = cms.create(&PostParams::default(), &c).await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "wva".into(),
            instance: Some("wva-0".into()),
        },
    );
    let reference = kube::Resource::object_ref(&c, &());
    let event = Event {
        type_: EventType::Warning,
        reason: "ImmutableConfigChangeRejected".into(),
        note: Some("PROMETHEUS_BASE_URL cannot change at runtime".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();

    let new_api: Api<NewEvent> = Api::default_namespaced(client.clone());
    let new = new_api
        .list(&ListParams::default().fields("regarding.name=wva-config"))
        .await
        .unwrap();
    assert_eq!(
        new.items.len(),
        1,
        "the repeat is a series on the same event"
    );
    assert_eq!(
        new.items[0].reason.as_deref(),
        Some("ImmutableConfigChangeRejected")
    );
    assert_eq!(new.items[0].series.as_ref().map(|s| s.count), Some(2));

    let core_api: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let core = core_api
        .list(&ListParams::default().fields("involvedObject.name=wva-config,type=Warning"))
        .await
        .unwrap();
    assert_eq!(core.items.len(), 1);
    assert_eq!(
        core.items[0].involved_object.kind.as_deref(),
        Some("ConfigMap")
    );
    assert_eq!(
        core.items[0].message.as_deref(),
        Some("PROMETHEUS_BASE_URL cannot change at runtime")
    );
    assert_eq!(core.items[0].reporting_component.as_deref(), Some("wva"));
    assert!(
        core_api
            .list(&ListParams::default().fields("involvedObject.name=other"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(api.objects("events").len(), 1);
    assert_eq!(api.objects("events.events.k8s.io").len(), 1);
}

#[tokio::test]
async fn create_strategies_and_delete_preconditions() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{DeleteParams, Preconditions};
    let api = KubeDouble::start().await;
    let client = client(&api);
    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("team-a".into());
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let labelled = nss
        .list(&ListParams::default().labels("kubernetes.io/metadata.name=team-a"))
        .await
        .unwrap();
    assert_eq!(labelled.items.len(), 1);

    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"}
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

    let deps: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}}}
    }))
    .unwrap();
    let d = deps.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(1), "replicas defaults to 1");

    let stale = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some("1".into()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let err = deps.delete("d", &stale).await.unwrap_err();
    assert_eq!(code(&err).0, 409);
    let exact = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: d.metadata.resource_version.clone(),
            uid: d.metadata.uid.clone(),
        }),
        ..DeleteParams::default()
    };
    deps.delete("d", &exact).await.unwrap();
    assert!(api.object("deployments", "team-a", "d").is_none());
}

#[test]
fn starts_and_serves_without_an_async_runtime() {
    use std::io::{Read, Write};
    let api = KubeDouble::start_with(wva_kube_double::Options::default());
    let mut s = std::net::TcpStream::connect(api.addr()).unwrap();
    s.write_all(b"GET /api/v1/namespaces?labelSelector=a%20b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("unable to parse requirement: 'a b'"), "{out}");
    assert_eq!(api.request_count("list", "namespaces"), 1);
}
