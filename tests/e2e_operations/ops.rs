//! Helpers of the operations scenarios: the leader-election Lease, signals to a `wva` process,
//! an HTTPS client for the secure metrics endpoint, and bearer tokens for it (from the
//! double's tables, or real ServiceAccount tokens and RBAC on a real cluster).

use crate::harness::{Cluster, DEADLINE, Wva};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, PostParams};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde_json::json;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Lease `wva` elects its leader on (`LEADER_ELECTION_ID`'s default).
pub const LEASE: &str = "72dd1cf1.llm-d.ai";

impl Cluster {
    /// The leader-election Lease's spec, if the Lease exists.
    pub async fn lease(&self) -> Option<LeaseSpec> {
        Api::<Lease>::namespaced(self.client.clone(), &self.namespace)
            .get_opt(LEASE)
            .await
            .expect("lease lookup")
            .and_then(|l| l.spec)
    }

    /// Waits until `check` accepts the Lease's spec, failing with `what` and the last spec.
    pub async fn wait_lease(&self, what: &str, check: impl Fn(&LeaseSpec) -> bool) -> LeaseSpec {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < DEADLINE {
            if let Some(spec) = self.lease().await {
                if check(&spec) {
                    return spec;
                }
                last = Some(spec);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for Lease {LEASE}: {what}; last seen: {last:#?}");
    }
}

/// The Lease's holder, `""` when none.
pub fn holder(spec: &LeaseSpec) -> &str {
    spec.holder_identity.as_deref().unwrap_or("")
}

impl Wva {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as the kubelet does when a pod is deleted.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits until the process has exited; returns its exit status.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Some(status) = self.child.try_wait().expect("wait for wva") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("wva did not exit\nlog:\n{}", self.log());
    }

    /// How many times the log contains `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }
}

/// One HTTPS answer.
#[derive(Debug)]
pub struct HttpsResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
    /// The protocol ALPN settled on, if any.
    pub alpn: Option<String>,
}

/// A TLS client configuration offering `alpn`, trusting any server certificate (the
/// endpoint's self-signed one), as a scraper with `insecure_skip_verify` does.
pub fn insecure_tls(alpn: &[&str]) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// A TLS client configuration offering `alpn` and trusting only the CA in `ca_pem`.
pub fn verifying_tls(ca_pem: &str, alpn: &[&str]) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// `GET /metrics` over HTTPS (HTTP/1.1) to `addr` as server name `localhost`, with `token` as
/// the bearer token. The error says what failed (connect, handshake, I/O).
pub fn https_get(
    addr: &str,
    tls: Arc<ClientConfig>,
    token: Option<&str>,
) -> Result<HttpsResponse, String> {
    let mut tcp = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| format!("timeout: {e}"))?;
    let name = ServerName::try_from("localhost").expect("server name");
    let mut conn =
        rustls::ClientConnection::new(tls, name).map_err(|e| format!("TLS client: {e}"))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let authorization = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nhost: {addr}\r\n{authorization}connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    // A server closing without close_notify ends the read with an error after the data.
    if let Err(e) = stream.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return Err(format!("read: {e}"));
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    Ok(HttpsResponse {
        status,
        body: body.to_string(),
        alpn,
    })
}

/// Polls `https_get` until `check` accepts an answer; fails with `what` and the last answer.
pub async fn wait_https(
    wva: &Wva,
    tls: &Arc<ClientConfig>,
    token: Option<&str>,
    what: &str,
    check: impl Fn(&HttpsResponse) -> bool,
) -> HttpsResponse {
    let start = Instant::now();
    let mut last = Err("no request yet".to_string());
    while start.elapsed() < DEADLINE {
        last = https_get(&wva.metrics_addr, tls.clone(), token);
        if let Ok(response) = &last
            && check(response)
        {
            return last.expect("checked");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "timed out waiting for the metrics endpoint: {what}; last answer: {last:#?}\nlog:\n{}",
        wva.log()
    );
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Bearer tokens for the metrics endpoint.
pub struct MetricsTokens {
    /// Authenticates a user who may not `get /metrics`.
    pub forbidden: String,
    /// Authenticates a user who may `get /metrics`.
    pub permitted: String,
    /// Cluster-scoped objects to delete at the end (real cluster only).
    cluster_role: Option<String>,
}

/// The ServiceAccount allowed to read metrics, and the one that is not.
const READER: &str = "metrics-reader";
const STRANGER: &str = "metrics-stranger";

impl MetricsTokens {
    /// Two authenticated identities: `metrics-reader` may `get /metrics`, `metrics-stranger`
    /// may not. On the double they are entries of its TokenReview and SubjectAccessReview
    /// tables; on a real cluster, ServiceAccount tokens (TokenRequest) and a ClusterRole and
    /// binding granting `get` on the non-resource URL `/metrics`.
    pub async fn create(cluster: &Cluster) -> MetricsTokens {
        let ns = &cluster.namespace;
        let user = |sa: &str| format!("system:serviceaccount:{ns}:{sa}");
        if let Some(double) = &cluster.double {
            let groups = ["system:serviceaccounts", "system:authenticated"];
            let (forbidden, permitted) = (format!("{STRANGER}-token"), format!("{READER}-token"));
            double.allow_token_with_groups(&forbidden, &user(STRANGER), &groups);
            double.allow_token_with_groups(&permitted, &user(READER), &groups);
            double.allow(&user(READER), "get", "/metrics");
            return MetricsTokens {
                forbidden,
                permitted,
                cluster_role: None,
            };
        }
        let client = cluster.client.clone();
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        let mut tokens = Vec::new();
        for sa in [STRANGER, READER] {
            let account: ServiceAccount =
                serde_json::from_value(json!({"metadata": {"name": sa, "namespace": ns}}))
                    .expect("service account");
            accounts
                .create(&PostParams::default(), &account)
                .await
                .expect("ServiceAccount created");
            let request = TokenRequest {
                spec: TokenRequestSpec {
                    expiration_seconds: Some(3600),
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            };
            let issued = accounts
                .create_token_request(sa, &PostParams::default(), &request)
                .await
                .expect("TokenRequest");
            tokens.push(issued.status.expect("token issued").token);
        }
        let role_name = format!("{ns}-{READER}");
        let role: ClusterRole = serde_json::from_value(json!({
            "metadata": {"name": role_name},
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
        }))
        .expect("cluster role");
        Api::<ClusterRole>::all(client.clone())
            .create(&PostParams::default(), &role)
            .await
            .expect("ClusterRole created");
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": role_name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": READER, "namespace": ns}]
        }))
        .expect("cluster role binding");
        Api::<ClusterRoleBinding>::all(client.clone())
            .create(&PostParams::default(), &binding)
            .await
            .expect("ClusterRoleBinding created");
        // RBAC reaches the authorizer's cache asynchronously; wait until the API server
        // itself allows the reader, so that WVA's first review (whose verdict it keeps for a
        // while) sees the binding.
        let start = Instant::now();
        loop {
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(user(READER)),
                    groups: Some(vec![
                        "system:serviceaccounts".into(),
                        format!("system:serviceaccounts:{ns}"),
                        "system:authenticated".into(),
                    ]),
                    non_resource_attributes: Some(NonResourceAttributes {
                        path: Some("/metrics".into()),
                        verb: Some("get".into()),
                    }),
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            let decided = Api::<SubjectAccessReview>::all(client.clone())
                .create(&PostParams::default(), &review)
                .await
                .expect("SubjectAccessReview");
            if decided.status.is_some_and(|s| s.allowed) {
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the ClusterRoleBinding never took effect"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let permitted = tokens.pop().expect("reader token");
        let forbidden = tokens.pop().expect("stranger token");
        MetricsTokens {
            forbidden,
            permitted,
            cluster_role: Some(role_name),
        }
    }

    /// Deletes the cluster-scoped RBAC objects a real cluster got (best effort).
    pub async fn delete(self, cluster: &Cluster) {
        if let Some(name) = self.cluster_role {
            let client = cluster.client.clone();
            let _ = Api::<ClusterRoleBinding>::all(client.clone())
                .delete(&name, &DeleteParams::default())
                .await;
            let _ = Api::<ClusterRole>::all(client)
                .delete(&name, &DeleteParams::default())
                .await;
        }
    }
}
