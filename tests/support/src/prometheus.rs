//! Starts the real `prometheus` binary for a test: free loopback port, its own configuration
//! and data directory, scraping the given targets every second.

use crate::http;
use crate::pki::CertifiedKey;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One scrape target: an address and the labels Prometheus attaches to its series.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeTarget {
    /// `host:port`.
    pub address: String,
    /// Target labels, e.g. `namespace` and `pod`.
    pub labels: BTreeMap<String, String>,
    /// Keep the labels of the scraped series over the target's (`honor_labels`), for an
    /// endpoint that names its pods itself.
    pub honor_labels: bool,
}

impl ScrapeTarget {
    /// A target without labels.
    pub fn new(address: impl Into<String>) -> Self {
        ScrapeTarget {
            address: address.into(),
            labels: BTreeMap::new(),
            honor_labels: false,
        }
    }

    /// The same target, its series' own labels winning over the target's.
    pub fn honor_labels(mut self) -> Self {
        self.honor_labels = true;
        self
    }

    /// The same target with one more label.
    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.insert(name.to_string(), value.to_string());
        self
    }
}

/// Where the `prometheus` binary is: `$WVA_PROMETHEUS_BIN`, else `prometheus` on `PATH`, else
/// `/usr/bin/prometheus`. The error says how to install it.
pub fn prometheus_binary() -> Result<PathBuf, String> {
    locate_binary(
        std::env::var_os("WVA_PROMETHEUS_BIN").map(PathBuf::from),
        std::env::var_os("PATH"),
        Path::new("/usr/bin/prometheus"),
    )
}

/// Where `promtool` is: `$WVA_PROMTOOL_BIN`, else next to the `prometheus` binary (Debian's
/// prometheus package ships both). The error says how to install it.
pub fn promtool_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("WVA_PROMTOOL_BIN").map(PathBuf::from) {
        return Ok(path);
    }
    let promtool = prometheus_binary()?.with_file_name("promtool");
    if promtool.is_file() {
        Ok(promtool)
    } else {
        Err(format!(
            "promtool was not found next to prometheus ({}); install it with `apt-get install -y prometheus` or set WVA_PROMTOOL_BIN",
            promtool.display()
        ))
    }
}

fn locate_binary(
    explicit: Option<PathBuf>,
    search_path: Option<std::ffi::OsString>,
    fallback: &Path,
) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "WVA_PROMETHEUS_BIN={} is not a file; unset it or install Prometheus with `apt-get install -y prometheus`",
                path.display()
            ))
        };
    }
    search_path
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("prometheus"))
        .chain(std::iter::once(fallback.to_path_buf()))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!(
                "the prometheus binary was not found (looked at $WVA_PROMETHEUS_BIN, PATH and \
                 {}); install it with `apt-get install -y prometheus`",
                fallback.display()
            )
        })
}

/// HTTPS for the Prometheus API (its `--web.config.file`).
#[derive(Debug, Clone)]
pub struct PrometheusTls {
    /// The server certificate (must name `127.0.0.1`) and key.
    pub server: CertifiedKey,
    /// The CA (PEM) that signed the server certificate and, with `client`, client ones.
    pub ca_pem: String,
    /// When set, Prometheus requires a client certificate signed by the CA, and the launcher
    /// presents this one for its own readiness checks and queries.
    pub client: Option<CertifiedKey>,
}

/// Options of a [`Prometheus`] launch.
#[derive(Debug, Clone)]
pub struct PrometheusBuilder {
    targets: Vec<ScrapeTarget>,
    scrape_interval: Duration,
    startup_timeout: Duration,
    require_up: bool,
    tls: Option<PrometheusTls>,
}

impl PrometheusBuilder {
    /// Adds scrape targets.
    pub fn targets(mut self, targets: impl IntoIterator<Item = ScrapeTarget>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// Scrape (and evaluation) interval; 1 s by default.
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = interval;
        self
    }

