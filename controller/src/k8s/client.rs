//! The Kubernetes client: kubeconfig (`KUBECONFIG` or `~/.kube/config`) or in-cluster config,
//! with `REST_CLIENT_TIMEOUT` applied to every request.

use crate::error::Error;
use std::time::Duration;

/// Builds a client; the error says which configuration could not be used.
pub async fn client(timeout: Duration) -> Result<kube::Client, Error> {
    let mut config = kube::Config::infer()
        .await
        .map_err(|source| Error::KubeConfig { source })?;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    let cluster = config.cluster_url.to_string();
    kube::Client::try_from(config).map_err(|source| Error::KubeClient { cluster, source })
}
