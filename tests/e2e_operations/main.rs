//! End-to-end scenarios of operating WVA: leader election and failover between two `wva`
//! processes (scenario 12), and the secure metrics endpoint (scenario 13). The real `wva`
//! binary against a Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a real
//! Prometheus.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
mod ops;

use harness::{Cluster, Fleet, Wva};
use ops::{MetricsTokens, holder, https_get, insecure_tls, verifying_tls, wait_https};
use std::time::{Duration, Instant};
use wva_api::crd::VariantAutoscaling;

const MODEL: &str = "meta/llama-3.1-8b";
const VA: &str = "llama-8b-autoscaler";

/// Short leader-election timings so that a failover takes seconds.
const LEASE_SECS: u64 = 4;
const RETRY_SECS: u64 = 1;

fn elected(host: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("LEADER_ELECT", "true"),
        ("LEADER_ELECTION_LEASE_DURATION", "4s"),
        ("LEADER_ELECTION_RENEW_DEADLINE", "3s"),
        ("LEADER_ELECTION_RETRY_PERIOD", "1s"),
        // The candidate's identity starts with its host name.
        ("HOSTNAME", host),
    ]
}

fn desired(ns: &str, n: u32) -> String {
    format!(
        r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="{VA}"}} {n}"#
    )
}

fn alloc(va: &VariantAutoscaling) -> (Option<i32>, Option<jiff::Timestamp>) {
    let alloc = va.status.as_ref().map(|s| &s.desired_optimized_alloc);
    (
        alloc.and_then(|a| a.num_replicas),
        alloc.and_then(|a| a.last_run_time.as_ref()).map(|t| t.0),
    )
}

