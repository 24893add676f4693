//! Test support: vLLM metrics emulator, Prometheus launcher.
