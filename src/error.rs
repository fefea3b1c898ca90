//! The crate's error type.

use std::fmt;

/// Everything a [`Store`](crate::Store) method can fail with.
///
/// Errors are plain values: they are `Clone`, comparable, and carry the input that caused them,
/// so they can be logged, matched on, or returned to a client.
///
/// ```
/// use scriptling_kv::{Error, Store};
///
/// let store = Store::new();
/// store.set("name", "bob");
/// assert_eq!(store.incr("name", 1), Err(Error::NotAnInteger));
/// assert_eq!(Error::NotAnInteger.to_string(), "value is not an integer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `incr` found a live value that is not a [`Value::Int`](crate::Value::Int).
    /// The store is unchanged.
    NotAnInteger,
    /// `incr` would have overflowed `i64`. The store is unchanged.
    Overflow,
    /// `keys` was given a malformed glob pattern.
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A backend server could not do the operation (connection lost or refused, timeout,
    /// authentication, a reply that is not what the protocol says). Never returned by
    /// [`Store`](crate::Store) itself.
    Backend {
        /// Which backend (for example `"redis"`).
        backend: String,
        /// What went wrong, in the backend's words.
        reason: String,
    },
    /// A snapshot file could not be read or written.
    Io {
        /// The file (or directory) the operation was on.
        path: String,
        /// What was being done (`"create"`, `"write"`, `"rename"`, ...).
        op: String,
        /// The operating system's error.
        reason: String,
        /// The kind of the operating system's error, to match on (`NotFound`,
        /// `PermissionDenied`, ...); `Other` or `InvalidInput` when the crate itself refused.
        kind: std::io::ErrorKind,
    },
    /// A snapshot file that is not a valid, complete snapshot: truncated, corrupted, foreign, or
    /// of a format version this crate cannot read. Nothing was loaded from it.
    Corrupt {
        /// The file.
        path: String,
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// [`to_value`](crate::to_value) or [`from_value`](crate::from_value) met a value of the
    /// wrong shape (feature `serde`).
    Convert {
        /// Where, as `field.list[2].field` (empty: the value itself).
        path: String,
        /// What is wrong, in serde's words.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAnInteger => f.write_str("value is not an integer"),
            Error::Overflow => f.write_str("increment or decrement would overflow"),
            Error::InvalidPattern { pattern, reason } => {
                write!(f, "invalid pattern '{pattern}': {reason}")
            }
            Error::Backend { backend, reason } => write!(f, "{backend} backend: {reason}"),
            Error::Io {
                path, op, reason, ..
            } => write!(f, "{op} {path}: {reason}"),
            Error::Convert { path, reason } if path.is_empty() => {
                write!(f, "cannot convert the value: {reason}")
            }
            Error::Convert { path, reason } => write!(f, "cannot convert `{path}`: {reason}"),
            Error::Corrupt {
                path,
                offset,
                reason,
            } => write!(
                f,
                "{path} is not a valid snapshot (at byte {offset}): {reason}"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The operating system's error kind of an [`Error::Io`]; `None` for every other variant.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use scriptling_kv::Store;
    ///
    /// let err = Store::new().load("/no/such/dir/kv.snap").unwrap_err();
    /// assert_eq!(err.io_kind(), Some(ErrorKind::NotFound));
    /// ```
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Io { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_texts_are_the_specified_ones() {
        assert_eq!(Error::NotAnInteger.to_string(), "value is not an integer");
        assert_eq!(
            Error::Overflow.to_string(),
            "increment or decrement would overflow"
        );
        let e = Error::InvalidPattern {
            pattern: "[ab".into(),
            reason: "unclosed '['".into(),
        };
        assert_eq!(e.to_string(), "invalid pattern '[ab': unclosed '['");
        let e = Error::Backend {
            backend: "redis".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(e.to_string(), "redis backend: connection refused");
        let e = Error::Io {
            path: "/x/y".into(),
            op: "rename".into(),
            reason: "No such file or directory (os error 2)".into(),
            kind: std::io::ErrorKind::NotFound,
        };
        assert_eq!(
            e.to_string(),
            "rename /x/y: No such file or directory (os error 2)"
        );
        let e = Error::Corrupt {
            path: "s.kv".into(),
            offset: 12,
            reason: "checksum mismatch".into(),
        };
        assert_eq!(
            e.to_string(),
            "s.kv is not a valid snapshot (at byte 12): checksum mismatch"
        );
    }
}
