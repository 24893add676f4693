//! Reading Prometheus `/api/v1/query` answers without copying label values that need no
//! unescaping.

use crate::error::QueryFailure;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType", borrow)]
    result_type: Cow<'a, str>,
    #[serde(borrow)]
    result: &'a RawValue,
}

/// One series of a vector result: its labels (of type `L`) and its sample value as sent.
#[derive(Deserialize)]
pub(crate) struct RawSample<'a, L> {
    pub(crate) metric: L,
    #[serde(borrow)]
    pub(crate) value: (f64, Cow<'a, str>),
}

impl<L> RawSample<'_, L> {
    /// The value, or `None` when it is NaN, ±Inf or unreadable: missing, never 0.
    pub(crate) fn finite_value(&self) -> Option<f64> {
        parse_value(&self.value.1)
    }
}

/// Parses a sample value as Prometheus writes it (`"0.25"`, `"NaN"`, `"+Inf"`, `"-Inf"`);
/// only finite numbers are kept.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" | "+Inf" | "-Inf" | "Inf" => None,
        other => other.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// Parses a successful answer's vector result; `status` is the HTTP status.
pub(crate) fn parse_vector<'a, L: Deserialize<'a>>(
    status: u16,
    body: &'a [u8],
) -> Result<Vec<RawSample<'a, L>>, QueryFailure> {
    let envelope: Envelope<'a> = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(error) if (200..300).contains(&status) => {
            return Err(QueryFailure::Decode(format!(
                "{error}; body starts {}",
                snippet(body)
            )));
        }
        Err(_) => {
            return Err(QueryFailure::Status {
                status,
                detail: snippet(body),
            });
        }
    };
    if envelope.status != "success" || !(200..300).contains(&status) {
        let detail = match (envelope.error_type, envelope.error) {
            (Some(kind), Some(error)) => format!("{kind}: {error}"),
            (None, Some(error)) => error,
            _ => snippet(body),
        };
        return Err(QueryFailure::Status { status, detail });
    }
    let data = envelope
        .data
        .ok_or_else(|| QueryFailure::Decode("a success answer without data".to_string()))?;
    if data.result_type != "vector" {
        return Err(QueryFailure::ResultType(data.result_type.into_owned()));
    }
    serde_json::from_str(data.result.get()).map_err(|error| QueryFailure::Decode(error.to_string()))
}

/// One series of a vector result with all its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Every label of the series.
    pub labels: BTreeMap<String, String>,
    /// The value; `None` when Prometheus sent NaN or ±Inf.
    pub value: Option<f64>,
}

/// Converts parsed samples with generic labels to [`Sample`]s.
pub(crate) fn owned_samples<L>(samples: Vec<RawSample<'_, L>>) -> Vec<Sample>
where
    L: Into<BTreeMap<String, String>>,
{
    samples
        .into_iter()
        .map(|sample| {
            let value = sample.finite_value();
            Sample {
                labels: sample.metric.into(),
                value,
            }
        })
        .collect()
}

/// All labels, as owned strings.
#[derive(Deserialize)]
pub(crate) struct AllLabels(pub(crate) BTreeMap<String, String>);

impl From<AllLabels> for BTreeMap<String, String> {
    fn from(labels: AllLabels) -> Self {
        labels.0
    }
}

fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> Result<Vec<Sample>, QueryFailure> {
        parse_vector::<AllLabels>(status, body.as_bytes()).map(owned_samples)
    }

    #[test]
    fn special_values_are_missing_never_zero() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"pod":"a"},"value":[1.5,"0.25"]},
            {"metric":{"pod":"b"},"value":[1.5,"NaN"]},
            {"metric":{"pod":"c"},"value":[1.5,"+Inf"]},
            {"metric":{"pod":"d"},"value":[1.5,"-Inf"]},
            {"metric":{"pod":"e\"\\"},"value":[1.5,"1e3"]}]}}"#;
        let samples = parse(200, body).expect("parse");
        let values: Vec<_> = samples.iter().map(|s| s.value).collect();
        assert_eq!(values, [Some(0.25), None, None, None, Some(1000.0)]);
        assert_eq!(samples[4].labels["pod"], "e\"\\");
    }

    #[test]
    fn errors_name_status_and_prometheus_message() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(
            parse(400, body),
            Err(QueryFailure::Status {
                status: 400,
                detail: "bad_data: parse error at char 5".to_string()
            })
        );
        assert_eq!(
            parse(502, "<html>bad gateway</html>"),
            Err(QueryFailure::Status {
                status: 502,
                detail: "<html>bad gateway</html>".to_string()
            })
        );
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#;
        assert_eq!(
            parse(200, scalar),
            Err(QueryFailure::ResultType("scalar".to_string()))
        );
        assert!(matches!(parse(200, "{"), Err(QueryFailure::Decode(_))));
    }

    #[test]
    fn value_text() {
        assert_eq!(parse_value("3"), Some(3.0));
        assert_eq!(parse_value("NaN"), None);
        assert_eq!(parse_value("inf"), None);
        assert_eq!(parse_value("garbage"), None);
    }
}