    /// How long to wait for readiness and the first scrape; 30 s by default.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Whether `start` waits until every target was scraped successfully (`up == 1`, the
    /// default) or only until every target was scraped at all (for deliberately failing ones).
    pub fn require_up(mut self, require_up: bool) -> Self {
        self.require_up = require_up;
        self
    }

    /// Serves the API over HTTPS (optionally requiring a client certificate).
    pub fn tls(mut self, tls: PrometheusTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts Prometheus and waits until it is ready and has scraped every target once.
    pub fn start(self) -> Result<Prometheus, String> {
        let binary = prometheus_binary()?;
        let mut last_error = String::new();
        // The free port is found by binding and releasing it; another process may grab it in
        // between, so a start that fails on the port is retried on a fresh one.
        for _ in 0..5 {
            match Prometheus::launch(&binary, &self) {
                Ok(prometheus) => return Ok(prometheus),
                Err(LaunchFailure::PortTaken(log)) => last_error = log,
                Err(LaunchFailure::Other(error)) => return Err(error),
            }
        }
        Err(format!(
            "Prometheus could not bind a free port after 5 attempts: {last_error}"
        ))
    }
}

enum LaunchFailure {
    PortTaken(String),
    Other(String),
}

/// A running Prometheus server owned by a test; killed on drop.
pub struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    targets: usize,
    client_tls: Option<Arc<rustls::ClientConfig>>,
    /// The binary and its arguments, for [`Prometheus::restart`].
    command: (PathBuf, Vec<String>),
    startup_timeout: Duration,
    require_up: bool,
}

impl Prometheus {
    /// Options for a launch.
    pub fn builder() -> PrometheusBuilder {
        PrometheusBuilder {
            targets: Vec::new(),
            scrape_interval: Duration::from_secs(1),
            startup_timeout: Duration::from_secs(30),
            require_up: true,
            tls: None,
        }
    }

    /// Starts Prometheus scraping `targets` every second; waits for readiness and a first
    /// successful scrape of every target.
    pub fn start(targets: impl IntoIterator<Item = ScrapeTarget>) -> Result<Self, String> {
        Self::builder().targets(targets).start()
    }

