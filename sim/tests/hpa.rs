//! `wva simulate` with the autoscaler the user gives: `--hpa FILE` (HPA and ScaledObject
//! manifests), `--keda`, the `--hpa-*` flags, and their errors.

mod common;

use common::{json, sample, temp_file, wva};

fn docs_sample(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/samples/").to_string() + name
}

/// The autoscaler of variant `i` in the JSON scenario.
fn autoscaler(v: &serde_json::Value, i: usize) -> &serde_json::Value {
    &v["scenario"]["variants"][i]["autoscaler"]
}

/// The pods of variant `i` in every timeline row.
fn pods(v: &serde_json::Value, i: usize) -> Vec<u64> {
    v["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|r| r["replicas"][i].as_u64().expect("count"))
        .collect()
}

#[test]
fn the_default_autoscaler_is_the_charts_hpa() {
    let v = json(&wva(&["simulate", "--json", "--duration", "2m"]).out);
    for i in 0..2 {
        let a = autoscaler(&v, i);
        assert_eq!(a["kind"], "hpa", "{a}");
        assert_eq!(a["scaleUp"]["stabilizationWindowSeconds"], 240, "{a}");
        assert_eq!(a["scaleDown"]["stabilizationWindowSeconds"], 240, "{a}");
        assert_eq!(
            a["scaleUp"]["policies"],
            serde_json::json!([{"type": "Pods", "value": 10, "periodSeconds": 150}])
        );
        assert_eq!(a["minReplicas"], 0, "the VA's minReplicas: {a}");
        assert_eq!(a["maxReplicas"], 10, "{a}");
        assert_eq!(a["tolerance"], 0.1);
        assert_eq!(a["syncSeconds"], 15);
    }
}

#[test]
fn the_docs_hpa_file_applies_to_the_variants_it_names() {
    let r = wva(&["simulate", "--json", "--hpa", &docs_sample("hpa.yaml")]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r.out);
    // docs/samples/hpa.yaml: minReplicas 1 for both: neither variant goes to zero, although
    // WVA sends both there.
    for i in 0..2 {
        assert_eq!(autoscaler(&v, i)["minReplicas"], 1);
        assert!(pods(&v, i).iter().all(|n| *n >= 1), "{:?}", pods(&v, i));
    }
    let last = v["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .expect("rows");
    assert_eq!(last["desired"], serde_json::json!([0, 0]), "{last}");
    assert_eq!(
        last["autoscaler"],
        serde_json::json!(["TooFewReplicas", "TooFewReplicas"]),
        "{last}"
    );
}

#[test]
fn a_scaled_object_file_and_keda_flag_run_the_variant_through_keda() {
    // docs/samples/keda-scaledobject.yaml names the A100 variant only; the H100 variant keeps
    // the chart's HPA.
    let r = wva(&[
        "simulate",
        "--json",
        "--hpa",
        &docs_sample("keda-scaledobject.yaml"),
    ]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r.out);
    let keda = autoscaler(&v, 0);
    assert_eq!(keda["kind"], "keda", "{keda}");
    assert_eq!(keda["pollingSeconds"], 5);
    assert_eq!(keda["cooldownSeconds"], 300);
    assert_eq!(keda["activationThreshold"], 0.5);
    assert_eq!(keda["hpa"]["maxReplicas"], 8, "the file's maxReplicaCount");
    assert_eq!(keda["hpa"]["minReplicas"], 1, "KEDA's HPA starts at 1");
    // Behavior fields the sample leaves out take Kubernetes' defaults.
    assert_eq!(keda["hpa"]["scaleUp"]["stabilizationWindowSeconds"], 240);
    assert_eq!(
        keda["hpa"]["scaleUp"]["policies"],
        serde_json::json!([
            {"type": "Percent", "value": 100, "periodSeconds": 15},
            {"type": "Pods", "value": 4, "periodSeconds": 15}
        ])
    );
    assert_eq!(autoscaler(&v, 1)["kind"], "hpa");
    let all = json(&wva(&["simulate", "--json", "--keda", "--duration", "2m"]).out);
    for i in 0..2 {
        assert_eq!(autoscaler(&all, i)["kind"], "keda");
        assert_eq!(
            autoscaler(&all, i)["hpa"]["maxReplicas"],
            10,
            "the VA's bound"
        );
    }
}

#[test]
fn keda_wakes_a_model_sooner_than_the_charts_hpa_at_zero() {
    let idle = sample("idle.csv");
    let wake = |extra: &[&str]| {
        let mut args = vec!["simulate", "--json", "--profile", &idle];
        args.extend_from_slice(extra);
        let v = json(&wva(&args).out);
        v["summary"]["wakes"][0]["ttftMaxSeconds"]
            .as_f64()
            .expect("the first wake's requests got a token")
    };
    // The wake at 10:01 is published at once; KEDA creates the pod at its next poll (5 s),
    // the chart's HPA (minReplicas 0) only after its 240 s scale-up window; start-up 90 s.
    assert_eq!(wake(&["--keda"]), 94.0);
    assert_eq!(wake(&[]), 329.0);
    assert_eq!(wake(&["--hpa-scale-up-window", "0s"]), 104.0);
    // The start-up time is a scenario parameter.
    assert_eq!(wake(&["--keda", "--startup-time", "30s"]), 34.0);
}

#[test]
fn the_hpa_flags_change_every_hpa() {
    let v = json(
        &wva(&[
            "simulate",
            "--json",
            "--duration",
            "2m",
            "--keda",
            "--hpa-scale-up-window",
            "30s",
            "--hpa-scale-down-window",
            "1m",
            "--hpa-tolerance",
            "0.05",
            "--hpa-sync-period",
            "30s",
            "--startup-time",
            "2m",
        ])
        .out,
    );
    for i in 0..2 {
        let hpa = &autoscaler(&v, i)["hpa"];
        assert_eq!(hpa["scaleUp"]["stabilizationWindowSeconds"], 30, "{hpa}");
        assert_eq!(hpa["scaleDown"]["stabilizationWindowSeconds"], 60, "{hpa}");
        assert_eq!(hpa["tolerance"], 0.05);
        assert_eq!(hpa["syncSeconds"], 30);
        assert_eq!(
            v["scenario"]["variants"][i]["replica"]["startupSeconds"],
            120
        );
    }
    for (flag, value, message) in [
        (
            "--hpa-scale-up-window",
            "2h",
            "--hpa-scale-up-window is 2h, expected whole seconds from 0s to 3600s",
        ),
        (
            "--hpa-sync-period",
            "0s",
            "--hpa-sync-period is 0s, expected whole seconds from 1s to 300s",
        ),
        (
            "--hpa-tolerance",
            "1.5",
            "--hpa-tolerance is 1.5, expected from 0 to below 1 (e.g. 0.1)",
        ),
        (
            "--startup-time",
            "1.5s",
            "--startup-time is 1.5s, expected whole seconds from 0s to 3600s",
        ),
    ] {
        let r = wva(&["simulate", flag, value]);
        assert_eq!(r.code, 1, "{flag} {value}");
        assert_eq!(r.err, format!("error: command line: {message}\n"));
    }
}

const HPA: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: a100-hpa
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: llama-8b-a100
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: External
      external:
        metric:
          name: wva_desired_replicas
        target:
          type: AverageValue
          averageValue: \"1\"
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      selectPolicy: Min
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
        - type: Percent
          value: 50
          periodSeconds: 60
";

#[test]
fn an_hpa_file_sets_bounds_behavior_and_kubernetes_defaults() {
    let file = temp_file("hpa.yaml", HPA);
    let v = json(
        &wva(&[
            "simulate",
            "--json",
            "--scale-up-step",
            "sized",
            "--hpa",
            &file,
        ])
        .out,
    );
    let a = autoscaler(&v, 0);
    assert_eq!(a["kind"], "hpa");
    assert_eq!(a["scaleUp"]["selectPolicy"], "Min");
    // scaleDown is left out: Kubernetes' default (300 s, 100 % per 15 s), not the chart's.
    assert_eq!(a["scaleDown"]["stabilizationWindowSeconds"], 300);
    assert_eq!(
        a["scaleDown"]["policies"],
        serde_json::json!([{"type": "Percent", "value": 100, "periodSeconds": 15}])
    );
    // sized asks for 10 at once; maxReplicas 4 bounds the pods, and Min of (1 pod, 50 %) per
    // 60 s makes it a step of one replica per minute.
    let a100 = pods(&v, 0);
    assert_eq!(a100.iter().max(), Some(&4), "{a100:?}");
    let rows = v["timeline"].as_array().expect("timeline");
    let mut steps = rows
        .windows(2)
        .filter(|w| w[1]["replicas"][0].as_u64() > w[0]["replicas"][0].as_u64());
    assert!(
        steps.all(|w| w[1]["replicas"][0].as_u64().unwrap()
            - w[0]["replicas"][0].as_u64().unwrap()
            == 1),
        "{a100:?}"
    );
}

#[test]
fn bad_autoscaler_files_name_the_file_document_field_and_fix() {
    let keda = std::fs::read_to_string(docs_sample("keda-scaledobject.yaml")).expect("sample");
    // (manifest, text replaced, by, the error after the file name)
    let cases = [
        (
            HPA,
            "periodSeconds: 60\n        - type: Percent",
            "periodSeconds: 0\n        - type: Percent",
            "document 1 (HorizontalPodAutoscaler a100-hpa): spec.behavior.scaleUp.policies[0].periodSeconds is 0, expected 1 to 1800",
        ),
        (
            HPA,
            "name: llama-8b-a100",
            "name: llama-8b-l40s",
            "spec.scaleTargetRef.name is \"llama-8b-l40s\", but no variant is named so; name one of: llama-8b-a100, llama-8b-h100",
        ),
        (
            HPA,
            "minReplicas: 1",
            "minReplicas: 6",
            "document 1 (HorizontalPodAutoscaler a100-hpa): spec.minReplicas (6) is above spec.maxReplicas (4); lower minReplicas or raise maxReplicas",
        ),
        (
            HPA,
            "type: AverageValue",
            "type: Value",
            "document 1 (HorizontalPodAutoscaler a100-hpa): spec.metrics[0].external.target.type is \"Value\", expected AverageValue (averageValue \"1\" makes the HPA's desired replicas equal WVA's)",
        ),
        (
            HPA,
            "name: wva_desired_replicas",
            "name: cpu",
            "document 1 (HorizontalPodAutoscaler a100-hpa): spec.metrics has no External metric wva_desired_replicas; the simulator applies WVA's desired replicas: use the metric of docs/samples/hpa.yaml",
        ),
        (
            HPA,
            "selectPolicy: Min",
            "selectPolicy: Least",
            "document 1 (HorizontalPodAutoscaler a100-hpa): spec.behavior.scaleUp.selectPolicy: unknown variant `Least`, expected one of `Max`, `Min`, `Disabled`",
        ),
        (
            HPA,
            "autoscaling/v2",
            "autoscaling/v1",
            "document 1 (HorizontalPodAutoscaler a100-hpa): apiVersion is \"autoscaling/v1\", expected autoscaling/v2 (behavior needs v2)",
        ),
        (
            HPA,
            "kind: HorizontalPodAutoscaler",
            "kind: Deployment",
            "document 1 (Deployment a100-hpa): kind is \"Deployment\", expected HorizontalPodAutoscaler or ScaledObject",
        ),
        (
            keda.as_str(),
            "pollingInterval: 5",
            "pollingInterval: 0",
            "document 1 (ScaledObject llama-8b-a100): spec.pollingInterval is 0, expected 1 to 3600 seconds",
        ),
        (
            keda.as_str(),
            "threshold: \"1\"",
            "threshold: \"one\"",
            "document 1 (ScaledObject llama-8b-a100): spec.triggers[0].metadata.threshold is \"one\", expected a number such as \"1\"",
        ),
    ];
    for (i, (manifest, from, to, message)) in cases.iter().enumerate() {
        let file = temp_file(&format!("bad-hpa-{i}.yaml"), &manifest.replace(from, to));
        let r = wva(&["simulate", "--hpa", &file]);
        assert_eq!(r.code, 1, "{message}");
        assert_eq!(r.err, format!("error: {file}: {message}\n"));
    }
}
