//! Identity of values, for the generators' users (re-exported by `fuzzing` and `ops`).

use crate::value::Value;

/// Whether two values are identical: the same structure, and floats with the same bits (so a
/// NaN is identical to itself and `-0.0` is not identical to `0.0`), unlike `Value`'s `==`.
/// Any depth (iterative).
pub fn identical(a: &Value, b: &Value) -> bool {
    let mut pending = vec![(a, b)];
    while let Some(pair) = pending.pop() {
        let same = match pair {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                pending.extend(a.iter().zip(b));
                a.len() == b.len()
            }
            (Value::Dict(a), Value::Dict(b)) => {
                let mut keys_equal = a.len() == b.len();
                for ((ka, va), (kb, vb)) in a.iter().zip(b) {
                    keys_equal &= ka == kb;
                    pending.push((va, vb));
                }
                keys_equal
            }
            _ => false,
        };
        if !same {
            return false;
        }
    }
    true
}
