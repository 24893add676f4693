//! The Grafana dashboard, generated from the metric declarations and a small layout.
//!
//! [`LAYOUT`] lists rows of panels; each panel's queries name declared metrics, and its
//! description is the HELP text of the first metric it reads. build.rs writes the JSON into
//! the chart's `files/wva-dashboard.json`, which the chart's dashboard ConfigMap embeds.

use crate::metrics::{MetricSet, MetricSpec, WvaMetrics, metrics_read_by};
use crate::render::{RenderError, to_json_pretty};
use serde_json::{Value, json};

/// Path of the dashboard, relative to the chart directory.
pub const DASHBOARD_FILE: &str = "files/wva-dashboard.json";

/// The dashboard's stable uid.
pub const UID: &str = "wva-overview";

/// Grid width of a Grafana dashboard.
pub const GRID_WIDTH: u32 = 24;

/// Height of every panel, in grid units.
pub const PANEL_HEIGHT: u32 = 8;

/// One query of a panel.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// PromQL; every `wva_` name in it must be a declared metric.
    pub expr: &'static str,
    /// The series legend (Grafana `legendFormat`).
    pub legend: &'static str,
}

/// One time-series panel.
#[derive(Debug, Clone, Copy)]
pub struct Panel {
    /// The title.
    pub title: &'static str,
    /// The Grafana unit of the values (`short`, `s`, `percentunit`, `reqps`).
    pub unit: &'static str,
    /// The queries.
    pub queries: &'static [Query],
}

const fn q(expr: &'static str, legend: &'static str) -> Query {
    Query { expr, legend }
}

/// The namespace of a model or VA in a legend, whichever scrape configuration (see
/// `alerts.rs`).
macro_rules! ns {
    () => {
        "{{exported_namespace}}{{namespace}}"
    };
}

/// The rows of the dashboard, top to bottom; the panels of a row share its width equally.
pub const LAYOUT: &[&[Panel]] = &[
    &[
        Panel {
            title: "Desired replicas per variant",
            unit: "short",
            queries: &[q(
                "wva_desired_replicas",
                concat!(ns!(), "/{{variant_name}} desired"),
            )],
        },
        Panel {
            title: "Current replicas per variant",
            unit: "short",
            queries: &[q(
                "wva_current_replicas",
                concat!(ns!(), "/{{variant_name}} current"),
            )],
        },
    ],
    &[
        Panel {
            title: "Spare KV cache per model",
            unit: "percentunit",
            queries: &[q(
                "wva_model_spare_capacity{signal=\"kv_cache\"}",
                concat!(ns!(), "/{{model_id}}"),
            )],
        },
        Panel {
            title: "Spare queue per model",
            unit: "short",
            queries: &[q(
                "wva_model_spare_capacity{signal=\"queue\"}",
                concat!(ns!(), "/{{model_id}}"),
            )],
        },
        Panel {
            title: "Saturated replicas per model",
            unit: "short",
            queries: &[q(
                "wva_model_saturated_replicas",
                concat!(ns!(), "/{{model_id}}"),
            )],
        },
    ],
    &[
        Panel {
            title: "Safety-net activations",
            unit: "short",
            queries: &[q(
                "sum by (exported_namespace, namespace, variant_name, fallback_source) (increase(wva_safety_net_activations_total[5m]))",
                concat!(ns!(), "/{{variant_name}} {{fallback_source}}"),
            )],
        },
        Panel {
            title: "Models on the safety net",
            unit: "short",
            queries: &[q(
                "wva_model_safety_net == 1",
                concat!(ns!(), "/{{model_id}}"),
            )],
        },
    ],
    &[
        Panel {
            title: "Engine cycle duration",
            unit: "s",
            queries: &[
                q(
                    "histogram_quantile(0.5, sum by (le) (rate(wva_engine_cycle_duration_seconds_bucket[5m])))",
                    "p50",
                ),
                q(
                    "histogram_quantile(0.95, sum by (le) (rate(wva_engine_cycle_duration_seconds_bucket[5m])))",
                    "p95",
                ),
            ],
        },
        Panel {
            title: "Models and variants per cycle",
            unit: "short",
            queries: &[
                q("max(wva_cycle_models)", "models"),
                q("max(wva_cycle_variants)", "variants"),
            ],
        },
    ],
    &[
        Panel {
            title: "Prometheus query errors",
            unit: "reqps",
            queries: &[q(
                "sum by (signal) (rate(wva_prometheus_queries_total{result=\"error\"}[5m]))",
                "{{signal}}",
            )],
        },
        Panel {
            title: "Prometheus query duration (p95)",
            unit: "s",
            queries: &[q(
                "histogram_quantile(0.95, sum by (le, signal) (rate(wva_prometheus_query_duration_seconds_bucket[5m])))",
                "{{signal}}",
            )],
        },
    ],
    &[
        Panel {
            title: "Free GPUs per accelerator type (limited mode)",
            unit: "short",
            queries: &[q(
                "max by (accelerator_type) (wva_free_gpus)",
                "{{accelerator_type}}",
            )],
        },
        Panel {
            title: "Decisions limited by GPUs",
            unit: "short",
            queries: &[q(
                "sum by (accelerator_type) (increase(wva_gpu_limited_decisions_total[5m]))",
                "{{accelerator_type}}",
            )],
        },
    ],
];

/// The HELP text of the first declared metric `panel` reads (empty when none is declared:
/// the dashboard test then fails).
fn description(panel: &Panel, specs: &[MetricSpec]) -> String {
    panel
        .queries
        .iter()
        .flat_map(|query| metrics_read_by(query.expr, specs))
        .find_map(|name| specs.iter().find(|s| s.name == name))
        .map(|spec| spec.help.to_string())
        .unwrap_or_default()
}