    fn launch(binary: &Path, options: &PrometheusBuilder) -> Result<Self, LaunchFailure> {
        let other =
            |what: &str, error: std::io::Error| LaunchFailure::Other(format!("{what}: {error}"));
        let dir = tempfile::Builder::new()
            .prefix("wva-prometheus-")
            .tempdir()
            .map_err(|e| other("create Prometheus directory", e))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| other("find a free port", e))?
            .port();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config(options).to_string())
            .map_err(|e| other("write Prometheus configuration", e))?;
        let mut args = Vec::new();
        let client_tls = match &options.tls {
            Some(tls) => {
                let web_config = write_web_config(dir.path(), tls)
                    .map_err(|e| other("write Prometheus web configuration", e))?;
                args.push(format!("--web.config.file={}", web_config.display()));
                Some(Arc::new(client_config(tls)))
            }
            None => None,
        };
        args.extend([
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".to_string(),
        ]);
        let command = (binary.to_path_buf(), args);
        let child = spawn(&command, dir.path()).map_err(LaunchFailure::Other)?;
        let mut prometheus = Prometheus {
            child: Some(child),
            port,
            dir,
            targets: options.targets.len(),
            client_tls,
            command,
            startup_timeout: options.startup_timeout,
            require_up: options.require_up,
        };
        let deadline = Instant::now() + options.startup_timeout;
        prometheus.wait_ready(deadline).map_err(|error| {
            let log = prometheus.log();
            if log.contains("address already in use") {
                LaunchFailure::PortTaken(log)
            } else {
                LaunchFailure::Other(format!("{error}\nPrometheus log:\n{log}"))
            }
        })?;
        prometheus
            .wait_first_scrape(options.require_up, deadline)
            .map_err(|error| {
                LaunchFailure::Other(format!("{error}\nPrometheus log:\n{}", prometheus.log()))
            })?;
        Ok(prometheus)
    }

    fn wait_ready(&mut self, deadline: Instant) -> Result<(), String> {
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("Prometheus exited before it was ready ({status})"));
            }
            if let Ok((200, _)) = http::get(
                self.port,
                "/-/ready",
                Duration::from_secs(2),
                self.client_tls.as_ref(),
            ) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Prometheus on port {} was not ready in time",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_first_scrape(&self, require_up: bool, deadline: Instant) -> Result<(), String> {
        if self.targets == 0 {
            return Ok(());
        }
        let query = if require_up {
            "count(up == 1)"
        } else {
            "count(up)"
        };
        let wanted = self.targets as f64;
        self.wait_until_deadline(query, deadline, |result| {
            first_value(result) == Some(wanted)
        })
        .map_err(|error| {
            format!(
                "waiting for the first scrape of {} targets: {error}",
                self.targets
            )
        })
    }

    /// The HTTP API base URL: `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.client_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data and configuration directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs an instant query; returns `data.result` of a successful answer.
    pub fn query(&self, promql: &str) -> Result<Value, String> {
        let path = format!("/api/v1/query?query={}", http::percent_encode(promql));
        let (status, body) = http::get(
            self.port,
            &path,
            Duration::from_secs(10),
            self.client_tls.as_ref(),
        )
        .map_err(|e| format!("query {promql:?} on port {}: {e}", self.port))?;
        let answer: Value = serde_json::from_str(&body).map_err(|e| {
            format!("query {promql:?}: HTTP {status}, unreadable body {body:?}: {e}")
        })?;
        if answer["status"] != "success" {
            return Err(format!("query {promql:?}: HTTP {status}: {body}"));
        }
        Ok(answer["data"]["result"].clone())
    }

    /// Polls `promql` until `done(result)` holds or `timeout` passes.
    pub fn wait_until(
        &self,
        promql: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<(), String> {
        self.wait_until_deadline(promql, Instant::now() + timeout, done)
    }

    /// Polls until the first sample of `promql` equals `value`.
    pub fn wait_for_value(
        &self,
        promql: &str,
        value: f64,
        timeout: Duration,
    ) -> Result<(), String> {
        self.wait_until(promql, timeout, |result| first_value(result) == Some(value))
    }

    /// Polls until the rates over 5 minutes of the emulators' request-token histograms and
    /// prefix-cache counters see an increase (the token-capacity analyzer's inputs are
    /// ratios of such rates). Increase them after the second scrape of their targets.
    pub fn wait_for_token_rates(&self, timeout: Duration) -> Result<(), String> {
        self.wait_until(
            "sum(rate(vllm:prefix_cache_hits_total[5m])) > 0 and sum(rate(vllm:request_prompt_tokens_count[5m])) > 0",
            timeout,
            |result| result.as_array().is_some_and(|r| !r.is_empty()),
        )
    }

    fn wait_until_deadline(
        &self,
        promql: &str,
        deadline: Instant,
        done: impl Fn(&Value) -> bool,
    ) -> Result<(), String> {
        loop {
            let last = self.query(promql);
            if let Ok(result) = &last
                && done(result)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{promql:?} did not reach the expected result in time; last answer: {last:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (e.g. to test an outage). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (after [`stop`](Self::stop), e.g. at the end of an outage) on
    /// the same port, configuration and data directory, so clients keep their URL and the
    /// series scraped before keep their samples; waits for readiness and a scrape of every
    /// target as [`PrometheusBuilder::start`] does. A running server is stopped first. Fails
    /// when another process took the port in the meantime.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        // The scrape check must see a scrape of this run, not a sample from before the stop.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.child = Some(spawn(&self.command, self.dir.path())?);
        let deadline = Instant::now() + self.startup_timeout;
        self.wait_ready(deadline)
            .and_then(|()| self.wait_scrape_after(started, deadline))
            .map_err(|error| format!("{error}\nPrometheus log:\n{}", self.log()))
    }

    /// Waits until every target has an `up` sample newer than `after` (Unix seconds).
    fn wait_scrape_after(&self, after: f64, deadline: Instant) -> Result<(), String> {
        if self.targets == 0 {
            return Ok(());
        }
        let up = if self.require_up { " == 1" } else { "" };
        let query = format!("count(timestamp(up{up}) > {after})");
        let wanted = self.targets as f64;
        self.wait_until_deadline(&query, deadline, |result| {
            first_value(result) == Some(wanted)
        })
        .map_err(|error| {
            format!(
                "waiting for a scrape of {} targets after the restart: {error}",
                self.targets
            )
        })
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns `binary args` with stdout and stderr appended to `dir/prometheus.log`.
fn spawn((binary, args): &(PathBuf, Vec<String>), dir: &Path) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("prometheus.log"))
        .map_err(|e| format!("open Prometheus log: {e}"))?;
    let stdout = log
        .try_clone()
        .map_err(|e| format!("open Prometheus log: {e}"))?;
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))
}

