//! vLLM's batch limits read from a Deployment's pod template: `--max-num-batched-tokens` and
//! `--max-num-seqs` in the vLLM container's `command` or `args` (the token-capacity
//! analyzer derives a replica's capacity from them when it has not observed one); and the
//! engine ranks one pod runs (`--data-parallel-size-local`, `--data-parallel-size`, `-dp`).

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// The batch limits set on the vLLM command line; `None` when not set or not readable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchLimits {
    /// `--max-num-batched-tokens`: tokens one scheduler step may process.
    pub max_num_batched_tokens: Option<u32>,
    /// `--max-num-seqs`: requests running at once.
    pub max_num_seqs: Option<u32>,
}

/// The flags read, as vLLM spells them (it also accepts underscores for dashes).
const MAX_NUM_BATCHED_TOKENS: &str = "max-num-batched-tokens";
const MAX_NUM_SEQS: &str = "max-num-seqs";
const DATA_PARALLEL_SIZE: &str = "data-parallel-size";
const DATA_PARALLEL_SIZE_LOCAL: &str = "data-parallel-size-local";
/// vLLM's short form of `--data-parallel-size`.
const DATA_PARALLEL_SIZE_SHORT: &str = "-dp";

/// The batch limits of the vLLM container of `pod` (of Deployment `deployment`, for the
/// log): the first container whose image, command or args mention `vllm`, else the only
/// container. Both `--flag N` and `--flag=N` are read, also inside a shell command line
/// (`sh -c "vllm serve ... --max-num-seqs 64"`); the last occurrence wins, as in vLLM. A
/// value that is not a positive integer (e.g. `$(MAX_SEQS)`) is ignored with a debug log.
pub fn batch_limits(pod: Option<&PodSpec>, deployment: &str) -> BatchLimits {
    let Some(container) = pod.and_then(vllm_container) else {
        return BatchLimits::default();
    };
    let words = words(container);
    let read = |flag: &str| {
        positive(
            last_value(&words, flag)?,
            deployment,
            container,
            flag,
            "vLLM batch limit is not a positive integer; ignored (the token-capacity analyzer treats it as not set)",
        )
    };
    BatchLimits {
        max_num_batched_tokens: read(MAX_NUM_BATCHED_TOKENS),
        max_num_seqs: read(MAX_NUM_SEQS),
    }
}

/// The vLLM engine ranks one pod of `pod` runs (of Deployment `deployment`, for the log):
/// `--data-parallel-size-local` when set (the ranks on this pod when data parallelism spans
/// several pods), else `--data-parallel-size` or its short form `-dp`; the last occurrence
/// of each wins. `None` when neither is set or readable (a value that is not a positive
/// integer is logged at debug).
pub fn data_parallel_size(pod: Option<&PodSpec>, deployment: &str) -> Option<u32> {
    let container = pod.and_then(vllm_container)?;
    let words = words(container);
    let read = |text: &str, flag: &str| {
        positive(
            text,
            deployment,
            container,
            flag,
            "vLLM data-parallel size is not a positive integer; ignored (one engine per pod)",
        )
    };
    match last_value(&words, DATA_PARALLEL_SIZE_LOCAL) {
        Some(text) => read(text, DATA_PARALLEL_SIZE_LOCAL),
        None => last_value_or_short(&words, DATA_PARALLEL_SIZE, Some(DATA_PARALLEL_SIZE_SHORT))
            .and_then(|text| read(text, DATA_PARALLEL_SIZE)),
    }
}

/// The words of a container's command and args, shell command lines split on whitespace.
fn words(container: &Container) -> Vec<&str> {
    container
        .command
        .iter()
        .chain(container.args.iter())
        .flatten()
        .flat_map(|arg| arg.split_whitespace())
        .collect()
}

/// `text` as a positive integer; otherwise `None` with a debug log saying `why`.
fn positive(
    text: &str,
    deployment: &str,
    container: &Container,
    flag: &str,
    why: &'static str,
) -> Option<u32> {
    let value = text.parse::<u32>().ok().filter(|&v| v > 0);
    if value.is_none() {
        tracing::debug!(
            deployment,
            container = container.name,
            flag = format!("--{flag}"),
            value = text,
            "{why}"
        );
    }
    value
}

/// The first container running vLLM, else the only container.
fn vllm_container(pod: &PodSpec) -> Option<&Container> {
    let mentions_vllm = |c: &&Container| {
        c.image
            .iter()
            .chain(c.command.iter().flatten())
            .chain(c.args.iter().flatten())
            .any(|text| text.to_ascii_lowercase().contains("vllm"))
    };
    match pod.containers.iter().find(mentions_vllm) {
        Some(container) => Some(container),
        None if pod.containers.len() == 1 => pod.containers.first(),
        None => None,
    }
}

/// The value of the last `--flag` in `words` (`--flag V` or `--flag=V`, dashes or
/// underscores); an empty text when the flag ends the command line.
fn last_value<'a>(words: &[&'a str], flag: &str) -> Option<&'a str> {
    last_value_or_short(words, flag, None)
}

