//! Watch semantics: kube-runtime watchers and reflectors, resumption, 410, selectors, bookmarks.

use crate::common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use wva_kube_double::{KubeDouble, Options};

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    if !labels.is_empty() {
        c.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }
    c.data = Some(BTreeMap::from([("k".to_string(), "v".to_string())]));
    c
}

async fn next<S, T>(s: &mut S) -> T
where
    S: futures::Stream<Item = T> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("an event within 10s")
        .expect("stream still open")
}

fn name_of(c: &ConfigMap) -> &str {
    c.metadata.name.as_deref().unwrap_or("")
}

#[tokio::test]
async fn default_watcher_sees_added_modified_deleted() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    cms.create(&PostParams::default(), &cm("pre", &[]))
        .await
        .unwrap();

    let mut events = watcher(cms.clone(), watcher::Config::default()).boxed();
    assert!(matches!(
        next(&mut events).await.unwrap(),
        watcher::Event::Init
    ));
    match next(&mut events).await.unwrap() {
        watcher::Event::InitApply(c) => assert_eq!(name_of(&c), "pre"),
        other => panic!("expected InitApply, got {other:?}"),
    }
    assert!(matches!(
        next(&mut events).await.unwrap(),
        watcher::Event::InitDone
    ));

    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    match next(&mut events).await.unwrap() {
        watcher::Event::Apply(c) => assert_eq!(name_of(&c), "a"),
        other => panic!("expected Apply(a), got {other:?}"),
    }
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "changed"}})),
    )
    .await
    .unwrap();
    match next(&mut events).await.unwrap() {
        watcher::Event::Apply(c) => assert_eq!(c.data.unwrap()["k"], "changed"),
        other => panic!("expected Apply(a changed), got {other:?}"),
    }
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    match next(&mut events).await.unwrap() {
        watcher::Event::Delete(c) => assert_eq!(name_of(&c), "a"),
        other => panic!("expected Delete(a), got {other:?}"),
    }
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    cms.create(&PostParams::default(), &cm("pre", &[]))
        .await
        .unwrap();
    let mut events = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    assert!(matches!(
        next(&mut events).await.unwrap(),
        watcher::Event::Init
    ));
    assert!(
        matches!(next(&mut events).await.unwrap(), watcher::Event::InitApply(c) if name_of(&c) == "pre")
    );
    assert!(matches!(
        next(&mut events).await.unwrap(),
        watcher::Event::InitDone
    ));
    cms.create(&PostParams::default(), &cm("post", &[]))
        .await
        .unwrap();
    assert!(
        matches!(next(&mut events).await.unwrap(), watcher::Event::Apply(c) if name_of(&c) == "post")
    );
    assert_eq!(
        api.request_count("list", "configmaps"),
        0,
        "a streaming list needs no list call"
    );
}

/// A reflector over `cms` driven by a background task.
fn spawn_reflector(
    cms: &Api<ConfigMap>,
    config: watcher::Config,
) -> (reflector::Store<ConfigMap>, tokio::task::JoinHandle<()>) {
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(cms.clone(), config));
    let driver = tokio::spawn(stream.applied_objects().for_each(|_| async {}));
    (reader, driver)
}

fn names(store: &reflector::Store<ConfigMap>) -> Vec<String> {
    let mut n: Vec<String> = store
        .state()
        .iter()
        .map(|c| name_of(c).to_string())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn reflector_resumes_watches_from_its_resource_version_without_relisting() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    // Each watch call ends after 1 s; the watcher then resumes from the last resourceVersion.
    let (reader, driver) = spawn_reflector(&cms, watcher::Config::default().timeout(1));
    for n in ["a", "b", "c"] {
        cms.create(&PostParams::default(), &cm(n, &[]))
            .await
            .unwrap();
    }
    eventually(10, "three objects in the reflector", || async {
        (names(&reader) == ["a", "b", "c"]).then_some(())
    })
    .await;
    eventually(10, "a second watch call", || async {
        (api.request_count("watch", "configmaps") >= 2).then_some(())
    })
    .await;
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    cms.create(&PostParams::default(), &cm("d", &[]))
        .await
        .unwrap();
    eventually(10, "b, c, d", || async {
        (names(&reader) == ["b", "c", "d"]).then_some(())
    })
    .await;
    assert_eq!(
        api.request_count("list", "configmaps"),
        1,
        "resumed, never re-listed"
    );
    driver.abort();
}

