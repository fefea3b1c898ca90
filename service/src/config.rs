//! The service's settings: its constants, the command line (`--help`'s text and its parser) and
//! the [`Config`] the handlers read. Used by `main` and `app`; uses neither.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use scriptling_kv::Eviction;

/// Length of the rate-limit window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Lifetime of a session.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Lifetime of a cached value.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(300);
/// How long the stand-in for an upstream call takes.
pub(crate) const UPSTREAM_DELAY: Duration = Duration::from_millis(50);
/// How long a job runs.
pub(crate) const JOB_DURATION: Duration = Duration::from_millis(500);
/// How long a job's lock lasts if its runner dies without releasing it.
pub(crate) const JOB_LEASE: Duration = Duration::from_secs(60);
/// How long a finished job's result is kept.
pub(crate) const JOB_RESULT_TTL: Duration = Duration::from_secs(3600);
/// After a shutdown signal, how long requests in flight may take before the process stops anyway.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// Random bytes in a session token (128 bits), hex-encoded to twice as many characters.
pub(crate) const TOKEN_BYTES: usize = 16;
/// How often the store is saved to `--data-dir` when something changed.
pub(crate) const SAVE_INTERVAL: Duration = Duration::from_secs(30);
/// The longest name of a cached value or a job.
pub(crate) const MAX_NAME: usize = 64;
/// The longest user name, in characters.
pub(crate) const MAX_USER: usize = 64;
/// The largest request body, in bytes (a login is a few dozen).
pub(crate) const MAX_BODY: usize = 1024;
/// `Retry-After` of a `503` (the store could not answer), in seconds.
pub(crate) const RETRY_UNAVAILABLE: u64 = 5;

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_RATE_LIMIT: u64 = 100;
const DEFAULT_CREATE_LIMIT: u64 = 10;
const DEFAULT_IPV6_PREFIX: u8 = 64;
const DEFAULT_MAX_KEYS: usize = 100_000;

