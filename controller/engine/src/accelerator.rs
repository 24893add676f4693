//! Accelerator types: the names the GPU limiter pools free GPUs under.
//!
//! The same GPU is named differently in different places: the VA label says `H100`, NVIDIA's
//! GPU feature discovery labels the node `NVIDIA-H100-80GB-HBM3`, GKE labels it
//! `nvidia-h100-80gb`. [`accelerator_type`] maps all of them to one type, so that the free GPUs
//! of a type form one pool however the variants name it.

/// Words that name a vendor or a product line rather than the accelerator.
const BRAND_WORDS: &[&str] = &[
    "NVIDIA", "AMD", "INTEL", "HABANA", "TESLA", "INSTINCT", "GEFORCE",
];

/// Characters that separate the parts of a product name.
const SEPARATORS: &[char] = &['-', '_', ' ', '\t'];

/// The accelerator type of an accelerator or GPU product name: the name split on `-`, `_` and
/// spaces, upper-cased, without vendor and product-line words (NVIDIA, AMD, Intel, Habana,
/// Tesla, Instinct, GeForce), up to and including the first part that contains a digit, the
/// parts joined without separators. Memory size and form factor are dropped, so `A100-40GB`
/// and `A100-SXM4-80GB` are one type, `A100`.
///
/// | name | type |
/// |---|---|
/// | `H100`, `NVIDIA-H100-80GB-HBM3`, `nvidia-h100-80gb` | `H100` |
/// | `NVIDIA-A100-SXM4-80GB`, `nvidia-tesla-a100` | `A100` |
/// | `Tesla-T4` | `T4` |
/// | `AMD_Instinct_MI300X_OAM` | `MI300X` |
/// | `Gaudi-2`, `Gaudi2` | `GAUDI2` |
/// | `NVIDIA-GeForce-RTX-4090` | `RTX4090` |
///
/// A name made only of vendor words is kept whole (`NVIDIA`); a name without a digit is kept
/// whole (`unknown` → `UNKNOWN`).
pub fn accelerator_type(name: &str) -> String {
    let parts = || {
        name.split(SEPARATORS)
            .filter(|p| !p.is_empty())
            .map(str::to_ascii_uppercase)
    };
    let mut out = String::new();
    for part in parts().filter(|p| !BRAND_WORDS.contains(&p.as_str())) {
        let last = part.chars().any(|c| c.is_ascii_digit());
        out.push_str(&part);
        if last {
            break;
        }
    }
    if out.is_empty() {
        out = parts().collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::accelerator_type;

    #[test]
    fn product_names_of_one_gpu_give_one_type() {
        for (name, expected) in [
            ("H100", "H100"),
            ("h100", "H100"),
            ("NVIDIA-H100-80GB-HBM3", "H100"),
            ("nvidia-h100-80gb", "H100"),
            ("NVIDIA-H100-NVL", "H100"),
            ("NVIDIA-A100-SXM4-80GB", "A100"),
            ("NVIDIA-A100-PCIE-40GB", "A100"),
            ("nvidia-tesla-a100", "A100"),
            ("NVIDIA-A10G", "A10G"),
            ("NVIDIA-L40S", "L40S"),
            ("nvidia-l4", "L4"),
            ("Tesla-T4", "T4"),
            ("AMD_Instinct_MI300X_OAM", "MI300X"),
            ("MI300X", "MI300X"),
            ("Gaudi-2", "GAUDI2"),
            ("Gaudi2", "GAUDI2"),
            ("NVIDIA-GeForce-RTX-4090", "RTX4090"),
            ("NVIDIA", "NVIDIA"),
            ("unknown", "UNKNOWN"),
            ("", ""),
            ("--", ""),
        ] {
            assert_eq!(accelerator_type(name), expected, "{name}");
        }
    }

    #[test]
    fn distinct_gpus_stay_distinct() {
        assert_ne!(
            accelerator_type("NVIDIA-A10"),
            accelerator_type("NVIDIA-A100")
        );
        assert_ne!(
            accelerator_type("NVIDIA-L40"),
            accelerator_type("NVIDIA-L40S")
        );
        assert_ne!(accelerator_type("H100"), accelerator_type("H200"));
    }
}
