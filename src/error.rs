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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAnInteger => f.write_str("value is not an integer"),
            Error::Overflow => f.write_str("increment or decrement would overflow"),
            Error::InvalidPattern { pattern, reason } => {
                write!(f, "invalid pattern '{pattern}': {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}

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
    }
}
