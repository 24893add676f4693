//! Failure responses: Status objects for 404, 409, 415, 422; deletion semantics.

use crate::common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use wva_kube_double::KubeDouble;

fn cm(name: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c
}

#[tokio::test]
async fn not_found_and_already_exists_are_status_objects() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    match cms.get("missing").await.unwrap_err() {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
            assert_eq!(s.message, "configmaps \"missing\" not found");
            assert_eq!(s.details.unwrap().name, "missing");
        }
        other => panic!("{other:?}"),
    }
    cms.create(&PostParams::default(), &cm("a")).await.unwrap();
    let err = cms
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    assert_eq!(code(&err), (409, "AlreadyExists".into()));

    let (status, body) = raw(
        &api,
        "GET",
        "/api/v1/namespaces/default/configmaps/missing",
        "",
        "",
    )
    .await;
    assert_eq!(status, 404);
    let s = json(&body);
    assert_eq!(
        (
            s["kind"].as_str(),
            s["apiVersion"].as_str(),
            s["status"].as_str(),
            s["code"].as_i64()
        ),
        (Some("Status"), Some("v1"), Some("Failure"), Some(404))
    );
    let (status, body) = raw(&api, "GET", "/apis/nope.io/v1/things", "", "").await;
    assert_eq!(
        (status, json(&body)["reason"].as_str()),
        (404, Some("NotFound"))
    );

    // Creating in a namespace that does not exist.
    let elsewhere: Api<ConfigMap> = Api::namespaced(client(&api), "nope");
    let err = elsewhere
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, 404);
    // Unknown patch content type, and apply without a field manager.
    let (status, _) = raw(
        &api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(status, 415);
    let (status, body) = raw(
        &api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        "application/apply-patch+yaml",
        "{}",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    // YAML apply bodies are accepted.
    let (status, body) = raw(
        &api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a?fieldManager=yaml",
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  from: yaml\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["from"], "yaml");
}

#[tokio::test]
async fn stale_updates_conflict_and_immutable_config_maps_reject_changes() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    let first = cms.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut next = first.clone();
    next.data = Some([("k".to_string(), "1".to_string())].into());
    let second = cms
        .replace("a", &PostParams::default(), &next)
        .await
        .unwrap();
    assert_ne!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    match cms
        .replace("a", &PostParams::default(), &next)
        .await
        .unwrap_err()
    {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("the object has been modified"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    // A patch carrying a stale resourceVersion is a precondition failure too.
    let err = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": first.metadata.resource_version}, "data": {"k": "2"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, 409);
    // Without a resourceVersion, an update is unconditional.
    let mut blind = next.clone();
    blind.metadata.resource_version = None;
    blind.data = Some([("k".to_string(), "3".to_string())].into());
    assert_eq!(
        cms.replace("a", &PostParams::default(), &blind)
            .await
            .unwrap()
            .data
            .unwrap()["k"],
        "3"
    );

    let mut frozen = cm("frozen");
    frozen.immutable = Some(true);
    frozen.data = Some([("k".to_string(), "v".to_string())].into());
    cms.create(&PostParams::default(), &frozen).await.unwrap();
    let err = cms
        .patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, 422);
    let labelled = cms
        .patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.labels.unwrap()["a"], "b");
}

#[tokio::test]
async fn deletion_returns_the_object_honours_finalizers_and_empties_namespaces() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &cm("a")).await.unwrap();
    let deleted = cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(
        deleted.left().and_then(|c| c.metadata.name).as_deref(),
        Some("a")
    );
    assert_eq!(
        code(&cms.delete("a", &DeleteParams::default()).await.unwrap_err()).0,
        404
    );

    let mut held = cm("held");
    held.metadata.finalizers = Some(vec!["test/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let terminating = cms.get("held").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(
        code(&cms.get("held").await.unwrap_err()).0,
        404,
        "gone once the finalizer is removed"
    );

    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("scratch".into());
    let made = nss.create(&PostParams::default(), &ns).await.unwrap();
    assert_eq!(made.status.unwrap().phase.as_deref(), Some("Active"));
    let scratch: Api<ConfigMap> = Api::namespaced(client.clone(), "scratch");
    scratch
        .create(&PostParams::default(), &cm("x"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("kept"))
        .await
        .unwrap();
    nss.delete("scratch", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(code(&nss.get("scratch").await.unwrap_err()).0, 404);
    let all: Api<ConfigMap> = Api::all(client.clone());
    let left: Vec<String> = all
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["kept"]);

    // deletecollection with a label selector.
    for (n, l) in [("l1", "x"), ("l2", "x"), ("l3", "y")] {
        let mut c = cm(n);
        c.metadata.labels = Some([("group".to_string(), l.to_string())].into());
        cms.create(&PostParams::default(), &c).await.unwrap();
    }
    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("group=x"),
    )
    .await
    .unwrap();
    let mut left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    left.sort();
    assert_eq!(left, ["kept", "l3"]);
}