/// [`last_value`], also reading the short form `short` (`-dp V` or `-dp=V`) when given.
fn last_value_or_short<'a>(words: &[&'a str], flag: &str, short: Option<&str>) -> Option<&'a str> {
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (*word, None),
        };
        let long = name
            .strip_prefix("--")
            .is_some_and(|n| n.replace('_', "-") == flag);
        if !long && Some(name) != short {
            continue;
        }
        found = Some(inline.unwrap_or_else(|| words.get(i + 1).copied().unwrap_or_default()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, image: &str, command: &[&str], args: &[&str]) -> Container {
        let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        Container {
            name: name.into(),
            image: Some(image.into()),
            command: strings(command).filter(|c: &Vec<String>| !c.is_empty()),
            args: strings(args).filter(|a: &Vec<String>| !a.is_empty()),
            ..Container::default()
        }
    }

    fn limits(containers: Vec<Container>) -> BatchLimits {
        batch_limits(
            Some(&PodSpec {
                containers,
                ..PodSpec::default()
            }),
            "ns/llama",
        )
    }

    fn both(tokens: Option<u32>, seqs: Option<u32>) -> BatchLimits {
        BatchLimits {
            max_num_batched_tokens: tokens,
            max_num_seqs: seqs,
        }
    }

    #[test]
    fn reads_separate_and_inline_values_in_args_and_command() {
        let c = container(
            "vllm",
            "vllm/vllm-openai:v0.11",
            &[],
            &[
                "--model",
                "m",
                "--max-num-batched-tokens",
                "8192",
                "--max-num-seqs=128",
            ],
        );
        assert_eq!(limits(vec![c]), both(Some(8192), Some(128)));
        let c = container(
            "server",
            "registry/custom",
            &[
                "/bin/sh",
                "-c",
                "exec vllm serve m --max_num_seqs 64 --max-num-batched-tokens=2048",
            ],
            &[],
        );
        assert_eq!(limits(vec![c]), both(Some(2048), Some(64)));
        let c = container(
            "vllm",
            "vllm/vllm-openai",
            &["vllm", "serve", "--max-num-seqs", "32"],
            &["--max-num-seqs", "48"],
        );
        assert_eq!(
            limits(vec![c]),
            both(None, Some(48)),
            "args come last: they win"
        );
    }

    #[test]
    fn the_vllm_container_or_the_only_one() {
        let sidecar = container("proxy", "envoy", &[], &["--max-num-seqs", "1"]);
        let engine = container("engine", "vllm/vllm-openai", &[], &["--max-num-seqs", "96"]);
        assert_eq!(limits(vec![sidecar.clone(), engine]), both(None, Some(96)));
        let only = container("server", "registry/custom", &[], &["--max-num-seqs", "7"]);
        assert_eq!(limits(vec![only.clone()]), both(None, Some(7)));
        assert_eq!(
            limits(vec![only, sidecar]),
            BatchLimits::default(),
            "no vLLM among two"
        );
        assert_eq!(batch_limits(None, "ns/x"), BatchLimits::default());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any command line gives limits without panicking; a limit written last is read.
        #[test]
        fn any_command_line_and_the_last_limit_wins(
            noise in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just("--max-num-seqs".to_string()),
                    proptest::prelude::Just("--max_num_batched_tokens=".to_string()),
                    proptest::prelude::Just("--".to_string()),
                    "\\PC{0,12}",
                ],
                0..12,
            ),
            seqs in 1u32..=u32::MAX,
        ) {
            let mut args: Vec<String> = noise.clone();
            args.push(format!("--max-num-seqs={seqs}"));
            let strs: Vec<&str> = args.iter().map(String::as_str).collect();
            let c = container("vllm", "vllm/vllm-openai", &[], &strs);
            proptest::prop_assert_eq!(limits(vec![c]).max_num_seqs, Some(seqs));
            let strs: Vec<&str> = noise.iter().map(String::as_str).collect();
            let _ = limits(vec![container("x", "y", &strs, &strs)]);
        }
    }

    #[test]
    fn a_bad_value_is_not_set() {
        for args in [
            &["--max-num-seqs", "$(MAX_SEQS)"][..],
            &["--max-num-seqs=0"],
            &["--max-num-seqs", "-4"],
            &["--max-num-seqs", "1e3"],
            &["--max-num-seqs", "99999999999"],
            &["--max-num-seqs"],
            &["--max-num-seqs="],
        ] {
            let c = container("vllm", "vllm/vllm-openai", &[], args);
            assert_eq!(limits(vec![c]), BatchLimits::default(), "{args:?}");
        }
        let c = container(
            "vllm",
            "vllm/vllm-openai",
            &[],
            &[
                "--max-num-seqs-per-step",
                "5",
                "--max-num-batched-tokens",
                "x",
                "--max-num-seqs",
                "12",
            ],
        );
        assert_eq!(
            limits(vec![c]),
            both(None, Some(12)),
            "other flags are not read"
        );
    }

    fn dp(args: &[&str]) -> Option<u32> {
        let c = container("vllm", "vllm/vllm-openai", &[], args);
        data_parallel_size(
            Some(&PodSpec {
                containers: vec![c],
                ..PodSpec::default()
            }),
            "ns/llama",
        )
    }

    #[test]
    fn data_parallel_size_local_then_size_then_short() {
        assert_eq!(dp(&["--data-parallel-size", "4"]), Some(4));
        assert_eq!(dp(&["--data_parallel_size=2"]), Some(2));
        assert_eq!(dp(&["-dp", "8"]), Some(8));
        assert_eq!(dp(&["-dp=3"]), Some(3));
        assert_eq!(
            dp(&[
                "--data-parallel-size",
                "8",
                "--data-parallel-size-local",
                "2"
            ]),
            Some(2),
            "the ranks on this pod win over the total"
        );
        assert_eq!(
            dp(&["-dp", "2", "--data-parallel-size", "4"]),
            Some(4),
            "the last occurrence wins"
        );
        assert_eq!(dp(&["--data-parallel-size-local", "0", "-dp", "4"]), None);
        for missing in [
            &[][..],
            &["-dp"],
            &["--data-parallel-size", "$(DP)"],
            &["-dpx", "4"],
            &["--data-parallel-rank", "1"],
        ] {
            assert_eq!(dp(missing), None, "{missing:?}");
        }
        assert_eq!(data_parallel_size(None, "ns/x"), None);
    }
}
