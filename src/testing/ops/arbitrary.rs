//! `Arbitrary` for the operations: the distribution of the module docs.

use ::arbitrary::{Arbitrary, Result, Unstructured};

use super::*;

/// The key pool of `Arbitrary` ops: every name in [`KEYS`].
fn key(u: &mut Unstructured<'_>) -> Result<String> {
    let hot = u.ratio(3u8, 4u8)?;
    let raw = usize::from(u.arbitrary::<u8>()?);
    Ok(key_from(KEYS.len(), hot, raw))
}

fn ttl(u: &mut Unstructured<'_>) -> Result<Duration> {
    Ok(ttl_from(u.arbitrary()?, u.arbitrary()?))
}

fn ttl_opt(u: &mut Unstructured<'_>) -> Result<Option<Duration>> {
    Ok(ttl_opt_from(u.arbitrary()?, u.arbitrary()?))
}

fn delta(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => *u.choose(&EXTREME_INTS)?,
        1 => u.arbitrary()?,
        _ => i64::from(u.int_in_range(-3i8..=3)?),
    })
}

/// An operation's value: small ints (4 in 8), a short string (1), an extreme int (1), any
/// value (2; at most 2 deep and 3 wide).
fn value(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => Value::Int(i64::from(u.int_in_range(-3i8..=3)?)),
        4 => Value::from(*u.choose(&STRINGS)?),
        5 => Value::Int(*u.choose(&EXTREME_INTS)?),
        _ => crate::testing::fuzzing::value(u, 2, 3)?,
    })
}

impl<'a> Arbitrary<'a> for Update {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(4)? {
            0 => Update::Append(value(u)?),
            1 => Update::NegateInt,
            2 => Update::AddInt(delta(u)?),
            _ => Update::Replace(value(u)?),
        })
    }
}

impl<'a> Arbitrary<'a> for Decide {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(7)? {
            0 => Decide::Keep,
            1 => Decide::Put(value(u)?),
            2 => Decide::PutWithTtl(value(u)?, ttl_opt(u)?),
            3 => Decide::Expire(ttl(u)?),
            4 => Decide::Delete,
            5 => Decide::IncrOrInit { ttl: ttl(u)? },
            _ => Decide::Extend {
                below: ttl(u)?,
                to: ttl(u)?,
            },
        })
    }
}

/// Operations on the keys of [`KEYS`] (three in four on the first three), with the weights
/// of `strategy::op`.
impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // (weight, kind): a weighted choice with one byte.
        const WEIGHTS: [u8; 31] = [
            3, 6, 3, 1, 1, 2, 4, 2, 2, 1, 3, 3, 1, 1, 1, 1, 3, 3, 2, 2, 3, 2, 2, 3, 1, 1, 1, 1, 1,
            2, 8,
        ];
        let total: u32 = WEIGHTS.iter().map(|&w| u32::from(w)).sum();
        let mut pick = u.int_in_range(0..=total - 1)?;
        let mut kind = 0;
        while pick >= u32::from(WEIGHTS[kind]) {
            pick -= u32::from(WEIGHTS[kind]);
            kind += 1;
        }
        Ok(match kind {
            0 => Op::Set {
                key: key(u)?,
                value: value(u)?,
            },
            1 => Op::SetWithTtl {
                key: key(u)?,
                value: value(u)?,
                ttl: ttl(u)?,
            },
            2 => Op::Get { key: key(u)? },
            3 => Op::GetOr {
                key: key(u)?,
                default: value(u)?,
            },
            4 => Op::GetWith { key: key(u)? },
            5 => Op::Delete { key: key(u)? },
            6 => Op::Incr {
                key: key(u)?,
                delta: delta(u)?,
            },
            7 => Op::IncrWithTtl {
                key: key(u)?,
                delta: delta(u)?,
                ttl: ttl(u)?,
            },
            8 => Op::Keys {
                pattern: (*u.choose(&PATTERNS)?).to_owned(),
            },
            9 => Op::Exists { key: key(u)? },
            10 => Op::Ttl { key: key(u)? },
            11 => Op::Expire {
                key: key(u)?,
                ttl: ttl(u)?,
            },
            12 => Op::Persist { key: key(u)? },
            13 => Op::Clear,
            14 => Op::Len,
            15 => Op::IsEmpty,
            16 => Op::PurgeExpired,
            17 => Op::SetIfAbsent {
                key: key(u)?,
                value: value(u)?,
                ttl: ttl_opt(u)?,
            },
            18 => Op::Swap {
                key: key(u)?,
                value: value(u)?,
                ttl: ttl_opt(u)?,
            },
            19 => Op::Take { key: key(u)? },
            20 => Op::CompareAndSet {
                key: key(u)?,
                expected: value(u)?,
                new: value(u)?,
            },
            21 => Op::CompareAndDelete {
                key: key(u)?,
                expected: value(u)?,
            },
            22 => Op::Update {
                key: key(u)?,
                update: u.arbitrary()?,
            },
            23 => Op::Compute {
                key: key(u)?,
                decide: u.arbitrary()?,
            },
            24 => Op::GetOrInsertWith {
                key: key(u)?,
                ttl: ttl_opt(u)?,
                value: value(u)?,
            },
            25 => Op::TryGetOrInsertWith {
                key: key(u)?,
                ttl: ttl_opt(u)?,
                value: if u.ratio(1u8, 3u8)? {
                    None
                } else {
                    Some(value(u)?)
                },
            },
            26 => Op::LoadWith {
                key: key(u)?,
                ttl: ttl_opt(u)?,
                value: value(u)?,
            },
            27 => Op::TryLoadWith {
                key: key(u)?,
                ttl: ttl_opt(u)?,
                value: if u.ratio(1u8, 3u8)? {
                    None
                } else {
                    Some(value(u)?)
                },
            },
            28 => Op::Stats,
            29 => Op::GetAndExpire {
                key: key(u)?,
                ttl: ttl(u)?,
            },
            _ => Op::Advance(advance_from(u.arbitrary()?, u.arbitrary()?)),
        })
    }

    /// At least the byte that picks the operation.
    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, None)
    }
}
