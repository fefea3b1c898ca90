//! Typed values: [`to_value`] and [`from_value`], a serde bridge between your types and
//! [`Value`](crate::Value) (feature `serde`), shaped as `serde_json::to_value`/`from_value`
//! shape JSON.
//!
//! - A struct is a `Dict` of its fields, a sequence or tuple a `List`, a map a `Dict` (keys must
//!   be strings, or integers, chars or bools, which become their decimal or text form, as
//!   serde_json does), a unit or `None` is `Null`, `Some(x)` is `x`.
//! - Integers are `Int`: a `u64`/`u128`/`i128` outside `i64` is an error, never a wrap.
//! - Bytes (`serde_bytes`, or a `Serializer::serialize_bytes` impl) are `Bytes`; a `Bytes` value
//!   deserializes into anything that takes bytes or a sequence of `u8`.
//! - Enums as serde_json shapes them: a unit variant is the `Str` of its name, any other variant
//!   a one-entry `Dict` from its name to its content.
//! - A value of the wrong shape is an [`Error::Convert`] whose `path` names where
//!   (`user.roles[2]`), never a panic. Both directions stop at 128 nested lists/dicts with
//!   an error rather than exhausting the stack.
//!
//! Here: the public functions (re-exported: `to_value` is defined with the serializer in `ser`,
//! `from_value` with the deserializer in `de`, so that both sides depend on this module and it
//! on neither), the depth limit, the conversion error and the helpers both sides share.

use std::fmt;

use crate::error::Error;

mod de;
mod ser;

pub use de::from_value;
pub use ser::to_value;

/// How many lists/dicts deep [`to_value`] and [`from_value`] go before they return an error.
pub(crate) const MAX_DEPTH: usize = 128;

/// The conversion error while it travels up: the message and the path, innermost first.
#[derive(Debug)]
struct ConvertError {
    reason: String,
    path: Vec<Step>,
}

#[derive(Debug)]
enum Step {
    Field(String),
    Index(usize),
}

impl ConvertError {
    fn new(reason: impl fmt::Display) -> ConvertError {
        ConvertError {
            reason: reason.to_string(),
            path: Vec::new(),
        }
    }

    fn at(mut self, step: Step) -> ConvertError {
        self.path.push(step);
        self
    }

    fn into_error(self) -> Error {
        let mut path = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Field(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Step::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        Error::Convert {
            path,
            reason: self.reason,
        }
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ConvertError {}

fn too_deep() -> ConvertError {
    ConvertError::new(format!("nested more than {MAX_DEPTH} levels deep"))
}
