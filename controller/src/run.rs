//! `wva run`: the controller.
//!
//! Startup: resolve the configuration (flags, env, the main ConfigMap read once, defaults) and
//! exit 1 on any problem; check Prometheus; serve probes and metrics; start the watches; elect
//! a leader. Then, on the leader only: every `GLOBAL_OPT_INTERVAL` one engine cycle (caches +
//! one batch of queries → decisions → status, metrics, events), and between cycles immediate
//! reactions to VA, Deployment and ConfigMap events.

use crate::assemble;
use crate::config::{self, Config, applied_message, apply_config_map, rejection_message};
use crate::configmaps::{ConfigMapState, Inputs, Notice};
use crate::gpus;
use crate::k8s::caches::{self, Caches, GpuInventory};
use crate::k8s::leader::{Elector, Timings};
use crate::k8s::status::{self, Target, WrittenStatuses};
use crate::scope::Scope;
use crate::telemetry::emit::Emitter;
use crate::telemetry::{health, metrics_server};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use prometheus::Registry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use wva_api::crd::VariantAutoscaling;
use wva_api::metrics::{MetricSet, WvaMetrics};
use wva_api::params::Sources;
use wva_collector::Collector;
use wva_engine::{Decision, EngineConfig};

/// The name events are reported under.
const REPORTER: &str = "workload-variant-autoscaler";

