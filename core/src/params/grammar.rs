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

/// The boolean grammar, as stated in the parameter reference and in errors.
pub const BOOL_GRAMMAR: &str = "true/false, yes/no, on/off or 1/0 (any case)";

/// Parses a boolean: `true`/`false`, `yes`/`no`, `on`/`off` or `1`/`0`, case-insensitively.
/// Every boolean the controller reads (flags, env, the main ConfigMap, scale-to-zero
/// entries) goes through this one grammar.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("expected {BOOL_GRAMMAR}, got {text:?}")),
    }
}

/// Checks an absolute `http://` or `https://` URL with a host and an optional port and path,
/// such as `https://prometheus:9090/prefix`; returns its scheme (`http` or `https`).
pub fn parse_http_url(text: &str) -> Result<&'static str, String> {
    let expected = "expected an absolute http(s) URL with a host, like https://prometheus:9090";
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(format!("{expected}, got {text:?}"));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!("{expected}, got {text:?} (no scheme)"));
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => "https",
        "http" => "http",
        _ => {
            return Err(format!(
                "{expected}, got {text:?} (the scheme must be https or http, not {scheme:?})"
            ));
        }
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:9090`.
        Some(v6) => match v6.split_once(']') {
            Some((ip, "")) => (ip, None),
            Some((ip, after)) => (ip, Some(after.strip_prefix(':').unwrap_or(after))),
            None => ("", None),
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{expected}, got {text:?} (no host)"));
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(format!(
            "{expected}, got {text:?} (the port {port:?} is not a number from 1 to 65535)"
        ));
    }
    Ok(scheme)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_one_grammar_in_any_case() {
        for yes in ["true", "TRUE", "yes", "On", "1", " on "] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["false", "No", "OFF", "0"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert_eq!(
            parse_bool("maybe"),
            Err("expected true/false, yes/no, on/off or 1/0 (any case), got \"maybe\"".into())
        );
    }

    #[test]
    fn http_urls_need_a_scheme_a_host_and_a_valid_port() {
        assert_eq!(
            parse_http_url("https://prometheus:9090/prefix"),
            Ok("https")
        );
        assert_eq!(parse_http_url("http://[::1]:9090"), Ok("http"));
        assert_eq!(parse_http_url("HTTPS://user@host"), Ok("https"));
        for (bad, why) in [
            ("not a url", "got \"not a url\""),
            ("prometheus:9090", "(no scheme)"),
            ("ftp://x", "(the scheme must be https or http, not \"ftp\")"),
            ("https://", "(no host)"),
            ("https:///path", "(no host)"),
            ("https://[]:9090", "(no host)"),
            (
                "https://p:0",
                "(the port \"0\" is not a number from 1 to 65535)",
            ),
            (
                "https://p:http",
                "(the port \"http\" is not a number from 1 to 65535)",
            ),
        ] {
            let error = parse_http_url(bad).expect_err(bad);
            assert!(error.ends_with(why), "{bad}: {error}");
        }
    }
}
