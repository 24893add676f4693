//! The EPP source against the API double (Services) and local servers standing in for the
//! endpoint pickers; the InferencePool caches are filled by the test.

use super::*;
use crate::k8s::pools::PoolApi;
use crate::k8s::pools::tests::{labels, pool_object};
use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde_json::json;
use std::io::Write as _;
use wva_kube_double::KubeDouble;
use wva_testkit::{RecordedRequest, StubResponse, StubServer};

/// The API double, the pool caches' writers and the token file.
struct World {
    double: KubeDouble,
    writers: Vec<(PoolApi, Writer<DynamicObject>)>,
    caches: PoolCaches,
    token: tempfile::NamedTempFile,
}

impl World {
    /// Namespaces `llm` and `other`, no pool, the token file holding `  secret\n`.
    async fn start() -> World {
        let double = KubeDouble::start().await;
        for ns in ["llm", "other"] {
            double
                .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace");
        }
        let writers: Vec<_> = PoolApi::ALL
            .into_iter()
            .map(|api| (api, Writer::new(api.resource())))
            .collect();
        let caches = PoolCaches::new(
            writers
                .iter()
                .map(|(api, writer)| (*api, writer.as_reader()))
                .collect(),
        );
        let world = World {
            double,
            writers,
            caches,
            token: tempfile::NamedTempFile::new().expect("token file"),
        };
        world.write_token("  secret\n");
        world
    }

    fn write_token(&self, text: &str) {
        let mut file = self.token.reopen().expect("token file");
        file.set_len(0).expect("truncate");
        file.write_all(text.as_bytes()).expect("write");
    }

    /// Caches pool `namespace/name` of `api` at `resource_version`.
    fn pool(
        &mut self,
        api: PoolApi,
        (namespace, name): (&str, &str),
        selector: &[(&str, &str)],
        resource_version: &str,
    ) {
        let mut object = pool_object(api, namespace, name, selector, &format!("{name}-epp"));
        object["metadata"]["resourceVersion"] = json!(resource_version);
        let object: DynamicObject = serde_json::from_value(object).expect("pool");
        let (_, writer) = self
            .writers
            .iter_mut()
            .find(|(a, _)| *a == api)
            .expect("a writer per API");
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }

    /// Creates the EPP Service of pool `namespace/name` with `ports`.
    fn service(&self, (namespace, pool): (&str, &str), ports: serde_json::Value) {
        self.double
            .create(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("{pool}-epp"), "namespace": namespace},
                "spec": {"ports": ports}
            }))
            .expect("Service");
    }

    /// Creates the EPP Service of pool `namespace/name`, its metrics on `epp`.
    fn service_for(&self, pool: (&str, &str), epp: &StubServer) {
        self.service(
            pool,
            json!([
                {"name": "grpc-ext-proc", "port": 9002},
                {"name": "http-metrics", "port": epp.port()}
            ]),
        );
    }

    /// The source, every EPP Service resolved to 127.0.0.1, scrapes bounded by the default
    /// timeout.
    fn source(&self) -> EppSource {
        self.source_with_timeout(scrape::TIMEOUT)
    }

    /// The source, every EPP Service resolved to 127.0.0.1, scrapes bounded by `timeout`.
    fn source_with_timeout(&self, timeout: std::time::Duration) -> EppSource {
        self.source_of(self.caches.clone(), timeout)
    }

    /// The source of `caches`, every EPP Service resolved to 127.0.0.1, scrapes bounded by
    /// `timeout`.
    fn source_of(&self, caches: PoolCaches, timeout: std::time::Duration) -> EppSource {
        let path = self.token.path().to_str().expect("a UTF-8 path");
        EppSource::new(self.double.client(), caches, Some(path))
            .expect("a readable token")
            .local(|_, _| "127.0.0.1".to_string(), timeout)
    }
}

/// An EPP answering `/metrics` with `body` when sent `Bearer secret`, 401 otherwise.
fn epp(body: &str) -> StubServer {
    let body = body.to_string();
    StubServer::start(move |request: &RecordedRequest| {
        if request.header_values("authorization") == ["Bearer secret"] {
            StubResponse::text(body.clone())
        } else {
            StubResponse::text("Unauthorized").with_status(401)
        }
    })
}

/// Reads model `m` of pool `llm/a` (v1), whose EPP answers `answer` to every request.
async fn read_one_pool(answer: StubResponse) -> (StubServer, EppReading) {
    let mut world = World::start().await;
    let a = StubServer::start(move |_: &RecordedRequest| answer.clone());
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.service_for(("llm", "a"), &a);
    let reading = world
        .source()
        .read(&[model("m", &[&[("pool", "a")]])])
        .await;
    (a, reading)
}