/// Scenario 12: of two `wva` processes electing a leader, exactly one holds the Lease, runs
/// the engine and publishes `wva_desired_replicas`; the standby serves `/metrics` without it.
/// The leader killed with SIGKILL (no release), the standby takes over once the lease has run
/// out, publishes the series and writes status. A leader stopped with SIGTERM releases the
/// Lease on its way out, so the next standby takes over without waiting for it to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_fails_over_and_releases_on_sigterm() {
    let cluster = Cluster::start("leader").await;
    let ns = cluster.namespace.clone();
    let pods = ["llama-8b-0", "llama-8b-1"];
    let fleet = Fleet::start(&cluster, MODEL, &["llama-8b"], 0.50, 0.0);
    cluster.create_deployment("llama-8b", &pods).await;
    fleet.synced().await;
    cluster
        .create_va(VA, "llama-8b", MODEL, "10.0", "H100")
        .await;

    // Two candidates at once: exactly one wins.
    let a = Wva::start(&cluster, &fleet.prometheus, &elected("wva-a"));
    let b = Wva::start(&cluster, &fleet.prometheus, &elected("wva-b"));
    let lease = cluster
        .wait_lease("a holder", |l| !holder(l).is_empty())
        .await;
    let (mut leader, standby, standby_host) = if holder(&lease).starts_with("wva-a") {
        (a, b, "wva-b")
    } else {
        (b, a, "wva-a")
    };
    assert_eq!(
        lease.lease_duration_seconds,
        Some(i32::try_from(LEASE_SECS).expect("secs"))
    );
    leader
        .wait_metrics("the leader publishes 2", |m| m.contains(&desired(&ns, 2)))
        .await;
    let va = cluster
        .wait_va(VA, "numReplicas 2", |va| alloc(va).0 == Some(2))
        .await;
    let (_, first_run) = alloc(&va);

    // The standby is up and keeps trying while the leader renews a few times; it never leads.
    standby.wait_log("Caches synced").await;
    let mut renewals = 0;
    let mut last_renewal = lease.renew_time.clone();
    while renewals < 3 {
        let now = cluster
            .wait_lease("renewed", |l| l.renew_time != last_renewal)
            .await;
        assert_eq!(holder(&now), holder(&lease), "the leader changed: {now:#?}");
        assert_eq!(now.lease_transitions, lease.lease_transitions);
        last_renewal = now.renew_time;
        renewals += 1;
    }
    let standby_metrics = standby
        .wait_metrics("the standby serves /metrics", |m| {
            m.contains("wva_engine_cycle_duration_seconds_count")
        })
        .await;
    assert!(
        standby_metrics.starts_with("HTTP/1.1 200"),
        "{standby_metrics}"
    );
    assert!(
        !standby_metrics.contains("wva_desired_replicas{"),
        "a standby publishes no decisions:\n{standby_metrics}"
    );
    assert!(
        standby_metrics.contains("wva_engine_cycle_duration_seconds_count 0"),
        "a standby runs no engine cycle:\n{standby_metrics}"
    );
    let standby_log = standby.log();
    assert!(
        !standby_log.contains("Acquired leadership"),
        "{standby_log}"
    );
    assert!(
        !standby_log.contains("Optimization completed"),
        "{standby_log}"
    );
    // Leadership is logged when it changes, not at every attempt or renewal.
    assert_eq!(leader.log_count("Acquired leadership"), 1);
    assert_eq!(leader.log_count("Leading: running the engine"), 1);
    assert_eq!(standby.log_count("Not leading"), 0, "{standby_log}");

    // SIGKILL: no release. The standby waits for the lease to run out, then takes over.
    let transitions = lease.lease_transitions.unwrap_or(0);
    leader.child.kill().expect("SIGKILL");
    let killed = Instant::now();
    leader.wait_exit().await;
    fleet.set(0.78, 1.0);
    let taken = cluster
        .wait_lease("the standby holds the Lease", |l| {
            holder(l).starts_with(standby_host)
        })
        .await;
    let failover = killed.elapsed();
    eprintln!("failover after SIGKILL took {failover:?}");
    assert!(
        failover <= Duration::from_secs(LEASE_SECS + RETRY_SECS + 3),
        "failover took {failover:?}"
    );
    // The dead leader had renewed at most a retry period before it was killed.
    assert!(
        failover >= Duration::from_secs(LEASE_SECS - RETRY_SECS - 1),
        "the standby took an unexpired lease after {failover:?}"
    );
    assert_eq!(taken.lease_transitions, Some(transitions + 1));
    standby
        .wait_metrics("the new leader publishes 3", |m| {
            m.contains(&desired(&ns, 3))
        })
        .await;
    let va = cluster
        .wait_va(VA, "numReplicas 3 written by the new leader", |va| {
            alloc(va).0 == Some(3)
        })
        .await;
    assert!(
        alloc(&va).1 > first_run,
        "lastRunTime moved with the new decision: {va:#?}"
    );
    let standby_log = standby.wait_log("Acquired leadership").await;
    assert!(
        standby_log.contains("Leading: running the engine"),
        "{standby_log}"
    );

    // SIGTERM: the leader releases the Lease on its way out.
    let third = Wva::start(&cluster, &fleet.prometheus, &elected("wva-c"));
    third.wait_log("Caches synced").await;
    let mut old = standby;
    old.terminate();
    let status = old.wait_exit().await;
    let log = old.log();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(log.contains("Released leadership"), "{log}");
    let after = cluster.lease().await.expect("Lease");
    assert_ne!(
        holder(&after),
        holder(&taken),
        "the Lease is still held by the stopped leader: {after:#?}"
    );
    cluster
        .wait_lease("the third candidate holds the Lease", |l| {
            holder(l).starts_with("wva-c")
        })
        .await;
    third
        .wait_metrics("the third leader publishes 3", |m| {
            m.contains(&desired(&ns, 3))
        })
        .await;
}

