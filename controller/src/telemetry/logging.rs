//! Structured logs with `tracing`: verbosity from `-v`, text or JSON lines.

use std::io::IsTerminal;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The log level of a `-v` verbosity: 0 warnings and errors, 1-2 info, 3-4 debug, 5+ trace.
pub fn level(verbosity: u8) -> LevelFilter {
    match verbosity {
        0 => LevelFilter::WARN,
        1 | 2 => LevelFilter::INFO,
        3 | 4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The text subscriber writing to `writer`. Colours only when `ansi`: a log read through a
/// pipe (`kubectl logs`, a file) must stay plain so `grep configmap=ns/name` finds fields.
fn text<W>(
    verbosity: u8,
    writer: W,
    ansi: bool,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format,
    LevelFilter,
    W,
>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_max_level(level(verbosity))
        .with_writer(writer)
        .with_target(false)
        .with_ansi(ansi)
}

/// Installs the global subscriber writing to stderr (coloured only on a terminal). Calling it
/// twice keeps the first one.
pub fn init(verbosity: u8, json: bool) {
    let builder = text(verbosity, std::io::stderr, std::io::stderr().is_terminal());
    let result = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    // An already installed subscriber (tests) is fine.
    drop(result);
}

/// Runs `emit` under the plain text subscriber of `wva run` at verbosity 2 and returns what it
/// logged, for tests of log lines.
#[cfg(test)]
pub(crate) fn captured(emit: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    let capture = Capture::default();
    tracing::subscriber::with_default(text(2, capture.clone(), false).finish(), emit);
    String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_levels() {
        assert_eq!(level(0), LevelFilter::WARN);
        assert_eq!(level(2), LevelFilter::INFO);
        assert_eq!(level(4), LevelFilter::DEBUG);
        assert_eq!(level(9), LevelFilter::TRACE);
    }

    #[test]
    fn a_piped_log_is_plain_text_with_greppable_fields() {
        let log = captured(|| {
            tracing::info!(configmap = %"ns/wva-saturation-scaling-config", oldEntries = 0, "Updated saturation config");
        });
        assert!(!log.contains('\u{1b}'), "no escape codes: {log:?}");
        assert!(
            log.contains("INFO Updated saturation config configmap=ns/wva-saturation-scaling-config oldEntries=0"),
            "{log}"
        );
    }
}