#[tokio::test]
async fn compacted_history_makes_the_watcher_relist_and_recover() {
    // No bookmarks: the watcher's resourceVersion stays at the last ConfigMap event.
    let api = KubeDouble::start_with(Options {
        bookmark_interval: Duration::from_secs(3600),
        ..Options::default()
    });
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client(&api));
    let (reader, driver) = spawn_reflector(&cms, watcher::Config::default().timeout(1));
    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    eventually(10, "a in the reflector", || async {
        (names(&reader) == ["a"]).then_some(())
    })
    .await;
    // Another kind changes, then the history is compacted past the watcher's resourceVersion:
    // its next watch call gets 410 Expired and it lists again.
    let mut ns = k8s_openapi::api::core::v1::Namespace::default();
    ns.metadata.name = Some("other".into());
    nss.create(&PostParams::default(), &ns).await.unwrap();
    api.compact_history();
    eventually(15, "a re-list after 410", || async {
        (api.request_count("list", "configmaps") >= 2).then_some(())
    })
    .await;
    cms.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    eventually(10, "a and b", || async {
        (names(&reader) == ["a", "b"]).then_some(())
    })
    .await;
    driver.abort();
}

#[tokio::test]
async fn watching_from_a_compacted_resource_version_yields_410_expired() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let old = cms
        .get("a")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "y"}})),
    )
    .await
    .unwrap();

    // Before compaction the history replays the change.
    let mut s = cms
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match next(&mut s).await.unwrap() {
        WatchEvent::Modified(c) => assert_eq!(c.data.unwrap()["x"], "y"),
        other => panic!("expected MODIFIED from history, got {other:?}"),
    }
    drop(s);

    api.compact_history();
    let mut s = cms
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match next(&mut s).await.unwrap() {
        WatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    let (status, body) = raw(
        &api,
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old}"),
        "",
        "",
    )
    .await;
    assert_eq!(status, 200);
    let ev = json(body.lines().next().unwrap());
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["kind"], "Status");
    assert_eq!(ev["object"]["code"], 410);
}

#[tokio::test]
async fn selectors_filter_lists_and_watches() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    let pp = PostParams::default();
    cms.create(&pp, &cm("web", &[("app", "web"), ("tier", "front")]))
        .await
        .unwrap();
    cms.create(&pp, &cm("db", &[("app", "db")])).await.unwrap();
    cms.create(&pp, &cm("plain", &[])).await.unwrap();
    let count = |sel: &'static str| {
        let cms = cms.clone();
        async move {
            let mut n: Vec<String> = cms
                .list(&ListParams::default().labels(sel))
                .await
                .unwrap()
                .items
                .iter()
                .map(|c| name_of(c).to_string())
                .collect();
            n.sort();
            n
        }
    };
    assert_eq!(count("app=web").await, ["web"]);
    assert_eq!(count("app==web,tier=front").await, ["web"]);
    assert_eq!(count("app!=web").await, ["db", "plain"]);
    assert_eq!(count("app").await, ["db", "web"]);
    assert_eq!(count("!app").await, ["plain"]);
    assert_eq!(count("app in (web,db)").await, ["db", "web"]);
    assert_eq!(count("app notin (web)").await, ["db", "plain"]);
    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=db"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let other_ns: Api<ConfigMap> = Api::namespaced(client(&api), "kube-system");
    assert!(
        other_ns
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A label-filtered watch: relabelling in is ADDED, relabelling out is DELETED.
    let mut s = cms
        .watch(&WatchParams::default().labels("app=web"), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(next(&mut s).await.unwrap(), WatchEvent::Added(c) if name_of(&c) == "web"));
    let relabel = |name: &'static str, app: &'static str| {
        let cms = cms.clone();
        async move {
            cms.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"app": app}}})),
            )
            .await
            .unwrap();
        }
    };
    relabel("plain", "other").await; // invisible
    relabel("db", "web").await;
    assert!(matches!(next(&mut s).await.unwrap(), WatchEvent::Added(c) if name_of(&c) == "db"));
    relabel("web", "gone").await;
    assert!(matches!(next(&mut s).await.unwrap(), WatchEvent::Deleted(c) if name_of(&c) == "web"));
    cms.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"n": "1"}})),
    )
    .await
    .unwrap();
    assert!(matches!(next(&mut s).await.unwrap(), WatchEvent::Modified(c) if name_of(&c) == "db"));
}

