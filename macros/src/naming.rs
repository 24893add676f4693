//! Name conversions shared by the derives.

/// `metrics_bind_address` → `metrics-bind-address`.
pub fn kebab(field: &str) -> String {
    field.trim_start_matches("r#").replace('_', "-")
}

/// `metrics_bind_address` → `METRICS_BIND_ADDRESS`.
pub fn upper_snake(field: &str) -> String {
    field.trim_start_matches("r#").to_ascii_uppercase()
}

/// True for a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// True for a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
