//! vLLM's batch limits read from a Deployment's pod template: `--max-num-batched-tokens` and
//! `--max-num-seqs` in the vLLM container's `command` or `args` (the token-capacity
//! analyzer derives a replica's capacity from them when it has not observed one).

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

/// The batch limits of the vLLM container of `pod` (of Deployment `deployment`, for the
/// log): the first container whose image, command or args mention `vllm`, else the only
/// container. Both `--flag N` and `--flag=N` are read, also inside a shell command line
/// (`sh -c "vllm serve ... --max-num-seqs 64"`); the last occurrence wins, as in vLLM. A
/// value that is not a positive integer (e.g. `$(MAX_SEQS)`) is ignored with a debug log.
pub fn batch_limits(pod: Option<&PodSpec>, deployment: &str) -> BatchLimits {
    let Some(container) = pod.and_then(vllm_container) else {
        return BatchLimits::default();
    };
    let words: Vec<&str> = container
        .command
        .iter()
        .chain(container.args.iter())
        .flatten()
        .flat_map(|arg| arg.split_whitespace())
        .collect();
    let read = |flag: &str| {
        let text = last_value(&words, flag)?;
        let value = text.parse::<u32>().ok().filter(|&v| v > 0);
        if value.is_none() {
            tracing::debug!(
                deployment,
                container = container.name,
                flag = format!("--{flag}"),
                value = text,
                "vLLM batch limit is not a positive integer; ignored (the token-capacity analyzer treats it as not set)"
            );
        }
        value
    };
    BatchLimits {
        max_num_batched_tokens: read(MAX_NUM_BATCHED_TOKENS),
        max_num_seqs: read(MAX_NUM_SEQS),
    }
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
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        let Some(name) = word.strip_prefix("--") else {
            continue;
        };
        let (name, inline) = match name.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (name, None),
        };
        if name.replace('_', "-") != flag {
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
}