/// Scenario 13: with `METRICS_SECURE=true` the metrics endpoint serves HTTPS with a
/// self-signed certificate: no token → 401, a token of a user who may not `get /metrics` →
/// 403, a permitted one → 200 with the metrics. Plain HTTP gets no metrics, and without
/// `ENABLE_HTTP2` a client asking only for HTTP/2 is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_metrics_authenticate_and_authorize() {
    let cluster = Cluster::start("secure").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["llama-8b"], 0.50, 0.0);
    cluster.create_deployment("llama-8b", &["llama-8b-0"]).await;
    fleet.synced().await;
    cluster
        .create_va(VA, "llama-8b", MODEL, "10.0", "H100")
        .await;
    let tokens = MetricsTokens::create(&cluster).await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[("METRICS_SECURE", "true")]);
    let tls = insecure_tls(&["h2", "http/1.1"]);

    let anonymous = wait_https(&wva, &tls, None, "401 without a token", |r| r.status == 401).await;
    assert!(anonymous.body.contains("Unauthorized"), "{anonymous:?}");
    assert_eq!(
        anonymous.alpn.as_deref(),
        Some("http/1.1"),
        "HTTP/2 is not offered without ENABLE_HTTP2"
    );
    let unknown = https_get(&wva.metrics_addr, tls.clone(), Some("not-a-token")).expect("answer");
    assert_eq!(unknown.status, 401, "{unknown:?}");
    let forbidden =
        https_get(&wva.metrics_addr, tls.clone(), Some(&tokens.forbidden)).expect("answer");
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    assert!(forbidden.body.contains("Forbidden"), "{forbidden:?}");
    for response in [&anonymous, &unknown, &forbidden] {
        assert!(!response.body.contains("wva_"), "{response:?}");
    }
    let permitted = wait_https(
        &wva,
        &tls,
        Some(&tokens.permitted),
        "200 with the decision",
        |r| r.status == 200 && r.body.contains(&desired(&ns, 1)),
    )
    .await;
    assert!(
        permitted.body.contains("# TYPE wva_desired_replicas gauge"),
        "{permitted:?}"
    );

    // Plain HTTP on the HTTPS port gets no metrics; an HTTP/2-only client is refused.
    assert!(!wva.metrics().contains("wva_desired_replicas"));
    let h2_only = https_get(
        &wva.metrics_addr,
        insecure_tls(&["h2"]),
        Some(&tokens.permitted),
    );
    assert!(
        h2_only
            .as_ref()
            .is_err_and(|e| e.contains("handshake") && e.contains("NoApplicationProtocol")),
        "{h2_only:?}"
    );
    tokens.delete(&cluster).await;
}

/// Scenario 13 with `METRICS_CERT_PATH` and `ENABLE_HTTP2=true`: the endpoint presents the
/// mounted certificate (a client trusting only its CA connects), offers HTTP/2, and still
/// authorizes every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_metrics_with_a_mounted_certificate_and_http2() {
    let cluster = Cluster::start("secure-cert").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["llama-8b"], 0.50, 0.0);
    cluster.create_deployment("llama-8b", &["llama-8b-0"]).await;
    fleet.synced().await;
    cluster
        .create_va(VA, "llama-8b", MODEL, "10.0", "H100")
        .await;
    let tokens = MetricsTokens::create(&cluster).await;
    let pki = wva_testkit::TestPki::new("wva-e2e-ca");
    let dir = tempfile::tempdir().expect("temp dir");
    pki.server(&["localhost", "127.0.0.1"])
        .write_to(dir.path(), "tls");
    let cert_dir = dir.path().to_str().expect("utf-8 path");
    let wva = Wva::start(
        &cluster,
        &fleet.prometheus,
        &[
            ("METRICS_SECURE", "true"),
            ("METRICS_CERT_PATH", cert_dir),
            ("ENABLE_HTTP2", "true"),
        ],
    );
    let tls = verifying_tls(&pki.ca_pem(), &["http/1.1"]);
    wait_https(&wva, &tls, None, "401 without a token", |r| r.status == 401).await;
    let forbidden =
        https_get(&wva.metrics_addr, tls.clone(), Some(&tokens.forbidden)).expect("answer");
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    wait_https(
        &wva,
        &tls,
        Some(&tokens.permitted),
        "200 with the decision",
        |r| r.status == 200 && r.body.contains(&desired(&ns, 1)),
    )
    .await;

    // HTTP/2 is offered: a client preferring it gets it.
    let h2 = https_get(
        &wva.metrics_addr,
        verifying_tls(&pki.ca_pem(), &["h2", "http/1.1"]),
        None,
    );
    // The HTTP/1.1 request on an h2 connection is not understood; the handshake is what counts.
    let negotiated = match &h2 {
        Ok(response) => response.alpn.clone(),
        Err(error) => panic!("{error}"),
    };
    assert_eq!(negotiated.as_deref(), Some("h2"));
    // A client that does not trust the CA is refused by its own verification.
    let untrusted = https_get(
        &wva.metrics_addr,
        verifying_tls(&wva_testkit::TestPki::new("other").ca_pem(), &["http/1.1"]),
        None,
    );
    assert!(
        untrusted.as_ref().is_err_and(|e| e.contains("handshake")),
        "{untrusted:?}"
    );
    tokens.delete(&cluster).await;
}
