//! Batch identity. A batch id is derived from what was imported (kind, target and the file's
//! bytes), never from a clock: importing the same file twice names the same batch, so its
//! log row and rejects are replaced rather than duplicated.

use crate::config::content_hash;
use crate::files::archive::sha256_hex;

/// The batch id of importing `bytes` as `kind` into `target` (market/symbol or empty).
pub fn batch_id(kind: &str, target: &str, bytes: &[u8]) -> String {
    let hex = sha256_hex(bytes);
    format!("b-{}", content_hash(&format!("{kind}\n{target}\n{hex}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_bytes_same_batch_different_target_different_batch() {
        let a = super::batch_id("prices:yahoo", "US_EQ:A", b"x");
        assert_eq!(a, super::batch_id("prices:yahoo", "US_EQ:A", b"x"));
        assert_ne!(a, super::batch_id("prices:yahoo", "US_EQ:B", b"x"));
        assert_ne!(a, super::batch_id("prices:yahoo", "US_EQ:A", b"y"));
        assert!(a.starts_with("b-"));
    }
}
