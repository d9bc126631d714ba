//! The raw-file archive: every imported file stored content-addressed before it is parsed.
//!
//! A file is kept under `DIR/sha256/<first two hex digits>/<the other 62>`, written to a
//! temporary file in the same directory, synced and renamed into place, so a reader never
//! sees half a file and a crash leaves either nothing or the whole file. The same bytes are
//! stored once however often, and under whatever name, they are imported. Reading checks
//! the digest again: a file changed on disk is reported, never silently re-imported.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Why the archive could not store or return a file.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or writing under the archive directory failed.
    #[error("raw-file archive {path}: {source} (check that storage.archive_dir is writable)")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No file with this digest is archived.
    #[error(
        "raw-file archive {dir} has no file with SHA-256 {sha256}; was storage.archive_dir changed or the file deleted?"
    )]
    Missing {
        /// The archive directory.
        dir: PathBuf,
        /// The digest asked for.
        sha256: String,
    },
    /// The archived bytes no longer hash to their name.
    #[error("raw-file archive {path} is corrupt: its bytes hash to {actual}, not to its name")]
    Corrupt {
        /// The archived file.
        path: PathBuf,
        /// What its bytes hash to now.
        actual: String,
    },
    /// A digest that is not 64 lower-case hex digits.
    #[error("`{0}` is not a SHA-256 digest (64 hex digits)")]
    BadDigest(String),
}

/// The SHA-256 of `bytes`, as 64 lower-case hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// A content-addressed store of raw input files under one directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawArchive {
    dir: PathBuf,
}

/// What [`RawArchive::put`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archived {
    /// The bytes' SHA-256 (hex): their name in the archive.
    pub sha256: String,
    /// False when the same bytes were already archived (nothing was written).
    pub written: bool,
}

impl RawArchive {
    /// The archive under `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The archive's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file with this digest lives (whether or not it is there).
    ///
    /// # Errors
    /// [`ArchiveError::BadDigest`] for anything but 64 hex digits (so a digest never
    /// names a path outside the archive).
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf, ArchiveError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ArchiveError::BadDigest(sha256.to_owned()));
        }
        let sha = sha256.to_ascii_lowercase();
        Ok(self.dir.join("sha256").join(&sha[..2]).join(&sha[2..]))
    }

    /// Stores `bytes` (once: the same bytes already archived are not written again).
    ///
    /// # Errors
    /// [`ArchiveError::Io`] when the directory or file cannot be written.
    pub fn put(&self, bytes: &[u8]) -> Result<Archived, ArchiveError> {
        let sha256 = sha256_hex(bytes);
        let path = self.path_of(&sha256)?;
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.len() == bytes.len() as u64
        {
            return Ok(Archived {
                sha256,
                written: false,
            });
        }
        // Two imports of the same bytes at once each write a whole copy; the renames
        // replace one another.
        super::write_atomically(&path, bytes)
            .map_err(|(path, source)| ArchiveError::Io { path, source })?;
        Ok(Archived {
            sha256,
            written: true,
        })
    }

    /// The archived bytes with this digest, checked against it.
    ///
    /// # Errors
    /// [`ArchiveError::Missing`], [`ArchiveError::Corrupt`], [`ArchiveError::Io`].
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, ArchiveError> {
        let path = self.path_of(sha256)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ArchiveError::Missing {
                    dir: self.dir.clone(),
                    sha256: sha256.to_owned(),
                });
            }
            Err(source) => return Err(ArchiveError::Io { path, source }),
        };
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(sha256) {
            return Err(ArchiveError::Corrupt { path, actual });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_are_stored_once_and_read_back_checked() {
        let dir = tempfile::tempdir().unwrap();
        let archive = RawArchive::new(dir.path().join("archive"));
        let a = archive.put(b"Date,Close\n2024-01-02,1.5\n").unwrap();
        assert!(a.written);
        assert_eq!(a.sha256, sha256_hex(b"Date,Close\n2024-01-02,1.5\n"));
        let again = archive.put(b"Date,Close\n2024-01-02,1.5\n").unwrap();
        assert_eq!(again.sha256, a.sha256);
        assert!(!again.written, "the same bytes are written once");
        assert_eq!(
            archive.get(&a.sha256).unwrap(),
            b"Date,Close\n2024-01-02,1.5\n"
        );
        let files: Vec<_> = walk(dir.path());
        assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
    }

    #[test]
    fn a_changed_or_missing_file_is_reported_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let archive = RawArchive::new(dir.path());
        let a = archive.put(b"abc").unwrap();
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::write(archive.path_of(&a.sha256).unwrap(), b"abd").unwrap();
        assert!(matches!(
            archive.get(&a.sha256),
            Err(ArchiveError::Corrupt { .. })
        ));
        let other = sha256_hex(b"never stored");
        assert!(matches!(
            archive.get(&other),
            Err(ArchiveError::Missing { .. })
        ));
        assert!(matches!(
            archive.get("../../etc/passwd"),
            Err(ArchiveError::BadDigest(_))
        ));
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
