//! Shared helpers: a kube client for a double, raw HTTP, the VariantAutoscaling-like CRD.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::{Client, Config, CustomResource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wva_kube_double::KubeDouble;

/// A kube client talking to the double (plain HTTP), default namespace `default`.
pub fn client(api: &KubeDouble) -> Client {
    api.client()
}

/// The same, built by hand as a crate without the `client` feature would.
pub fn manual_client(api: &KubeDouble) -> Client {
    let config = Config::new(api.url().parse().expect("double url"));
    Client::try_from(config).expect("kube client")
}

/// The API status code of a kube error.
pub fn code(e: &kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// One raw HTTP/1.1 request; returns the status code and the (de-chunked) body.
pub async fn raw(
    api: &KubeDouble,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(api.addr())
        .await
        .expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        api.addr(),
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("response within 10s")
        .expect("read");
    let text = String::from_utf8(buf).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers");
    let code: u16 = head
        .split(' ')
        .nth(1)
        .expect("status")
        .parse()
        .expect("code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (code, body)
}

/// Parses a JSON body.
pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The repository's generated VariantAutoscaling CRD.
pub fn va_crd() -> CustomResourceDefinition {
    serde_saphyr::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../generated/crds/llmd.ai_variantautoscalings.yaml"
    )))
    .expect("the generated CRD parses")
}

/// Registers the VariantAutoscaling CRD and returns it as stored.
pub async fn register_va_crd(client: &Client) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &va_crd())
        .await
        .expect("CRD created")
}

/// A VariantAutoscaling-like custom resource, declared here so the tests do not depend on api/.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "llmd.ai",
    version = "v1alpha1",
    kind = "VariantAutoscaling",
    namespaced,
    status = "VaStatus",
    doc = "test copy of the VariantAutoscaling"
)]
#[serde(rename_all = "camelCase")]
pub struct VaSpec {
    /// Model.
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// Target.
    pub scale_target_ref: TargetRef,
    /// Cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_cost: Option<String>,
}

/// Target reference.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// apiVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// Status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaStatus {
    /// Decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_optimized_alloc: Option<Value>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Value>,
    /// Observed generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A VA for deployment `target`.
pub fn va(name: &str, target: &str) -> VariantAutoscaling {
    let mut va = VariantAutoscaling::new(
        name,
        VaSpec {
            model_id: "meta/llama-3.1-8b".into(),
            scale_target_ref: TargetRef {
                kind: "Deployment".into(),
                name: target.into(),
                api_version: None,
            },
            variant_cost: None,
        },
    );
    va.metadata.namespace = Some("default".into());
    va
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
