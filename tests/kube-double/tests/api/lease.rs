//! Leases: resourceVersion conflicts, apply conflicts, and leader election with kube-lease-manager.

use crate::common::*;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_lease_manager::LeaseManagerBuilder;
use serde_json::json;
use std::time::Duration;
use wva_kube_double::KubeDouble;

#[tokio::test]
async fn lease_create_get_replace_and_conflicts() {
    let api = KubeDouble::start().await;
    let leases: Api<Lease> = Api::default_namespaced(client(&api));
    let mut lease = Lease::default();
    lease.metadata.name = Some("wva-leader".into());
    lease.spec = Some(LeaseSpec {
        holder_identity: Some("a".into()),
        lease_duration_seconds: Some(15),
        ..LeaseSpec::default()
    });
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let fetched = leases.get("wva-leader").await.unwrap();
    assert_eq!(
        fetched.spec.as_ref().unwrap().holder_identity.as_deref(),
        Some("a")
    );

    // Two candidates read the same version; the first replace wins, the second conflicts.
    let mut b = fetched.clone();
    b.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let mut c = fetched.clone();
    c.spec.as_mut().unwrap().holder_identity = Some("c".into());
    leases
        .replace("wva-leader", &PostParams::default(), &b)
        .await
        .unwrap();
    let err = leases
        .replace("wva-leader", &PostParams::default(), &c)
        .await
        .unwrap_err();
    assert_eq!(code(&err), (409, "Conflict".into()));
    assert_eq!(
        leases
            .get("wva-leader")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("b")
    );

    // Server-side apply: taking a field another manager set conflicts unless forced.
    let take = |who: &str| {
        Patch::Apply(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "wva-leader"}, "spec": {"holderIdentity": who}
        }))
    };
    let err = leases
        .patch("wva-leader", &PatchParams::apply("d"), &take("d"))
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, 409);
    let taken = leases
        .patch("wva-leader", &PatchParams::apply("d").force(), &take("d"))
        .await
        .unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("d"));
    // The owner may re-apply its own field.
    leases
        .patch("wva-leader", &PatchParams::apply("d"), &take("d2"))
        .await
        .unwrap();
}

#[tokio::test]
async fn kube_lease_manager_elects_one_leader_and_fails_over() {
    let api = KubeDouble::start().await;
    let client = client(&api);
    let manager = |id: &'static str| {
        let client = client.clone();
        async move {
            LeaseManagerBuilder::new(client, "wva-election")
                .with_namespace("default")
                .with_identity(id)
                .with_duration(3)
                .with_grace(1)
                .build()
                .await
                .expect("lease manager")
        }
    };
    let (rx1, task1) = manager("one").await.watch().await;
    let (rx2, task2) = manager("two").await.watch().await;
    eventually(20, "a leader", || async {
        (*rx1.borrow() || *rx2.borrow()).then_some(())
    })
    .await;
    // Over several renewals, never two leaders.
    for _ in 0..20 {
        assert!(!(*rx1.borrow() && *rx2.borrow()), "two leaders at once");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (leader_rx, leader_task, follower_rx, follower_task) = if *rx1.borrow() {
        (rx1, task1, rx2, task2)
    } else {
        (rx2, task2, rx1, task1)
    };
    assert!(!*follower_rx.borrow());
    let holder = api
        .object("leases", "default", "wva-election")
        .expect("lease stored");
    assert!(holder["spec"]["holderIdentity"].is_string());
    // The leader goes away (its channel closes, its task releases the lease).
    drop(leader_rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), leader_task).await;
    eventually(20, "the follower to take over", || async {
        (*follower_rx.borrow()).then_some(())
    })
    .await;
    drop(follower_rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), follower_task).await;
}
