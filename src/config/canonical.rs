//! Canonical serialisation and content hashing.
//!
//! The canonical form is compact JSON with object keys sorted at every level, independent of
//! field order in the file, of whitespace, and of whether a default was written out or left
//! implicit (the config is hashed after defaults are filled in). Floats use the shortest
//! representation that round-trips, so equal values always hash equally.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The canonical JSON text of `value` (sorted keys, no whitespace).
///
/// # Errors
/// Fails only if `value` cannot be represented as JSON (e.g. a map with non-string keys).
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    let mut out = String::new();
    write_sorted(&v, &mut out);
    Ok(out)
}

fn write_sorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_sorted(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A short, stable hex digest (the first 16 hex digits of SHA-256) of `text`.
pub fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_canonical_form() {
        let a = json!({"b": 1, "a": {"y": [1.5, 2], "x": "s"}});
        let b = json!({"a": {"x": "s", "y": [1.5, 2]}, "b": 1});
        assert_eq!(canonical_json(&a).unwrap(), canonical_json(&b).unwrap());
        assert_eq!(
            canonical_json(&a).unwrap(),
            r#"{"a":{"x":"s","y":[1.5,2]},"b":1}"#
        );
    }

    #[test]
    fn content_hash_is_stable_and_short() {
        assert_eq!(content_hash("abc"), "ba7816bf8f01cfea");
        assert_ne!(content_hash("abc"), content_hash("abd"));
    }
}
