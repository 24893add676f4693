//! The part of the Prometheus text exposition format the EPP scrape needs: the samples of one
//! metric, summed by one label. Lines that do not parse are skipped, not fatal.

use std::collections::HashMap;

/// The samples of `metric` in `text` summed by the value of `label`; samples without the
/// label, non-finite values and malformed lines are skipped.
pub fn sum_by_label(text: &str, metric: &str, label: &str) -> HashMap<String, f64> {
    let mut sums = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix(metric) else {
            continue;
        };
        let Some((labels, value)) = sample(rest) else {
            continue;
        };
        let Some(key) = labels
            .into_iter()
            .find_map(|(name, value)| (name == label).then_some(value))
        else {
            continue;
        };
        if value.is_finite() {
            *sums.entry(key).or_insert(0.0) += value;
        }
    }
    sums
}

/// What follows a metric name: `{labels} value [timestamp]` or ` value [timestamp]`. `None`
/// when the name continues (another metric sharing the prefix) or the line is malformed.
fn sample(rest: &str) -> Option<(Vec<(String, String)>, f64)> {
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(inside) => label_set(inside)?,
        None if rest.starts_with([' ', '\t']) => (Vec::new(), rest),
        None => return None,
    };
    let value = rest.split_whitespace().next()?;
    Some((labels, value.parse().ok()?))
}

/// The labels of `name="value",...}` and the text after the closing brace.
fn label_set(mut text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, after) = text.split_once('=')?;
        let (value, after) = quoted(after.trim_start().strip_prefix('"')?)?;
        labels.push((name.trim().to_string(), value));
        text = after.trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

/// A label value up to its closing quote, unescaping `\\`, `\"` and `\n`, and the text after.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "inference_extension_flow_control_queue_size";

    #[test]
    fn sums_the_metric_by_label_and_ignores_everything_else() {
        let text = r#"# HELP inference_extension_flow_control_queue_size Requests queued.
# TYPE inference_extension_flow_control_queue_size gauge
inference_extension_flow_control_queue_size{fairness_id="a",priority="0",target_model_name="meta/llama"} 3
inference_extension_flow_control_queue_size{fairness_id="b",priority="1",target_model_name="meta/llama"} 2 1712345678000
inference_extension_flow_control_queue_size{target_model_name="qwen"} 0
inference_extension_flow_control_queue_size_total{target_model_name="meta/llama"} 100
inference_extension_flow_control_queue_bytes{target_model_name="meta/llama"} 4096
other_metric{target_model_name="meta/llama"} 7
inference_extension_flow_control_queue_size{priority="0"} 9
"#;
        let sums = sum_by_label(text, QUEUE, "target_model_name");
        assert_eq!(
            sums,
            HashMap::from([("meta/llama".to_string(), 5.0), ("qwen".to_string(), 0.0)])
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_the_rest_still_counts() {
        let text = concat!(
            "inference_extension_flow_control_queue_size{target_model_name=\"m\"} 1\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"m\" 4\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"m\"} many\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"m\"}\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"m\"} NaN\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"m\"} +Inf\n",
            "inference_extension_flow_control_queue_size{target_model_name=m} 8\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"\\\"q\\\\\\n\", x=\"}\"} 2\n",
            "inference_extension_flow_control_queue_size 6\n",
            "inference_extension_flow_control_queue_size{target_model_name=\"m\"} 1.5e0\n",
        );
        let sums = sum_by_label(text, QUEUE, "target_model_name");
        assert_eq!(
            sums,
            HashMap::from([("m".to_string(), 2.5), ("\"q\\\n".to_string(), 2.0)])
        );
    }
}
