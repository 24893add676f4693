//! Fleet simulator and vLLM load model behind wva simulate.