/// Runs the controller until SIGTERM or SIGINT. The error is what a user must fix; the
/// caller prints it and exits 1.
pub async fn run(mut startup: Sources) -> Result<(), String> {
    let rest_timeout =
        config::resolve_one("REST_CLIENT_TIMEOUT", &startup).map_err(|e| e.to_string())?;
    let (namespace, cm_name) = config::config_map_location(&startup);
    let client = crate::k8s::client::client(rest_timeout).await?;
    startup.config_map = read_main_config_map(&client, &namespace, &cm_name).await?;
    let config = config::load(&startup).map_err(|e| e.to_string())?;
    for warning in config.inert_warnings() {
        tracing::warn!("{warning}");
    }
    let s = &config.static_config;
    let collector = Collector::new(config::collector_settings(s)).map_err(|e| e.to_string())?;
    tracing::info!(url = %collector.base_url(), "Checking Prometheus connectivity");
    collector.check_connectivity().await.map_err(|e| {
        format!("CRITICAL: Failed to connect to Prometheus - WVA requires Prometheus connectivity for autoscaling decisions: {e}")
    })?;

    let registry = Registry::new();
    let metrics = WvaMetrics::register(&registry, s.controller_instance.as_deref())
        .map_err(|e| format!("cannot register metrics: {e}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = watch::channel(Err("caches are not synced yet".to_string()));
    if let Some(addr) = s.health_probe_bind_address.socket_addr() {
        tokio::spawn(health::serve(
            health::bind(addr).await?,
            ready_rx,
            stop_rx.clone(),
        ));
    }
    if let Some(addr) = s.metrics_bind_address.socket_addr() {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on METRICS_BIND_ADDRESS {addr}: {e}"))?;
        let (tls, access) = if s.metrics_secure {
            let tls = metrics_server::tls_config(
                s.metrics_cert_path.as_deref(),
                &s.metrics_cert_name,
                &s.metrics_cert_key,
                s.enable_http2,
            )?;
            (
                Some(tls),
                metrics_server::Access::Reviewed(metrics_server::Reviewer::new(client.clone())),
            )
        } else {
            (None, metrics_server::Access::Open)
        };
        tokio::spawn(metrics_server::serve(
            listener,
            tls,
            access,
            registry.clone(),
            stop_rx.clone(),
        ));
    }

    let scope = Scope::new(
        s.controller_instance.as_deref(),
        s.watch_namespace.as_deref(),
    );
    let gpu_inventory = if s.wva_limited_mode {
        tracing::info!(
            "Limited mode: watching Nodes and Pods for the GPU inventory; scale-ups are bounded by free GPUs per accelerator type"
        );
        GpuInventory::Watch
    } else {
        GpuInventory::Off
    };
    let (caches, streams) = caches::watch(&client, &scope, &namespace, gpu_inventory);
    let (trigger_tx, triggers) = mpsc::unbounded_channel();
    spawn_drivers(streams, trigger_tx, cm_name.clone());
    let (leading_tx, leading) = watch::channel(!s.leader_elect);
    let campaign = if s.leader_elect {
        let timings = Timings {
            lease_duration: s.leader_election_lease_duration,
            renew_deadline: s.leader_election_renew_deadline,
            retry_period: s.leader_election_retry_period,
        };
        let identity = std::env::var("HOSTNAME").unwrap_or_else(|_| "wva".into())
            + "_"
            + &std::process::id().to_string();
        let elector = Elector::new(
            Api::namespaced(client.clone(), &namespace),
            &s.leader_election_id,
            &identity,
            timings,
        );
        Some((
            elector.spawn(leading_tx, stop_rx.clone()),
            timings.renew_deadline,
        ))
    } else {
        drop(leading_tx);
        None
    };
    caches
        .wait_until_ready()
        .await
        .map_err(|e| format!("the caches stopped before syncing: {e}"))?;
    drop(ready_tx.send_replace(Ok(())));
    tracing::info!("Caches synced; controller ready");

    let reporter = Reporter {
        controller: REPORTER.into(),
        instance: std::env::var("HOSTNAME").ok(),
    };
    let mut controller = Controller {
        reporter,
        client,
        caches,
        scope,
        collector,
        emitter: Emitter::new(metrics.clone()),
        metrics,
        decisions: HashMap::new(),
        written: WrittenStatuses::default(),
        configmaps: ConfigMapState::default(),
        warned_accelerator: HashSet::new(),
        last_free_gpus: None,
        config,
        startup,
        config_map_id: format!("{namespace}/{cm_name}"),
        namespace,
    };
    let result = controller.run(triggers, leading).await;
    stop_tx.send_replace(true);
    // A leader releases the Lease before exiting, so a standby takes over at once.
    if let Some((campaign, timeout)) = campaign {
        campaign.finish(timeout).await;
    }
    result
}

/// Reads the main ConfigMap once at startup; a missing one is fine, an unreadable one is not.
async fn read_main_config_map(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    match Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
    {
        Ok(Some(cm)) => Ok(cm.data.unwrap_or_default()),
        Ok(None) => {
            tracing::info!(configmap = %format!("{namespace}/{name}"), "Main ConfigMap not found; using flags, env and defaults");
            Ok(BTreeMap::new())
        }
        Err(e) => Err(format!(
            "cannot read the main ConfigMap {namespace}/{name} (CONFIG_MAP_NAME in POD_NAMESPACE): {e}"
        )),
    }
}

/// What a watch event asks the controller to do.
enum Trigger {
    /// A VA was created, changed or deleted.
    Va {
        namespace: String,
        name: String,
        deleted: bool,
    },
    /// A Deployment was created, changed or deleted.
    Deployment { namespace: String, name: String },
    /// The main ConfigMap changed.
    MainConfigMap,
}

/// Drives every watch in its own task so the caches stay current during a cycle, and turns
/// the interesting events into triggers.
fn spawn_drivers(
    streams: caches::Streams,
    triggers: mpsc::UnboundedSender<Trigger>,
    cm_name: String,
) {
    fn key<K: Resource>(k: &K) -> (String, String) {
        (
            k.meta().namespace.clone().unwrap_or_default(),
            k.meta().name.clone().unwrap_or_default(),
        )
    }
    let tx = triggers.clone();
    tokio::spawn(streams.vas.for_each(move |event| {
        let trigger = match event {
            Ok(watcher::Event::Apply(va) | watcher::Event::InitApply(va)) => {
                Some((key(&va), false))
            }
            Ok(watcher::Event::Delete(va)) => Some((key(&va), true)),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "VariantAutoscaling watch error; retrying");
                None
            }
        };
        if let Some(((namespace, name), deleted)) = trigger {
            drop(tx.send(Trigger::Va {
                namespace,
                name,
                deleted,
            }));
        }
        async {}
    }));
    let tx = triggers.clone();
    tokio::spawn(streams.deployments.for_each(move |event| {
        match event {
            Ok(watcher::Event::Apply(d) | watcher::Event::Delete(d)) => {
                let (namespace, name) = key(&d);
                drop(tx.send(Trigger::Deployment { namespace, name }));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "Deployment watch error; retrying"),
        }
        async {}
    }));
    tokio::spawn(streams.config_maps.for_each(move |event| {
        match event {
            Ok(
                watcher::Event::Apply(cm)
                | watcher::Event::Delete(cm)
                | watcher::Event::InitApply(cm),
            ) if cm.metadata.name.as_deref() == Some(cm_name.as_str()) => {
                drop(triggers.send(Trigger::MainConfigMap));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ConfigMap watch error; retrying"),
        }
        async {}
    }));
    tokio::spawn(streams.others.for_each(|()| async {}));
}

/// Every effect handle and the state kept between cycles.
struct Controller {
    client: Client,
    reporter: Reporter,
    caches: Caches,
    scope: Scope,
    collector: Collector,
    metrics: WvaMetrics,
    emitter: Emitter,
    /// The latest decision per VA (namespace, name).
    decisions: HashMap<(String, String), Decision>,
    /// Statuses written that the VA cache may not show yet.
    written: WrittenStatuses,
    configmaps: ConfigMapState,
    warned_accelerator: HashSet<(String, String)>,
    /// Free GPUs per accelerator type of the previous cycle (limited mode), to log changes.
    last_free_gpus: Option<BTreeMap<String, u32>>,
    config: Config,
    startup: Sources,
    config_map_id: String,
    namespace: String,
}

impl Controller {
    async fn run(
        &mut self,
        mut triggers: mpsc::UnboundedReceiver<Trigger>,
        mut leading: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let mut period = self.config.dynamic_config.global_opt_interval;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if *leading.borrow() {
                        self.cycle().await;
                    }
                }
                Some(trigger) = triggers.recv() => {
                    let lead = *leading.borrow();
                    if self.handle(trigger, lead).await {
                        ticker.reset_immediately();
                    }
                    if self.config.dynamic_config.global_opt_interval != period {
                        period = self.config.dynamic_config.global_opt_interval;
                        ticker = tokio::time::interval(period);
                        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                }
                Ok(()) = leading.changed() => {
                    if *leading.borrow() {
                        tracing::info!("Leading: running the engine");
                        ticker.reset_immediately();
                    } else {
                        tracing::info!("Not leading: the engine is paused");
                    }
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        tracing::info!("Shutting down");
        Ok(())
    }

    /// Reacts to one watch event. Returns true when a cycle should run at once.
    async fn handle(&mut self, trigger: Trigger, leading: bool) -> bool {
        match trigger {
            Trigger::MainConfigMap => {
                self.apply_main_config_map().await;
                false
            }
            Trigger::Va {
                namespace,
                name,
                deleted: true,
            } => {
                self.emitter.forget(&namespace, &name);
                self.decisions.remove(&(namespace, name));
                false
            }
            Trigger::Va {
                namespace, name, ..
            } if leading => {
                let va = self
                    .caches
                    .vas
                    .get(&ObjectRef::new(&name).within(&namespace));
                match va {
                    Some(va) => self.reconcile(&va).await,
                    None => false,
                }
            }
            Trigger::Deployment { namespace, name } if leading => {
                let targeting: Vec<Arc<VariantAutoscaling>> = self
                    .caches
                    .vas
                    .state()
                    .into_iter()
                    .filter(|v| {
                        v.metadata.namespace.as_deref() == Some(&namespace)
                            && v.spec.scale_target_ref.name == name
                    })
                    .collect();
                let mut soon = false;
                for va in targeting {
                    soon |= self.reconcile(&va).await;
                }
                soon
            }
            _ => false,
        }
    }

    /// Brings one VA's status in line with its target; returns true when the target just
    /// appeared (a cycle should decide for it at once).
    async fn reconcile(&mut self, va: &VariantAutoscaling) -> bool {
        if !self.in_scope(va) {
            return false;
        }
        let (namespace, name) = (
            va.metadata.namespace.clone().unwrap_or_default(),
            va.metadata.name.clone().unwrap_or_default(),
        );
        let target_name = va.spec.scale_target_ref.name.clone();
        let exists = self
            .caches
            .deployments
            .get(&ObjectRef::new(&target_name).within(&namespace))
            .is_some();
        let target = if exists {
            Target::Found(&target_name)
        } else {
            Target::Missing(&target_name)
        };
        let decision = if exists {
            self.decisions
                .get(&(namespace.clone(), name.clone()))
                .cloned()
        } else {
            None
        };
        let was_missing = self.written.latest(va).is_none_or(|s| {
            !s.conditions
                .iter()
                .any(|c| c.type_ == "TargetResolved" && c.status == "True")
        });
        if !exists {
            self.emitter.forget(&namespace, &name);
            self.decisions.remove(&(namespace.clone(), name.clone()));
        }
        self.write_status(va, target, decision.as_ref()).await;
        exists && was_missing
    }

    /// True when this controller manages `va` (instance label and namespace rules). A VA
    /// whose namespace the cache does not hold yet waits: the namespace may be excluded.
    fn in_scope(&self, va: &VariantAutoscaling) -> bool {
        let namespace = va.metadata.namespace.as_deref().unwrap_or_default();
        let Some(ns) = self.caches.namespaces.get(&ObjectRef::new(namespace)) else {
            return false;
        };
        self.scope.owns_va(va.metadata.labels.as_ref())
            && self
                .scope
                .manages_namespace(namespace, ns.metadata.annotations.as_ref())
    }

    /// Writes the status `va` should have, only when it differs from the cached one; emits
    /// the Warning events of condition transitions.
    async fn write_status(
        &mut self,
        va: &VariantAutoscaling,
        target: Target<'_>,
        decision: Option<&Decision>,
    ) {
        let now = Time(jiff::Timestamp::now());
        let previous = self.written.latest(va);
        let desired = status::desired_status(
            previous.as_ref(),
            va.metadata.generation,
            target,
            decision,
            &now,
        );
        if previous.as_ref() == Some(&desired) {
            return;
        }
        let (namespace, name) = (
            va.metadata.namespace.clone().unwrap_or_default(),
            va.metadata.name.clone().unwrap_or_default(),
        );
        let api: Api<VariantAutoscaling> = Api::namespaced(self.client.clone(), &namespace);
        match status::write(&api, &name, &desired).await {
            Ok(version) => self.written.record(va, version.as_deref(), desired.clone()),
            Err(error) => {
                tracing::warn!(va = %format!("{namespace}/{name}"), %error, "Could not write VariantAutoscaling status");
                return;
            }
        }
        let became_false = |kind: &str| {
            let now_false = desired
                .conditions
                .iter()
                .any(|c| c.type_ == kind && c.status == "False");
            let was_false = previous.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == kind && c.status == "False")
            });
            now_false && !was_false
        };
        let reference = va.object_ref(&());
        if became_false("TargetResolved") {
            let message = format!(
                "Scale target Deployment {} not found in namespace {namespace}",
                va.spec.scale_target_ref.name
            );
            self.event(&reference, EventType::Warning, "TargetNotFound", message)
                .await;
        }
        if became_false("MetricsAvailable")
            && let Some(condition) = desired
                .conditions
                .iter()
                .find(|c| c.type_ == "MetricsAvailable")
        {
            self.event(
                &reference,
                EventType::Warning,
                "MetricsUnavailable",
                condition.message.clone(),
            )
            .await;
        }
    }

    /// Counts a rejected ConfigMap update and says why in a Warning event on the ConfigMap.
    async fn config_rejected(&self, namespace: &str, name: &str, reason: &str, message: String) {
        self.metrics
            .wva_config_updates_total
            .with_label_values(&[name, "rejected"])
            .inc();
        self.event(
            &config_map_ref(namespace, name),
            EventType::Warning,
            reason,
            message,
        )
        .await;
    }

    async fn event(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Autoscale".into(),
            secondary: None,
        };
        if let Err(error) = publish_event(&self.client, &self.reporter, &event, reference).await {
            tracing::warn!(%error, reason, "Could not publish event");
        }
    }

    /// One engine cycle on the leader.
    async fn cycle(&mut self) {
        let started = Instant::now();
        let vas: Vec<Arc<VariantAutoscaling>> = self
            .caches
            .vas
            .state()
            .into_iter()
            .filter(|va| self.in_scope(va))
            .collect();
        let engine_config = self.engine_config(&vas).await;
        let deployments_state = self.caches.deployments.state();
        let deployments: HashMap<(String, String), &Deployment> = deployments_state
            .iter()
            .map(|d| {
                (
                    (
                        d.metadata.namespace.clone().unwrap_or_default(),
                        d.metadata.name.clone().unwrap_or_default(),
                    ),
                    d.as_ref(),
                )
            })
            .collect();
        let pods_state = self.caches.pods.state();
        let pods: Vec<_> = pods_state.iter().map(AsRef::as_ref).collect();
        let va_refs: Vec<&VariantAutoscaling> = vas.iter().map(AsRef::as_ref).collect();
        let plan = assemble::plan(
            &va_refs,
            &deployments,
            &pods,
            &engine_config,
            self.scope.watch_namespace.as_deref(),
        );
        let signals = self.collector.collect(&plan.scope, &plan.pods).await;
        for (signal, error) in [
            ("kv_cache_usage", &signals.kv_error),
            ("queue_length", &signals.queue_error),
        ] {
            let result = if error.is_some() { "error" } else { "success" };
            self.metrics
                .wva_prometheus_queries_total
                .with_label_values(&[signal, result])
                .inc();
        }
        let now = jiff::Timestamp::now().as_second();
        let free_gpus = self.free_gpus();
        let snapshot = assemble::snapshot(&plan, &signals, engine_config, now, free_gpus);
        let cycle = wva_engine::decide(&snapshot);
        for report in &cycle.models {
            let transition = report
                .analysis
                .as_ref()
                .and_then(|a| a.transition.as_deref());
            for note in &report.notes {
                match transition {
                    Some(why) if *note == wva_engine::Note::InTransition => {
                        tracing::info!(namespace = %report.namespace, model = %report.model_id, reason = %why, "{note}");
                    }
                    _ => {
                        tracing::info!(namespace = %report.namespace, model = %report.model_id, "{note}");
                    }
                }
            }
        }
        let by_key: HashMap<(String, String), &Decision> = cycle
            .decisions
            .iter()
            .map(|d| ((d.namespace.clone(), d.variant.clone()), d))
            .collect();
        let mut present = BTreeSet::new();
        for member in &plan.members {
            let key = (member.namespace().to_string(), member.name().to_string());
            present.insert(key.clone());
            let target = &member.va.spec.scale_target_ref.name;
            match (member.deployment, by_key.get(&key)) {
                (None, _) => {
                    self.emitter.forget(&key.0, &key.1);
                    self.decisions.remove(&key);
                    self.write_status(member.va, Target::Missing(target), None)
                        .await;
                }
                (Some(_), Some(decision)) => {
                    self.apply(member.va, decision).await;
                    self.write_status(member.va, Target::Found(target), Some(decision))
                        .await;
                    self.decisions.insert(key, (*decision).clone());
                }
                (Some(_), None) => {
                    self.write_status(member.va, Target::Found(target), None)
                        .await
                }
            }
        }
        let stale: Vec<(String, String)> = self
            .emitter
            .published()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for (namespace, name) in stale {
            self.emitter.forget(&namespace, &name);
        }
        self.metrics
            .wva_engine_cycle_duration_seconds
            .observe(started.elapsed().as_secs_f64());
        tracing::info!(
            models = cycle.models.len(),
            decisions = cycle.decisions.len(),
            queries = signals.stats.queries,
            "Optimization completed successfully"
        );
    }

    /// Free GPUs per accelerator type from the Node and Pod caches (limited mode; `None`
    /// otherwise). Logged at info when they change, at debug otherwise.
    fn free_gpus(&mut self) -> Option<BTreeMap<String, u32>> {
        let inventory = self.caches.gpus.as_ref()?.inventory();
        for skipped in &inventory.skipped {
            tracing::debug!(
                node = %skipped.node,
                accelerator = skipped.accelerator.as_deref().unwrap_or("unknown"),
                "GPU node not counted in the inventory: {}",
                skipped.reason
            );
        }
        let free = inventory.free_gpus();
        if self.last_free_gpus.as_ref() == Some(&free) {
            tracing::debug!(inventory = %inventory, "Collected cluster accelerator inventory (Limited Mode)");
        } else if free.is_empty() {
            tracing::warn!(
                skipped = inventory.skipped.len(),
                "Limited mode: no schedulable, Ready node carries a GPU product label ({}); scale-ups get no GPUs",
                gpus::product_labels()
            );
        } else {
            tracing::info!(inventory = %inventory, "Collected cluster accelerator inventory (Limited Mode)");
        }
        self.last_free_gpus = Some(free.clone());
        Some(free)
    }

    /// Publishes one decision: metrics, safety-net log line, scaling events.
    async fn apply(&mut self, va: &VariantAutoscaling, decision: &Decision) {
        let previous = va
            .status
            .as_ref()
            .and_then(|s| s.desired_optimized_alloc.num_replicas)
            .and_then(|n| u32::try_from(n).ok());
        self.emitter.publish(decision, previous);
        let key = (decision.namespace.clone(), decision.variant.clone());
        let reference = va.object_ref(&());
        if decision.accelerator.is_none() && self.warned_accelerator.insert(key) {
            let note = format!(
                "No accelerator for {}: set the VA label inference.optimization/acceleratorName or a GPU product node selector on the Deployment; metrics use accelerator_type=\"unknown\"",
                decision.variant
            );
            self.event(
                &reference,
                EventType::Warning,
                "AcceleratorNotResolved",
                note,
            )
            .await;
        }
        if decision.safety_net {
            self.emitter.count_safety_net(decision);
            log_safety_net(decision);
        }
        let before = previous.unwrap_or(decision.current_replicas);
        if decision.desired_replicas != before {
            let (reason, verb) = if decision.desired_replicas > before {
                ("ScaledUp", "up")
            } else {
                ("ScaledDown", "down")
            };
            let note = format!(
                "Scaled {verb} from {before} to {} replicas: {}",
                decision.desired_replicas, decision.message
            );
            tracing::info!(variant = %decision.variant, namespace = %decision.namespace, from = before, to = decision.desired_replicas, reason = decision.reason.as_str(), "{note}");
            self.event(&reference, EventType::Normal, reason, note)
                .await;
        }
    }

    /// The saturation and scale-to-zero entries in force, with their notices handled.
    async fn engine_config(&mut self, vas: &[Arc<VariantAutoscaling>]) -> EngineConfig {
        let va_namespaces: BTreeSet<String> = vas
            .iter()
            .filter_map(|v| v.metadata.namespace.clone())
            .collect();
        let namespaces_state = self.caches.namespaces.state();
        let namespaces = namespaces_state
            .iter()
            .map(|n| (n.metadata.name.clone().unwrap_or_default(), n.as_ref()))
            .collect();
        let maps: Vec<Arc<ConfigMap>> = self
            .caches
            .controller_config_maps
            .state()
            .into_iter()
            .chain(self.caches.local_saturation.state())
            .chain(self.caches.local_scale_to_zero.state())
            .collect();
        let unique: BTreeMap<(Option<String>, Option<String>), &ConfigMap> = maps
            .iter()
            .map(|cm| {
                (
                    (cm.metadata.namespace.clone(), cm.metadata.name.clone()),
                    cm.as_ref(),
                )
            })
            .collect();
        let config_maps: Vec<&ConfigMap> = unique.into_values().collect();
        let (resolved, notices) = self.configmaps.refresh(&Inputs {
            controller_namespace: &self.namespace,
            scope: &self.scope,
            va_namespaces: &va_namespaces,
            namespaces: &namespaces,
            config_maps: &config_maps,
        });
        for notice in notices {
            match notice {
                Notice::Updated {
                    config_map,
                    message,
                    old_entries,
                    new_entries,
                } => {
                    tracing::info!(configmap = %config_map, oldEntries = old_entries, newEntries = new_entries, "{message}");
                }
                Notice::Invalid {
                    namespace,
                    name,
                    message,
                } => {
                    tracing::warn!(configmap = %format!("{namespace}/{name}"), "{message}");
                    self.config_rejected(&namespace, &name, "InvalidConfiguration", message)
                        .await;
                }
            }
        }
        let s = &self.config.static_config;
        EngineConfig {
            saturation: resolved.saturation,
            namespace_saturation: resolved.namespace_saturation,
            scale_to_zero: resolved.scale_to_zero,
            namespace_scale_to_zero: resolved.namespace_scale_to_zero,
            scale_to_zero_enabled: s.wva_scale_to_zero,
            limited_mode: s.wva_limited_mode,
        }
    }

    /// Applies a change of the main ConfigMap: mutable keys at once, immutable keys rejected.
    async fn apply_main_config_map(&mut self) {
        let (namespace, name) = self
            .config_map_id
            .split_once('/')
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .unwrap_or_default();
        let data = self
            .caches
            .controller_config_maps
            .get(&ObjectRef::new(&name).within(&namespace))
            .and_then(|cm| cm.data.clone())
            .unwrap_or_default();
        match apply_config_map(&self.config, &self.startup, data) {
            Ok(update) => {
                for change in &update.applied {
                    tracing::info!(
                        key = change.spec.key,
                        old = %change.spec.display_value(&change.old),
                        new = %change.spec.display_value(&change.new),
                        "{}",
                        applied_message(change)
                    );
                }
                if !update.applied.is_empty() {
                    self.metrics
                        .wva_config_updates_total
                        .with_label_values(&[&name, "applied"])
                        .inc();
                }
                if !update.rejected.is_empty() {
                    let message = rejection_message(&self.config_map_id, &update.rejected);
                    tracing::error!(configmap = %self.config_map_id, "Attempted to change immutable parameters: {message}");
                    tracing::info!(
                        "Rejected immutable parameter changes, continuing with mutable parameter updates"
                    );
                    self.config_rejected(
                        &namespace,
                        &name,
                        "ImmutableConfigChangeRejected",
                        message,
                    )
                    .await;
                }
                self.config = update.config;
            }
            Err(error) => {
                let message = format!(
                    "ConfigMap {} was not applied, the running configuration stays: {error}",
                    self.config_map_id
                );
                tracing::warn!("{message}");
                self.config_rejected(&namespace, &name, "InvalidConfiguration", message)
                    .await;
            }
        }
    }
}