/// The value of the first sample of a vector result, when there is one.
fn first_value(result: &Value) -> Option<f64> {
    result.get(0)?.get("value")?.get(1)?.as_str()?.parse().ok()
}

/// The configuration file (JSON is valid YAML).
fn config(options: &PrometheusBuilder) -> Value {
    let interval = format!("{}ms", options.scrape_interval.as_millis().max(1));
    let job = |name: &str, honor_labels: bool| {
        let static_configs: Vec<Value> = options
            .targets
            .iter()
            .filter(|target| target.honor_labels == honor_labels)
            .map(|target| json!({"targets": [target.address], "labels": target.labels}))
            .collect();
        json!({
            "job_name": name,
            "honor_labels": honor_labels,
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "metrics_path": "/metrics",
            "static_configs": static_configs,
        })
    };
    json!({
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [job("vllm", false), job("vllm-pods", true)],
    })
}

/// Writes the certificates and the `--web.config.file` for `tls`; returns the latter's path.
fn write_web_config(dir: &Path, tls: &PrometheusTls) -> std::io::Result<PathBuf> {
    let (cert, key) = tls.server.write_to(dir, "web");
    let ca = dir.join("web-ca.crt");
    std::fs::write(&ca, &tls.ca_pem)?;
    let mut server = json!({
        "cert_file": cert,
        "key_file": key,
        "min_version": "TLS12",
    });
    if tls.client.is_some() {
        server["client_auth_type"] = json!("RequireAndVerifyClientCert");
        server["client_ca_file"] = json!(ca);
    }
    let path = dir.join("web.yml");
    std::fs::write(&path, json!({ "tls_server_config": server }).to_string())?;
    Ok(path)
}

/// The launcher's own TLS client: trusts the CA, presents the client certificate if any.
fn client_config(tls: &PrometheusTls) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    match &tls.client {
        Some(client) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(client.cert_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .expect("client certificate PEM"),
                PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).expect("client key PEM"),
            )
            .expect("client certificate and key"),
        None => builder.with_no_client_auth(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = dir.path().join("prometheus");
        let error = locate_binary(None, Some(dir.path().into()), &nowhere).unwrap_err();
        assert!(error.contains("apt-get install -y prometheus"), "{error}");
        let error = locate_binary(Some(nowhere.clone()), None, &nowhere).unwrap_err();
        assert!(error.starts_with("WVA_PROMETHEUS_BIN="), "{error}");

        std::fs::write(&nowhere, "").unwrap();
        assert_eq!(
            locate_binary(None, Some(dir.path().into()), Path::new("/x")),
            Ok(nowhere.clone())
        );
        assert_eq!(locate_binary(None, None, &nowhere), Ok(nowhere));
    }
}
