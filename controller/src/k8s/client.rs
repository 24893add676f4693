//! The Kubernetes client: kubeconfig (`KUBECONFIG` or `~/.kube/config`) or in-cluster config,
//! with `REST_CLIENT_TIMEOUT` applied to every request.

use std::time::Duration;

/// Builds a client; the error says which configuration could not be used.
pub async fn client(timeout: Duration) -> Result<kube::Client, String> {
    let mut config = kube::Config::infer().await.map_err(|e| {
        format!(
            "cannot find Kubernetes credentials (KUBECONFIG, ~/.kube/config or in-cluster): {e}"
        )
    })?;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    let cluster = config.cluster_url.to_string();
    kube::Client::try_from(config)
        .map_err(|e| format!("cannot build a Kubernetes client for {cluster}: {e}"))
}