fn config_map_ref(namespace: &str, name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..ObjectReference::default()
    }
}

/// Publishes one event as an Event object of its own. kube's `Recorder` deduplicates on type,
/// reason, action and object but not on the note: with one shared recorder, the second
/// `ScaledUp` of a VA only bumped the series of the first, and `kubectl get events` kept
/// showing "Scaled up from 1 to 2" after the 2 -> 3 scale-up. WVA publishes events on changes
/// only, so nothing repeats often enough to need a series.
async fn publish_event(
    client: &Client,
    reporter: &Reporter,
    event: &Event,
    reference: &ObjectReference,
) -> Result<(), kube::Error> {
    Recorder::new(client.clone(), reporter.clone())
        .publish(event, reference)
        .await
}

/// The safety-net log line, values unquoted as the user guide shows them
/// (`fallbackSource=current-replicas`), so a `grep` for them finds it.
fn log_safety_net(decision: &Decision) {
    tracing::warn!(
        variant = %decision.variant,
        namespace = %decision.namespace,
        currentReplicas = decision.current_replicas,
        desiredReplicas = decision.desired_replicas,
        accelerator = %decision.accelerator.as_deref().unwrap_or("unknown"),
        fallbackSource = %decision.fallback_source.map_or("", |f| f.as_str()),
        "{}",
        wva_engine::Note::SafetyNet
    );
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, String> {
    tokio::signal::unix::signal(kind).map_err(|e| format!("cannot install a signal handler: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wva_engine::{Action, FallbackSource, MetricsCondition, MetricsReason, Reason};

    /// Two events that differ only in their note are two Events, each with its note.
    #[tokio::test]
    async fn every_scaling_event_keeps_its_own_note() {
        let double = wva_kube_double::KubeDouble::start().await;
        let config = kube::Config::new(double.url().parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let reporter = Reporter {
            controller: REPORTER.into(),
            instance: None,
        };
        let reference = ObjectReference {
            api_version: Some("llmd.ai/v1alpha1".into()),
            kind: Some("VariantAutoscaling".into()),
            namespace: Some("default".into()),
            name: Some("llama-8b".into()),
            ..ObjectReference::default()
        };
        for note in [
            "Scaled up from 1 to 2 replicas",
            "Scaled up from 2 to 3 replicas",
        ] {
            let event = Event {
                type_: EventType::Normal,
                reason: "ScaledUp".into(),
                note: Some(note.into()),
                action: "Autoscale".into(),
                secondary: None,
            };
            publish_event(&client, &reporter, &event, &reference)
                .await
                .expect("published");
        }
        let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client, "default");
        let mut notes: Vec<String> = events
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter_map(|e| e.note)
            .collect();
        notes.sort();
        assert_eq!(
            notes,
            [
                "Scaled up from 1 to 2 replicas",
                "Scaled up from 2 to 3 replicas"
            ]
        );
    }

    #[test]
    fn the_safety_net_line_has_the_fields_of_the_user_guide_unquoted() {
        let decision = Decision {
            namespace: "llm-d".into(),
            model_id: "meta/llama".into(),
            variant: "my-va".into(),
            accelerator: Some("H100".into()),
            current_replicas: 2,
            desired_replicas: 2,
            action: Action::NoChange,
            reason: Reason::SafetyNet,
            message: "safety net keeps 2 replicas (current-replicas)".into(),
            safety_net: true,
            fallback_source: Some(FallbackSource::CurrentReplicas),
            limited: false,
            clamped: false,
            metrics_available: MetricsCondition {
                status: false,
                reason: MetricsReason::PrometheusError,
                message: "down".into(),
            },
        };
        let log = crate::telemetry::logging::captured(|| log_safety_net(&decision));
        assert!(
            log.contains(
                "Safety net activated: emitted fallback metrics variant=my-va namespace=llm-d currentReplicas=2 desiredReplicas=2 accelerator=H100 fallbackSource=current-replicas"
            ),
            "{log}"
        );
    }
}
