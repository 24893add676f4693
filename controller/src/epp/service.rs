//! The metrics port of an endpoint picker's Service. The pool's reference names the Service
//! and its gRPC ext-proc port; the metrics are on another port of the same Service, the one
//! whose name contains `metric` (as in the EPP charts' `http-metrics`).

use k8s_openapi::api::core::v1::Service;

/// The number of the first port whose name contains `metric` (any case); otherwise the ports
/// the Service has, as `name:number, ...` for the error.
pub fn metrics_port(service: &Service) -> Result<u16, String> {
    let ports = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or_default();
    ports
        .iter()
        .filter(|p| {
            p.name
                .as_deref()
                .is_some_and(|n| n.to_ascii_lowercase().contains("metric"))
        })
        .find_map(|p| u16::try_from(p.port).ok())
        .ok_or_else(|| {
            let listed: Vec<String> = ports
                .iter()
                .map(|p| format!("{}:{}", p.name.as_deref().unwrap_or("<unnamed>"), p.port))
                .collect();
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "epp", "namespace": "llm"},
            "spec": {"ports": ports}
        }))
        .expect("a Service")
    }

    #[test]
    fn the_port_named_for_metrics_not_the_grpc_one() {
        let svc = service(json!([
            {"name": "grpc-ext-proc", "port": 9002},
            {"name": "grpc-health", "port": 9003},
            {"name": "HTTP-Metrics", "port": 9090}
        ]));
        assert_eq!(metrics_port(&svc), Ok(9090));
    }

    #[test]
    fn without_one_the_ports_are_listed() {
        let svc = service(json!([{"name": "grpc-ext-proc", "port": 9002}, {"port": 9090}]));
        assert_eq!(
            metrics_port(&svc),
            Err("grpc-ext-proc:9002, <unnamed>:9090".to_string())
        );
        assert_eq!(metrics_port(&service(json!([]))), Err("none".to_string()));
    }
}