/// A model at zero in `llm` whose variants' pods carry `variants`.
fn model(id: &str, variants: &[&[(&str, &str)]]) -> DormantModel {
    DormantModel {
        namespace: "llm".into(),
        model_id: id.into(),
        pod_labels: variants.iter().map(|pairs| labels(pairs)).collect(),
    }
}

fn queues(pairs: &[(&str, f64)]) -> HashMap<(String, String), f64> {
    pairs
        .iter()
        .map(|(id, q)| (("llm".to_string(), id.to_string()), *q))
        .collect()
}

const A_METRICS: &str = r#"# TYPE inference_extension_flow_control_queue_size gauge
inference_extension_flow_control_queue_size{fairness_id="x",priority="0",target_model_name="meta/llama"} 1
inference_extension_flow_control_queue_size{fairness_id="y",priority="0",target_model_name="meta/llama"} 2
inference_extension_flow_control_queue_bytes{target_model_name="meta/llama"} 4096
inference_extension_flow_control_queue_size_total{target_model_name="qwen"} 50
"#;

#[tokio::test]
async fn each_serving_pool_is_scraped_once_and_queues_sum_by_model() {
    let mut world = World::start().await;
    let a = epp(A_METRICS);
    let b = epp("inference_extension_flow_control_queue_size{target_model_name=\"mistral\"} 4\n");
    let c =
        epp("inference_extension_flow_control_queue_size{target_model_name=\"meta/llama\"} 9\n");
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.pool(PoolApi::V1Alpha2, ("llm", "b"), &[("pool", "b")], "1");
    // Same selector as `a`, in another namespace: not the models' pool.
    world.pool(PoolApi::V1, ("other", "c"), &[("pool", "a")], "1");
    world.service_for(("llm", "a"), &a);
    world.service_for(("llm", "b"), &b);
    world.service_for(("other", "c"), &c);
    let source = world.source();
    let models = [
        model("meta/llama", &[&[("pool", "a"), ("app", "llama")]]),
        model("qwen", &[&[("pool", "a"), ("app", "qwen")]]),
        // The second variant's pods are in pool `b`.
        model(
            "mistral",
            &[&[("app", "m")], &[("pool", "b"), ("app", "m")]],
        ),
        model("orphan", &[&[("app", "o")]]),
    ];

    let reading = source.read(&models).await;
    assert_eq!(reading.errors, []);
    // No pool serves `orphan`: absent. `qwen` has no queue series on its EPP: 0.
    let expected = queues(&[("meta/llama", 3.0), ("qwen", 0.0), ("mistral", 4.0)]);
    assert_eq!(reading.queues, expected);
    assert_eq!(
        (a.request_count(), b.request_count(), c.request_count()),
        (1, 1, 0)
    );
    let request = &a.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/metrics")
    );
    assert_eq!(request.header_values("authorization"), ["Bearer secret"]);
    assert_eq!(world.double.request_count("get", "services"), 2);

    // Forty models in pool `a`: still one scrape of it, and no API call at all.
    world.double.reset_request_counts();
    let many: Vec<DormantModel> = (0..40)
        .map(|i| model(&format!("model-{i}"), &[&[("pool", "a"), ("v", "x")]]))
        .collect();
    let reading = source.read(&many).await;
    assert_eq!(reading.queues.len(), 40);
    assert_eq!(a.request_count(), 2);
    assert_eq!(world.double.request_counts().total(), 0);

    // A changed pool has its Service looked up again, once.
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "2");
    let reading = source.read(&models).await;
    assert_eq!(reading.queues, expected);
    assert_eq!(world.double.request_count("get", "services"), 1);
}

#[tokio::test]
async fn the_token_is_read_at_each_check_with_one_bearer_prefix() {
    let mut world = World::start().await;
    let a = StubServer::start(|_: &RecordedRequest| StubResponse::text(""));
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.service_for(("llm", "a"), &a);
    let source = world.source();
    let models = [model("m", &[&[("pool", "a")]])];
    assert_eq!(source.read(&models).await.queues, queues(&[("m", 0.0)]));
    world.write_token("Bearer rotated\n");
    assert_eq!(source.read(&models).await.queues, queues(&[("m", 0.0)]));
    let sent: Vec<Vec<String>> = a
        .requests()
        .iter()
        .map(|r| {
            r.header_values("authorization")
                .iter()
                .map(|v| v.to_string())
                .collect()
        })
        .collect();
    assert_eq!(sent, [["Bearer secret"], ["Bearer rotated"]]);

    world.write_token("\n");
    let reading = source.read(&models).await;
    assert_eq!(
        reading.queues,
        HashMap::new(),
        "a token error is not a zero queue"
    );
    assert_eq!(reading.errors.len(), 1);
    let error = reading.errors[0].to_string();
    assert!(error.contains("the bearer token is empty"), "{error}");
    assert!(error.contains("SCALE_FROM_ZERO_EPP_TOKEN_PATH"), "{error}");
    assert_eq!(a.request_count(), 2, "nothing is sent without a token");
}

