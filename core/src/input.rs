//! Reading an input file named on the command line: `-` is stdin, and the size is bounded so
//! that `/dev/zero` or a mistyped path to a huge file is an error, not an endless read.

use std::io::Read;

/// The largest input read: 16 MiB, far above any real ConfigMap, values file or snapshot.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `path` (`-` for stdin) as UTF-8 text of at most [`MAX_INPUT_BYTES`]; the error says
/// what is wrong (the caller names the path).
pub fn read_input(path: &str) -> Result<String, String> {
    if path == "-" {
        return read_bounded(std::io::stdin().lock(), MAX_INPUT_BYTES);
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    read_bounded(file, MAX_INPUT_BYTES)
}

/// Reads at most `limit` bytes of UTF-8 text from `reader`.
pub fn read_bounded(reader: impl Read, limit: u64) -> Result<String, String> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "larger than {limit} bytes, the most read from one input; pass the file itself"
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_input_stops_at_the_limit_with_an_error() {
        let zeros = std::io::repeat(0);
        assert_eq!(
            read_bounded(zeros, 1024),
            Err(
                "larger than 1024 bytes, the most read from one input; pass the file itself".into()
            )
        );
        assert_eq!(read_bounded(&b"abc"[..], 3), Ok("abc".into()));
        assert!(
            read_bounded(&[0xff_u8][..], 3)
                .expect_err("not UTF-8")
                .starts_with("not UTF-8 text")
        );
    }
}
