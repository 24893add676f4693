//! The text grammar of parameter values: durations, booleans and bind addresses.
//!
//! The runtime loader parses with these functions, and `wva-macros` checks every
//! `default = "..."` and `min = "..."` at compile time with the same functions, so a literal the
//! derive accepts is one the loader accepts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Parses a duration such as `60s`, `2m`, `1h30m`, `500ms` or `1.5s`.
///
/// A unit is mandatory (a bare `15` is rejected rather than read as nanoseconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let expected = "expected a duration with a unit (ms, s, m, h), like 60s, 2m or 1h30m";
    if text.is_empty() {
        return Err(format!("{expected}, got an empty value"));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{expected}, got {text:?}"))?;
        let seconds = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("{expected}, got {text:?} (the unit is missing)")),
            other => return Err(format!("{expected}, got {text:?} (unknown unit {other:?})")),
        };
        total += value * seconds;
        rest = tail;
    }
    if !total.is_finite() || total > 1e12 {
        return Err(format!("{expected}, got {text:?} (too large)"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way users write it: `120s`, `500ms`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Parses `true`/`false` (also `1`/`0`, `yes`/`no`), case-insensitively.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected true or false, got {text:?}")),
    }
}

/// Parses a bind address: `0` (disabled), `:8443` (all interfaces), `127.0.0.1:8080`,
/// `[::1]:8080` or `localhost:8080`. Returns `None` for `0`.
pub fn parse_bind_address(text: &str) -> Result<Option<SocketAddr>, String> {
    let text = text.trim();
    let expected = "expected a bind address like :8443, 127.0.0.1:8080 or 0 (disabled)";
    if text == "0" {
        return Ok(None);
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{expected}, got {text:?} (no port)"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{expected}, got {text:?} (port is not a number from 0 to 65535)"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" | "0.0.0.0" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other
            .parse()
            .map_err(|_| format!("{expected}, got {text:?} (host is not an IP address)"))?,
    };
    Ok(Some(SocketAddr::new(ip, port)))
}