#[tokio::test]
async fn a_missing_token_file_stops_the_source_at_startup() {
    let world = World::start().await;
    let error = EppSource::new(
        world.double.client(),
        world.caches.clone(),
        Some("/nonexistent/epp-token"),
    )
    .err()
    .expect("an error")
    .to_string();
    assert!(
        error.contains("cannot read /nonexistent/epp-token"),
        "{error}"
    );
    assert!(
        error.contains("set SCALE_FROM_ZERO_EPP_TOKEN_PATH"),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_token_names_the_pool_and_the_permission_to_grant() {
    let (a, reading) = read_one_pool(StubResponse::text("").with_status(401)).await;
    assert_eq!(
        reading.queues,
        HashMap::new(),
        "an error is not a zero queue"
    );
    let errors: Vec<String> = reading.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "InferencePool llm/a (inference.networking.k8s.io/v1): GET http://127.0.0.1:{}/metrics: HTTP 401: the endpoint picker refused the token; grant the controller's ServiceAccount `get` on the nonResourceURL /metrics (a ClusterRole rule `nonResourceURLs: [\"/metrics\"], verbs: [\"get\"]`), or point SCALE_FROM_ZERO_EPP_TOKEN_PATH at a token that has it",
            a.port()
        )]
    );
}

#[tokio::test]
async fn a_failed_pool_leaves_its_models_unknown_and_the_others_are_read() {
    let mut world = World::start().await;
    let a = StubServer::start(|_: &RecordedRequest| StubResponse::text("").with_status(500));
    let b = epp("inference_extension_flow_control_queue_size{target_model_name=\"mistral\"} 4\n");
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.pool(PoolApi::V1Alpha2, ("llm", "b"), &[("pool", "b")], "1");
    world.service_for(("llm", "a"), &a);
    world.service_for(("llm", "b"), &b);
    let source = world.source();
    let models = [
        model("meta/llama", &[&[("pool", "a")]]),
        model("mistral", &[&[("pool", "b")]]),
        // Served by both: one failed, so its queue is unknown.
        model("both", &[&[("pool", "a")], &[("pool", "b")]]),
    ];
    let reading = source.read(&models).await;
    assert_eq!(reading.queues, queues(&[("mistral", 4.0)]));
    let errors: Vec<String> = reading.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "InferencePool llm/a (inference.networking.k8s.io/v1): GET http://127.0.0.1:{}/metrics: HTTP 500",
            a.port()
        )]
    );
    assert_eq!(b.request_count(), 1, "one scrape for two models");

    // The failed pool's Service is looked up again at the next check; the other is cached.
    world.double.reset_request_counts();
    drop(source.read(&models).await);
    assert_eq!(world.double.request_count("get", "services"), 1);
}

/// Reads model `x` of pool `llm/a` and `y` of `llm/b`, both failing: no queue, and the two
/// errors, sorted.
async fn both_fail(source: &EppSource) -> Vec<String> {
    let models = [
        model("x", &[&[("pool", "a")]]),
        model("y", &[&[("pool", "b")]]),
    ];
    let reading = source.read(&models).await;
    assert_eq!(
        reading.queues,
        HashMap::new(),
        "an error is not a zero queue"
    );
    let mut errors: Vec<String> = reading.errors.iter().map(ToString::to_string).collect();
    errors.sort();
    assert_eq!(errors.len(), 2, "{errors:?}");
    errors
}

#[tokio::test]
async fn a_service_without_a_metrics_port_or_missing_is_an_error_naming_it() {
    let mut world = World::start().await;
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.pool(PoolApi::V1Alpha2, ("llm", "b"), &[("pool", "b")], "1");
    world.service(
        ("llm", "a"),
        json!([{"name": "grpc-ext-proc", "port": 9002}]),
    );
    let errors = both_fail(&world.source()).await;
    assert_eq!(
        errors[0],
        "InferencePool llm/a (inference.networking.k8s.io/v1): its endpoint picker Service llm/a-epp has no metrics port (ports: grpc-ext-proc:9002); give the EPP's metrics port a name containing \"metric\" (for example `http-metrics`)"
    );
    assert!(
        errors[1].starts_with(
            "InferencePool llm/b (inference.networking.x-k8s.io/v1alpha2): cannot read its endpoint picker Service llm/b-epp: "
        ),
        "{}",
        errors[1]
    );
    assert!(errors[1].contains("not found"), "{}", errors[1]);
}

