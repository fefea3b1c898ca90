//! The Lua scripts of the conditional writes: each runs atomically on the server (Redis runs one
//! script at a time, and nothing else in between), so each is one linearizable step on one key,
//! in one round trip. Every script touches only `KEYS[1]`, so it runs on a cluster too.
//!
//! Integers never pass through Lua numbers (doubles, exact only up to 2^53): replies that carry a
//! counter are read back with `GET` as decimal text.

use redis::Script;

/// Lua: `matches(cur, exp, first)`: whether the stored bytes `cur` equal the expected bytes `exp`
/// except that, at each 1-based position listed in `ARGV[first..]` (the sign byte of a float
/// zero in `exp`), `cur` may hold either `0x00` or `0x80`. With the canonical encoding this is
/// exactly `Value`'s `==` for an expected value without NaN: everything else must be byte-equal,
/// and `0.0 == -0.0`.
macro_rules! lua_matches {
    () => {
        r#"
local function matches(cur, exp, first)
  if not cur or #cur ~= #exp then return false end
  local pos = 1
  for i = first, #ARGV do
    local p = tonumber(ARGV[i])
    if string.sub(cur, pos, p - 1) ~= string.sub(exp, pos, p - 1) then return false end
    local b = string.byte(cur, p)
    if b ~= 0 and b ~= 128 then return false end
    pos = p + 1
  end
  return string.sub(cur, pos) == string.sub(exp, pos)
end
"#
    };
}

/// `compare_and_set`: `ARGV[1]` expected bytes, `ARGV[2]` new bytes, `ARGV[3..]` zero-sign
/// positions. Replaces the value keeping the TTL; returns 1 if it did.
pub(crate) const COMPARE_AND_SET: &str = concat!(
    lua_matches!(),
    r#"
if matches(redis.call('GET', KEYS[1]), ARGV[1], 3) then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"#
);

/// `compare_and_delete`: `ARGV[1]` expected bytes, `ARGV[2..]` zero-sign positions. Deletes the
/// key; returns 1 if it did.
pub(crate) const COMPARE_AND_DELETE: &str = concat!(
    lua_matches!(),
    r#"
if matches(redis.call('GET', KEYS[1]), ARGV[1], 2) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#
);

/// `update`'s commit: `ARGV[1]` the bytes read, `ARGV[2]` the new bytes. Writes (keeping the
/// TTL) only if the value is still exactly the one read; returns 1 if it wrote.
pub(crate) const UPDATE_IF_UNCHANGED: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"#;

/// `incr_with_ttl`: `ARGV[1]` delta (decimal), `ARGV[2]` TTL in ms, or `gone` (a zero TTL: a key
/// this call would create is expired at once, so nothing is written and the delta is returned).
/// `INCRBY`, and if the key did not exist before, `PEXPIRE`. Returns the new value as decimal text, or `INCRBY`'s
/// error reply unchanged ("value is not an integer or out of range", "increment or decrement
/// would overflow"), in which case nothing was written.
pub(crate) const INCR_WITH_TTL: &str = r#"
local existed = redis.call('EXISTS', KEYS[1])
if existed == 0 and ARGV[2] == 'gone' then return ARGV[1] end
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then return r end
if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('GET', KEYS[1])
"#;

/// One script: its source (for `EVAL`) and its SHA1 (for `EVALSHA`).
#[derive(Debug)]
pub(crate) struct Lua {
    pub(crate) src: &'static str,
    pub(crate) sha: String,
}

impl Lua {
    fn new(src: &'static str) -> Lua {
        Lua {
            src,
            sha: Script::new(src).get_hash().to_owned(),
        }
    }
}

/// The scripts, hashed once per store.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) compare_and_set: Lua,
    pub(crate) compare_and_delete: Lua,
    pub(crate) update_if_unchanged: Lua,
    pub(crate) incr_with_ttl: Lua,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            compare_and_set: Lua::new(COMPARE_AND_SET),
            compare_and_delete: Lua::new(COMPARE_AND_DELETE),
            update_if_unchanged: Lua::new(UPDATE_IF_UNCHANGED),
            incr_with_ttl: Lua::new(INCR_WITH_TTL),
        }
    }
}