/// The `--help` text.
pub(crate) const USAGE: &str = "\
usage: http_service [--addr HOST:PORT] [--rate-limit N] [--create-limit N] [--max-keys N]
                    [--max-bytes N] [--eviction lru|volatile-ttl] [--trusted-proxy ADDR]...
                    [--ipv6-prefix BITS] [--data-dir DIR]
                    [--redis URL | --redis-cluster URL,URL,... | --baseline-store]

  --addr HOST:PORT           address to listen on (default 127.0.0.1:8080; port 0 picks a free one)
  --rate-limit N             requests allowed per client per 60 s window, every route counted
                             (default 100, N >= 1)
  --create-limit N           of those, requests that create a key (a login, a cache miss, a job
                             start) per client per 60 s window (default 10, N >= 1)
  --max-keys N               keys the in-process store holds at most; beyond, the windows and
                             sessions that end soonest are evicted (default 100000, N >= 1)
  --max-bytes N              bytes the in-process store accounts at most (keys, values and a
                             fixed overhead per key); beyond, keys are evicted (default: no cap)
  --eviction POLICY          which keys go first when a cap is reached: volatile-ttl (the
                             soonest deadline; the default) or lru (the least recently used)
  --trusted-proxy ADDR       believe X-Forwarded-For from this peer IP address (repeatable;
                             default: none, the peer address is the client)
  --ipv6-prefix BITS         IPv6 clients share a budget per prefix of this length (default 64,
                             1 <= BITS <= 128)
  --data-dir DIR             keep the in-process store in DIR/kv.snap across restarts (loaded
                             at start, saved every 30 s when changed and at shutdown)
  --redis URL                keep the state on Redis (redis:// or rediss://) instead of in process
  --redis-cluster URL,...    keep the state on a Redis cluster (its nodes' URLs)
  --baseline-store           keep the state in a RwLock<HashMap> (the original library's design,
                             no bound, no single flight) instead of this crate's store: only for
                             the comparison of scripts/load.sh
  -h, --help                 print this help
";

/// Where the service keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backing {
    /// An in-process `Store` holding at most `max_keys` keys (and `max_bytes` bytes, if set),
    /// evicting by `eviction`, persisted in `data_dir` if set.
    Memory {
        max_keys: usize,
        max_bytes: Option<usize>,
        eviction: Eviction,
        data_dir: Option<std::path::PathBuf>,
    },
    /// Redis at this URL.
    Redis(String),
    /// A Redis cluster with these nodes.
    Cluster(Vec<String>),
    /// The original library's design (`baseline`), for the load comparison.
    Baseline,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cli {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Serve on `addr`.
    Run {
        addr: SocketAddr,
        config: Config,
        backing: Backing,
    },
}

/// The service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// Requests per client per [`WINDOW`], every route counted.
    pub(crate) rate_limit: u64,
    /// Requests that create a key, per client per [`WINDOW`].
    pub(crate) create_limit: u64,
    /// Peers whose `X-Forwarded-For` is believed (IPv4-mapped addresses as IPv4).
    pub(crate) trusted_proxies: Vec<IpAddr>,
    /// IPv6 clients share one budget per prefix of this many bits (1 to 128).
    pub(crate) ipv6_prefix: u8,
}

impl Config {
    /// A rate limit, the default create limit and IPv6 prefix, and no trusted proxy.
    pub(crate) fn limit(rate_limit: u64) -> Config {
        Config {
            rate_limit,
            create_limit: DEFAULT_CREATE_LIMIT,
            trusted_proxies: Vec::new(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// Parses the arguments after the program name. `Err` holds a one-line reason.
pub(crate) fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let mut addr = None;
    let mut config = Config::limit(DEFAULT_RATE_LIMIT);
    let mut max_keys = DEFAULT_MAX_KEYS;
    let mut max_bytes = None;
    let mut eviction = Eviction::VolatileTtl;
    let mut data_dir = None;
    // The flags that configure the in-process store, as given (refused with --redis).
    let mut memory_only: Vec<&'static str> = Vec::new();
    let mut backing = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let positive = |name: &str, v: String| match v.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("{name} wants an integer >= 1, got {v:?}")),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "--addr" => addr = Some(parse_addr(&value("--addr")?)?),
            "--rate-limit" => config.rate_limit = positive("--rate-limit", value("--rate-limit")?)?,
            "--create-limit" => {
                config.create_limit = positive("--create-limit", value("--create-limit")?)?;
            }
            "--ipv6-prefix" => {
                let v = value("--ipv6-prefix")?;
                config.ipv6_prefix = match v.parse::<u8>() {
                    Ok(n @ 1..=128) => n,
                    _ => return Err(format!("--ipv6-prefix wants 1 to 128, got {v:?}")),
                };
            }
            "--max-keys" => {
                let n = positive("--max-keys", value("--max-keys")?)?;
                max_keys = usize::try_from(n).map_err(|_| "--max-keys is too large".to_owned())?;
                memory_only.push("--max-keys");
            }
            "--max-bytes" => {
                let n = positive("--max-bytes", value("--max-bytes")?)?;
                max_bytes =
                    Some(usize::try_from(n).map_err(|_| "--max-bytes is too large".to_owned())?);
                memory_only.push("--max-bytes");
            }
            "--eviction" => {
                let v = value("--eviction")?;
                eviction = match v.as_str() {
                    "lru" => Eviction::Lru,
                    "volatile-ttl" => Eviction::VolatileTtl,
                    _ => return Err(format!("--eviction wants lru or volatile-ttl, got {v:?}")),
                };
                memory_only.push("--eviction");
            }
            "--trusted-proxy" => {
                let v = value("--trusted-proxy")?;
                let ip = v
                    .parse::<IpAddr>()
                    .map_err(|_| format!("--trusted-proxy wants an IP address, got {v:?}"))?;
                config.trusted_proxies.push(ip.to_canonical());
            }
            "--data-dir" => {
                data_dir = Some(std::path::PathBuf::from(value("--data-dir")?));
                memory_only.push("--data-dir");
            }
            "--redis" | "--redis-cluster" | "--baseline-store" if backing.is_some() => {
                return Err(
                    "give one of --redis, --redis-cluster and --baseline-store, once".to_owned(),
                )
            }
            "--baseline-store" => backing = Some(Backing::Baseline),
            "--redis" => backing = Some(Backing::Redis(value("--redis")?)),
            "--redis-cluster" => {
                let nodes: Vec<String> = value("--redis-cluster")?
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                if nodes.is_empty() {
                    return Err("--redis-cluster wants URL,URL,...".to_owned());
                }
                backing = Some(Backing::Cluster(nodes));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let addr = match addr {
        Some(a) => a,
        None => parse_addr(DEFAULT_ADDR)?,
    };
    let backing = match backing {
        None => Backing::Memory {
            max_keys,
            max_bytes,
            eviction,
            data_dir,
        },
        Some(_) if !memory_only.is_empty() => {
            memory_only.dedup();
            return Err(format!(
                "{} configure the in-process store: they do nothing with --redis, \
                 --redis-cluster or --baseline-store (bound the Redis server itself, with its \
                 maxmemory and maxmemory-policy)",
                memory_only.join(", ")
            ));
        }
        Some(redis) => redis,
    };
    Ok(Cli::Run {
        addr,
        config,
        backing,
    })
}

/// `HOST:PORT` with an IP literal, or a host name resolved now (first address wins).
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("--addr wants HOST:PORT, got {s:?}"))
}