#[tokio::test]
async fn a_body_over_16_mib_fails_the_scrape() {
    let huge = "#".repeat(scrape::BODY_LIMIT + 1);
    let (_a, reading) = read_one_pool(StubResponse::text(huge)).await;
    assert_eq!(reading.queues, HashMap::new());
    let error = reading
        .errors
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        error.ends_with("the answer is larger than 16777216 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn an_epp_that_does_not_answer_in_time_or_at_all_is_an_error() {
    let mut world = World::start().await;
    let slow = StubServer::start(|_: &RecordedRequest| {
        StubResponse::text("").with_delay(std::time::Duration::from_secs(30))
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.pool(PoolApi::V1, ("llm", "b"), &[("pool", "b")], "1");
    world.service_for(("llm", "a"), &slow);
    world.service(("llm", "b"), json!([{"name": "metrics", "port": closed}]));
    let errors = both_fail(&world.source_with_timeout(std::time::Duration::from_millis(200))).await;
    assert_eq!(
        errors[0],
        format!(
            "InferencePool llm/a (inference.networking.k8s.io/v1): GET http://127.0.0.1:{}/metrics: no answer within 200ms",
            slow.port()
        )
    );
    let refused = format!(
        "InferencePool llm/b (inference.networking.k8s.io/v1): GET http://127.0.0.1:{closed}/metrics: "
    );
    assert!(errors[1].starts_with(&refused), "{}", errors[1]);
    assert!(errors[1].contains("refused"), "{}", errors[1]);
}

/// Waits until the watched caches hold `count` pools serving labels `pool=<name>`.
async fn until_cached(caches: &PoolCaches, name: &str, count: usize) {
    let wanted = labels(&[("pool", name)]);
    for _ in 0..500 {
        if caches
            .pools()
            .iter()
            .filter(|p| p.selects("llm", &wanted))
            .count()
            == count
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the pool cache never held {count} pools selecting pool={name}");
}

#[tokio::test]
async fn pools_created_and_changed_after_startup_are_followed_by_the_watch() {
    let world = World::start().await;
    world
        .double
        .create(crate::k8s::pools::tests::crd(PoolApi::V1))
        .expect("CRD");
    let client = world.double.client();
    let (caches, stream) = crate::k8s::pools::watch(&client, &crate::scope::Scope::default()).await;
    let driver = tokio::spawn(stream.for_each(|()| async {}));
    caches.wait_until_ready().await.expect("synced");
    let source = world.source_of(caches.clone(), scrape::TIMEOUT);
    let a = epp("inference_extension_flow_control_queue_size{target_model_name=\"m\"} 2\n");
    world.service_for(("llm", "a"), &a);
    let models = [model("m", &[&[("pool", "a"), ("app", "m")]])];
    assert_eq!(
        source.read(&models).await,
        EppReading::default(),
        "no pool yet"
    );

    world
        .double
        .create(pool_object(
            PoolApi::V1,
            "llm",
            "a",
            &[("pool", "a")],
            "a-epp",
        ))
        .expect("pool");
    until_cached(&caches, "a", 1).await;
    let reading = source.read(&models).await;
    assert_eq!(
        (reading.queues, reading.errors),
        (queues(&[("m", 2.0)]), vec![])
    );

    // The pool now selects other pods: the model is no longer served, so unknown.
    let pools: Api<DynamicObject> = Api::namespaced_with(client, "llm", &PoolApi::V1.resource());
    let patch = json!({"spec": {"selector": {"matchLabels": {"pool": "b"}}}});
    pools
        .patch(
            "a",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await
        .expect("patched");
    until_cached(&caches, "a", 0).await;
    assert_eq!(source.read(&models).await, EppReading::default());
    assert_eq!(a.request_count(), 1);
    driver.abort();
}

#[tokio::test]
async fn the_same_pool_in_both_apis_is_one_epp_scraped_and_counted_once() {
    let mut world = World::start().await;
    let a = epp("inference_extension_flow_control_queue_size{target_model_name=\"m\"} 2\n");
    world.pool(PoolApi::V1, ("llm", "a"), &[("pool", "a")], "1");
    world.pool(PoolApi::V1Alpha2, ("llm", "a"), &[("pool", "a")], "1");
    world.service_for(("llm", "a"), &a);
    let source = world.source();
    let models = [model("m", &[&[("pool", "a")]])];
    for check in 1..=2 {
        let reading = source.read(&models).await;
        assert_eq!(
            (reading.queues, reading.errors),
            (queues(&[("m", 2.0)]), vec![])
        );
        assert_eq!(a.request_count(), check);
    }
    assert_eq!(world.double.request_count("get", "services"), 1);
}
