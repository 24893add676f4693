//! An emulated inference gateway endpoint picker (EPP): its flow-control queue per model, as
//! `inference_extension_flow_control_queue_size{target_model_name=...}` on `/metrics`, the
//! signal scale-from-zero reads.

use crate::prometheus::ScrapeTarget;
use crate::server::{ServerHandle, StubResponse};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The emulated endpoint picker; stopped on drop.
pub struct GatewayEmulator {
    handle: ServerHandle,
    queues: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl GatewayEmulator {
    /// Starts on `127.0.0.1:0` with no queue.
    pub fn start() -> Self {
        let queues: Arc<Mutex<BTreeMap<String, f64>>> = Arc::default();
        let shared = queues.clone();
        let handle = ServerHandle::spawn(
            "epp-emulator",
            None,
            Arc::new(move |request| {
                if request.path != "/metrics" {
                    return StubResponse::text("not found\n").with_status(404);
                }
                StubResponse::text(render(&shared.lock().expect("gateway state")))
            }),
        )
        .expect("start EPP emulator");
        GatewayEmulator { handle, queues }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.handle.addr().to_string()
    }

    /// A scrape target for this endpoint picker, labelled with its `namespace` (what a
    /// Kubernetes service discovery attaches).
    pub fn target(&self, namespace: &str) -> ScrapeTarget {
        ScrapeTarget::new(self.address()).label("namespace", namespace)
    }

    /// Sets the queue of `model` (the `target_model_name` label).
    pub fn set_queue(&self, model: &str, size: f64) {
        self.queues
            .lock()
            .expect("gateway state")
            .insert(model.to_string(), size);
    }
}

fn render(queues: &BTreeMap<String, f64>) -> String {
    let mut out = String::from(
        "# HELP inference_extension_flow_control_queue_size Requests in the flow-control queue.\n\
         # TYPE inference_extension_flow_control_queue_size gauge\n",
    );
    for (model, size) in queues {
        out.push_str(&format!(
            "inference_extension_flow_control_queue_size{{target_model_name=\"{model}\",fairness_id=\"default\",priority=\"0\"}} {size}\n"
        ));
    }
    out
}
