//! Testing support for users' and our own tests: proptest strategies for values (`strategy`),
//! sequences of store operations with their results (`ops`, for differential tests against a
//! model), `arbitrary` inputs for cargo-fuzz targets (`fuzzing`), and the structural equality
//! those comparisons use (`identical`). Nothing here is compiled without the features `proptest`
//! or `arbitrary`.
//!
//! What it may use: the public face (`crate::Store`, `crate::Value`, ...) and nothing of the
//! engine.

#[cfg(feature = "arbitrary")]
pub mod fuzzing;
pub(crate) mod identical;
#[cfg(any(
    feature = "proptest",
    all(feature = "arbitrary", feature = "test-util")
))]
pub mod ops;
#[cfg(feature = "proptest")]
pub mod strategy;