#[tokio::test]
async fn bookmarks_carry_the_current_resource_version() {
    let api = KubeDouble::start_with(Options {
        bookmark_interval: Duration::from_millis(100),
        ..Options::default()
    });
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    let created = cms
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.unwrap();
    let mut s = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    // Another kind's change still advances the bookmark's resourceVersion.
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client(&api));
    let mut ns = k8s_openapi::api::core::v1::Namespace::default();
    ns.metadata.name = Some("elsewhere".into());
    let ns_rv = nss
        .create(&PostParams::default(), &ns)
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let bookmark = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(WatchEvent::Bookmark(b))) = s.next().await
                && b.metadata.resource_version == ns_rv
            {
                return b;
            }
        }
    })
    .await
    .expect("a bookmark at the namespace's resourceVersion");
    assert_eq!(bookmark.types.kind, "ConfigMap");
    // Without allowWatchBookmarks there are none.
    let mut quiet = cms
        .watch(
            &WatchParams {
                bookmarks: false,
                ..WatchParams::default()
            },
            &ns_rv,
        )
        .await
        .unwrap()
        .boxed();
    assert!(
        tokio::time::timeout(Duration::from_millis(400), quiet.try_next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn metadata_watcher_receives_partial_object_metadata() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    cms.create(&PostParams::default(), &cm("pre", &[("app", "x")]))
        .await
        .unwrap();
    let metas = cms.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(metas.items[0].metadata.labels.as_ref().unwrap()["app"], "x");
    assert_eq!(
        metas.items[0].types.as_ref().unwrap().kind,
        "PartialObjectMetadata"
    );
    let (status, body) = raw(
        &api,
        "GET",
        "/api/v1/namespaces/default/configmaps/pre",
        "",
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        json(&body)["data"].is_object(),
        "plain requests get whole objects"
    );

    let metadata_only: Api<kube::api::PartialObjectMeta<ConfigMap>> =
        Api::default_namespaced(client(&api));
    let mut events = watcher(metadata_only, watcher::Config::default()).boxed();
    assert!(matches!(
        next(&mut events).await.unwrap(),
        watcher::Event::Init
    ));
    assert!(
        matches!(next(&mut events).await.unwrap(), watcher::Event::InitApply(m) if m.metadata.name.as_deref() == Some("pre"))
    );
    assert!(matches!(
        next(&mut events).await.unwrap(),
        watcher::Event::InitDone
    ));
    cms.create(&PostParams::default(), &cm("post", &[]))
        .await
        .unwrap();
    match next(&mut events).await.unwrap() {
        watcher::Event::Apply(m) => {
            assert_eq!(m.metadata.name.as_deref(), Some("post"));
            assert_eq!(m.types.unwrap().kind, "PartialObjectMetadata");
        }
        other => panic!("expected Apply(post), got {other:?}"),
    }
}

#[tokio::test]
async fn disconnected_watches_resume_and_injected_failures_are_retried() {
    let api = KubeDouble::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&api));
    let (reader, driver) = spawn_reflector(&cms, watcher::Config::default());
    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    eventually(10, "a", || async {
        (names(&reader) == ["a"]).then_some(())
    })
    .await;

    // Seeing "a" can come from the initial list alone: wait until the watch is open, so the
    // injected failure hits the re-watch and not the first watch.
    eventually(10, "the first watch", || async {
        (api.request_count("watch", "configmaps") >= 1).then_some(())
    })
    .await;
    // The next watch call fails once; the watcher backs off and retries.
    api.inject_failure("watch", "configmaps", 503, 1);
    api.disconnect_watches();
    eventually(10, "a re-watch after the injected failure", || async {
        (api.request_count("watch", "configmaps") >= 3).then_some(())
    })
    .await;
    cms.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    eventually(10, "a and b", || async {
        (names(&reader) == ["a", "b"]).then_some(())
    })
    .await;
    assert_eq!(
        api.request_count("list", "configmaps"),
        1,
        "resumed, never re-listed"
    );

    api.inject_failure("patch", "configmaps", 409, 1);
    let err = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "1"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), (409, "Conflict".into()));
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await
    .unwrap();
    driver.abort();
}