/// The dashboard as a JSON value: one time-series panel per [`LAYOUT`] entry, ids from 1,
/// positions row by row.
pub fn dashboard() -> Value {
    let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
    let mut panels = Vec::new();
    let mut y = 0;
    for row in LAYOUT {
        let count = u32::try_from(row.len()).unwrap_or(1).max(1);
        let width = GRID_WIDTH / count;
        for (column, panel) in (0u32..).zip(row.iter()) {
            let targets: Vec<Value> = panel
                .queries
                .iter()
                .zip('A'..)
                .map(|(query, ref_id)| {
                    json!({
                        "refId": ref_id.to_string(),
                        "datasource": datasource,
                        "expr": query.expr,
                        "legendFormat": query.legend,
                    })
                })
                .collect();
            panels.push(json!({
                "id": panels.len() + 1,
                "type": "timeseries",
                "title": panel.title,
                "description": description(panel, WvaMetrics::SPECS),
                "datasource": datasource,
                "gridPos": {"x": column * width, "y": y, "w": width, "h": PANEL_HEIGHT},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": targets,
            }));
        }
        y += PANEL_HEIGHT;
    }
    json!({
        "uid": UID,
        "title": "Workload Variant Autoscaler",
        "description": "Generated by build.rs from the metric declarations in api/src/metrics.rs and the layout in api/src/dashboard.rs; do not edit.",
        "tags": ["wva", "autoscaling"],
        "editable": true,
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
        }]},
        "panels": panels,
    })
}

/// The dashboard JSON file.
pub fn dashboard_json() -> Result<String, RenderError> {
    to_json_pretty("the Grafana dashboard", &dashboard()).map(|text| text + "\n")
}

/// Pixels per grid column and per grid row of the layout picture.
const CELL: (u32, u32) = (40, 12);

/// The panel layout as an SVG picture: one labelled box per panel at its `gridPos`, drawn from
/// the same positions as the dashboard (`generated/docs/dashboard-layout.svg`).
pub fn layout_svg() -> Result<String, RenderError> {
    let dashboard = dashboard();
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    let rows = u32::try_from(LAYOUT.len()).unwrap_or(0);
    let (width, height) = (GRID_WIDTH * CELL.0, rows * PANEL_HEIGHT * CELL.1);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"14\">\n\
         <!-- {} -->\n<rect width=\"{width}\" height=\"{height}\" fill=\"#181b1f\"/>\n",
        crate::render::HEADER
    );
    for panel in &panels {
        let grid = &panel["gridPos"];
        let at = |key: &str, scale: u32| grid[key].as_u64().unwrap_or(0) * u64::from(scale);
        let (x, y, w, h) = (
            at("x", CELL.0),
            at("y", CELL.1),
            at("w", CELL.0),
            at("h", CELL.1),
        );
        let title = panel["title"].as_str().unwrap_or_default();
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"#22252b\" stroke=\"#5794f2\"/>\n\
             <text x=\"{}\" y=\"{}\" fill=\"#d8d9da\">{}</text>\n",
            x + 3,
            y + 3,
            w.saturating_sub(6),
            h.saturating_sub(6),
            x + 12,
            y + 26,
            escape(title),
        ));
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// `text` escaped for XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn panels() -> Vec<Value> {
        dashboard()["panels"].as_array().expect("panels").clone()
    }

    #[test]
    fn panels_read_only_declared_metrics_and_have_unique_ids() {
        let declared: BTreeSet<&str> = WvaMetrics::SPECS.iter().map(|s| s.name).collect();
        let mut ids = BTreeSet::new();
        for panel in panels() {
            assert!(
                ids.insert(panel["id"].as_u64().expect("id")),
                "duplicate id in {panel}"
            );
            assert!(
                !panel["description"].as_str().unwrap_or_default().is_empty(),
                "{panel}"
            );
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{panel}");
            for target in targets {
                let expr = target["expr"].as_str().expect("expr");
                let read = metrics_read_by(expr, WvaMetrics::SPECS);
                assert!(!read.is_empty(), "{expr} reads no WVA metric");
                for metric in read {
                    assert!(
                        declared.contains(metric),
                        "{expr}: {metric} is not declared"
                    );
                }
            }
        }
    }

    #[test]
    fn panels_fit_the_grid_without_overlapping() {
        let cells = |p: &Value| {
            let g = &p["gridPos"];
            let n = |k: &str| g[k].as_u64().expect("gridPos field");
            (n("x"), n("y"), n("w"), n("h"))
        };
        let mut taken = BTreeSet::new();
        for panel in panels() {
            let (x, y, w, h) = cells(&panel);
            assert!(w > 0 && h > 0 && x + w <= u64::from(GRID_WIDTH), "{panel}");
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(
                        taken.insert((cx, cy)),
                        "{} overlaps at ({cx}, {cy})",
                        panel["title"]
                    );
                }
            }
        }
    }

    #[test]
    fn the_dashboard_covers_what_operators_look_at() {
        let text = dashboard_json().expect("renders");
        for metric in [
            "wva_desired_replicas",
            "wva_current_replicas",
            "wva_model_spare_capacity",
            "wva_safety_net_activations_total",
            "wva_engine_cycle_duration_seconds",
            "wva_prometheus_queries_total",
            "wva_free_gpus",
        ] {
            assert!(text.contains(metric), "no panel reads {metric}");
        }
    }
}
