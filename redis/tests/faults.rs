//! Faults, on servers these tests start and stop themselves (never the shared ones of
//! `scripts/with-redis.sh`, which only provides the binaries, a free port and a temp dir):
//!
//! - the server goes away mid-run (`shutdown nosave`): every operation fails with
//!   `Error::Backend` within a bound (< 5 s each), none hangs or panics, also 32 tasks at once;
//!   the server comes back on the same port: operations succeed again, by themselves, within a
//!   bound;
//! - the server hangs (SIGSTOP): operations time out within the bound; an `incr` that timed out
//!   was sent once and is applied once when the server resumes (never re-sent), standalone and
//!   on a cluster.

mod common;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{run, unique_namespace};
use scriptling_kv::{AsyncKv, Error, Value};
use scriptling_kv_redis::RedisStore;

/// Each failing operation must return within this.
const BOUND: Duration = Duration::from_secs(5);

struct Tools {
    server: String,
    cli: String,
    tmp: PathBuf,
}

fn tools() -> Option<Tools> {
    let server = common::env("SCRIPTLING_KV_REDIS_SERVER")?;
    let cli = common::env("SCRIPTLING_KV_REDIS_CLI")?;
    let tmp = std::env::var_os("SCRIPTLING_KV_REDIS_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    Some(Tools { server, cli, tmp })
}

/// A redis-server of this test's own, stopped when dropped.
struct OwnServer {
    port: u16,
    dir: PathBuf,
    server: String,
    cli: String,
    extra: Vec<String>,
}

impl OwnServer {
    fn start(tools: &Tools, port: u16, extra: &[&str]) -> OwnServer {
        let dir = tools.tmp.join(unique_namespace(&format!("fault-{port}")));
        std::fs::create_dir_all(&dir).unwrap();
        let s = OwnServer {
            port,
            dir,
            server: tools.server.clone(),
            cli: tools.cli.clone(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        s.launch();
        s
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("redis.pid")
    }

    fn pid(&self) -> String {
        std::fs::read_to_string(self.pidfile())
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Starts (or restarts) the server on its port and waits for PING.
    fn launch(&self) {
        let status = Command::new(&self.server)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--daemonize", "yes"])
            .arg("--pidfile")
            .arg(self.pidfile())
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .args(&self.extra)
            .status()
            .unwrap();
        assert!(status.success(), "redis-server did not start");
        let started = Instant::now();
        while !self.cli(&["ping"]).contains("PONG") {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no PONG from port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(&self.cli)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `shutdown nosave`, and waits until the process is gone (it removes its pidfile).
    fn shutdown(&self) {
        self.cli(&["shutdown", "nosave"]);
        let started = Instant::now();
        while self.pidfile().exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "server did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if self.pidfile().exists() {
            let _ = Command::new("kill").args(["-CONT", &self.pid()]).status();
            self.cli(&["shutdown", "nosave"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_port(from: u16) -> u16 {
    (from..60000)
        .find(|&p| {
            std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
        })
        .expect("a free port")
}

type Op<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// Every operation once, on `kv`.
fn every_op(kv: &RedisStore) -> Vec<(&'static str, Op<'_>)> {
    let ttl = Duration::from_secs(60);
    let one = Value::Int(1);
    vec![
        ("get", Box::pin(async move { kv.get("k").await.map(drop) })),
        (
            "get_or",
            Box::pin(async move { kv.get_or("k", 0).await.map(drop) }),
        ),
        ("set", Box::pin(async move { kv.set("k", 1).await })),
        (
            "set_with_ttl",
            Box::pin(async move { kv.set_with_ttl("k", 1, ttl).await }),
        ),
        (
            "delete",
            Box::pin(async move { kv.delete("d").await.map(drop) }),
        ),
        (
            "incr",
            Box::pin(async move { kv.incr("c", 1).await.map(drop) }),
        ),
        (
            "incr_with_ttl",
            Box::pin(async move { kv.incr_with_ttl("c", 1, ttl).await.map(drop) }),
        ),
        (
            "keys",
            Box::pin(async move { kv.keys("*").await.map(drop) }),
        ),
        (
            "exists",
            Box::pin(async move { kv.exists("k").await.map(drop) }),
        ),
        ("ttl", Box::pin(async move { kv.ttl("k").await.map(drop) })),
        (
            "expire",
            Box::pin(async move { kv.expire("k", ttl).await.map(drop) }),
        ),
        (
            "expire0",
            Box::pin(async move { kv.expire("k", Duration::ZERO).await.map(drop) }),
        ),
        (
            "persist",
            Box::pin(async move { kv.persist("k").await.map(drop) }),
        ),
        ("len", Box::pin(async move { kv.len().await.map(drop) })),
        (
            "is_empty",
            Box::pin(async move { kv.is_empty().await.map(drop) }),
        ),
        (
            "set_if_absent",
            Box::pin(async move { kv.set_if_absent("l", 1, Some(ttl)).await.map(drop) }),
        ),
        (
            "swap",
            Box::pin(async move { kv.swap("s", 1, Some(ttl)).await.map(drop) }),
        ),
        (
            "take",
            Box::pin(async move { kv.take("t").await.map(drop) }),
        ),
        (
            "compare_and_set",
            Box::pin(async move { kv.compare_and_set("k", &one, 2).await.map(drop) }),
        ),
        (
            "compare_and_delete",
            Box::pin(async move { kv.compare_and_delete("k", &Value::Int(2)).await.map(drop) }),
        ),
        (
            "update",
            Box::pin(async move { kv.update("k", |v| v.clone()).await.map(drop) }),
        ),
        (
            "get_or_insert_with_async",
            Box::pin(async move {
                common::get_or_insert(kv, "g", Some(ttl), || async { Value::Int(1) })
                    .await
                    .map(drop)
            }),
        ),
        ("clear", Box::pin(async move { kv.clear().await })),
    ]
}

#[test]
fn server_goes_away_and_comes_back() {
    let Some(tools) = tools() else { return };
    let port = std::env::var("SCRIPTLING_KV_REDIS_FAULT_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| free_port(47400));
    run(async {
        let server = OwnServer::start(&tools, port, &[]);
        let kv = RedisStore::builder()
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(1))
            .connect(
                &format!("redis://127.0.0.1:{port}"),
                &unique_namespace("fault"),
            )
            .await
            .unwrap();
        for (name, op) in every_op(&kv) {
            op.await
                .unwrap_or_else(|e| panic!("{name} before the fault: {e}"));
        }

        // 32 tasks busy when the server goes away.
        let mut busy = Vec::new();
        for t in 0..32 {
            let kv = kv.clone();
            busy.push(tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut errors = 0;
                let until = Instant::now() + Duration::from_secs(2);
                while Instant::now() < until {
                    let started = Instant::now();
                    if kv.incr(&format!("busy{t}"), 1).await.is_err() {
                        errors += 1;
                    }
                    worst = worst.max(started.elapsed());
                }
                (worst, errors)
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.shutdown();

        let mut slowest = ("", Duration::ZERO);
        for (name, op) in every_op(&kv) {
            let started = Instant::now();
            let r = op.await;
            let took = started.elapsed();
            eprintln!("down: {name:>24} -> {took:>10.1?} {r:?}");
            assert!(
                matches!(&r, Err(Error::Backend { backend, .. }) if backend == "redis"),
                "{name} with the server down: {r:?}"
            );
            assert!(took < BOUND, "{name} took {took:?}");
            if took > slowest.1 {
                slowest = (name, took);
            }
        }
        let mut busy_worst = Duration::ZERO;
        for task in busy {
            let (worst, errors) = task.await.expect("no task panicked");
            assert!(errors > 0);
            busy_worst = busy_worst.max(worst);
        }
        assert!(busy_worst < BOUND, "a busy task waited {busy_worst:?}");

        server.launch();
        let back = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match kv.set("k", "back").await {
                Ok(()) => break,
                Err(e) => {
                    assert!(
                        back.elapsed() < Duration::from_secs(10),
                        "not back after 10 s: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let recovered = back.elapsed();
        assert_eq!(kv.get("k").await.unwrap(), Some(Value::from("back")));
        for (name, op) in every_op(&kv) {
            op.await
                .unwrap_or_else(|e| panic!("{name} after the restart: {e}"));
        }
        eprintln!(
            "server down: slowest failing op {} {:?}; worst op of 32 busy tasks {busy_worst:?}; \
             working again {recovered:?} after the restart ({attempts} attempts)",
            slowest.0, slowest.1
        );
    });
}

#[test]
fn a_hung_server_times_out_and_incr_is_sent_once() {
    let Some(tools) = tools() else { return };
    let port = free_port(47500);
    run(async {
        let server = OwnServer::start(&tools, port, &[]);
        let kv = RedisStore::builder()
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500))
            .connect(
                &format!("redis://127.0.0.1:{port}"),
                &unique_namespace("hang"),
            )
            .await
            .unwrap();
        let ttl = Duration::from_secs(60);
        assert_eq!(kv.incr("c", 1).await, Ok(1));
        assert_eq!(kv.incr_with_ttl("warm", 1, ttl).await, Ok(1)); // loads the script

        server.signal("-STOP");
        let started = Instant::now();
        let r = kv.incr("c", 10).await;
        let took = started.elapsed();
        eprintln!("hung: incr -> {took:?} {r:?}");
        assert!(
            matches!(&r, Err(Error::Backend { reason, .. }) if reason.contains("may or may not"))
        );
        assert!(
            took >= Duration::from_millis(400) && took < BOUND,
            "{took:?}"
        );
        let started = Instant::now();
        let r = kv.incr_with_ttl("c", 100, ttl).await;
        eprintln!("hung: incr_with_ttl -> {:?} {r:?}", started.elapsed());
        assert!(matches!(r, Err(Error::Backend { .. })));
        for (name, op) in every_op(&kv) {
            let started = Instant::now();
            let r = op.await;
            assert!(
                r.is_err() && started.elapsed() < BOUND,
                "{name}: {r:?} {:?}",
                started.elapsed()
            );
        }
        server.signal("-CONT");

        // The two timed-out increments were on the wire: the server applies each once.
        let started = Instant::now();
        let value = loop {
            if let Ok(v) = kv.get("c").await {
                break v;
            }
            assert!(started.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // (every_op's incr and incr_with_ttl on "c" timed out too: +1 +1, also applied once)
        assert_eq!(
            value,
            Some(Value::Int(1 + 10 + 100 + 1 + 1)),
            "each increment applied once"
        );
        eprintln!(
            "hung server: resumed and consistent after {:?}",
            started.elapsed()
        );
    });
}

/// Three masters of this test's own, in a cluster (ports from `from` up).
async fn own_cluster(tools: &Tools, from: u16) -> Vec<OwnServer> {
    let mut servers = Vec::new();
    let mut from = from;
    for _ in 0..3 {
        let port = free_port(from);
        from = port + 1;
        let conf = format!("nodes-{port}.conf");
        servers.push(OwnServer::start(
            tools,
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &conf,
                "--cluster-node-timeout",
                "15000",
            ],
        ));
    }
    let out = Command::new(&tools.cli)
        .args(["--cluster", "create"])
        .args(servers.iter().map(|s| format!("127.0.0.1:{}", s.port)))
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let started = Instant::now();
    while !servers
        .iter()
        .all(|s| s.cli(&["cluster", "info"]).contains("cluster_state:ok"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "cluster not ok"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    servers
}

async fn connect_own_cluster(servers: &[OwnServer], ns: &str) -> RedisStore {
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("redis://127.0.0.1:{}", s.port))
        .collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    RedisStore::builder()
        .connection_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(500))
        .connect_cluster(&urls, ns)
        .await
        .unwrap()
}

#[test]
fn a_hung_cluster_times_out_and_incr_is_sent_once() {
    let Some(tools) = tools() else { return };
    run(async {
        let servers = own_cluster(&tools, 47600).await;
        let kv = connect_own_cluster(&servers, &unique_namespace("hangc")).await;
        assert_eq!(kv.incr("c", 1).await, Ok(1));
        for s in &servers {
            s.signal("-STOP");
        }
        let started = Instant::now();
        let r = kv.incr("c", 10).await;
        let took = started.elapsed();
        eprintln!("hung cluster: incr -> {took:?} {r:?}");
        assert!(matches!(r, Err(Error::Backend { .. })));
        assert!(took < BOUND, "{took:?}");
        for s in &servers {
            s.signal("-CONT");
        }
        let started = Instant::now();
        let value = loop {
            if let Ok(v) = kv.get("c").await {
                break v;
            }
            assert!(started.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            value,
            Some(Value::Int(11)),
            "the timed-out incr was applied exactly once"
        );
        assert_eq!(kv.incr("c", 1).await, Ok(12));
        eprintln!(
            "hung cluster: consistent again after {:?}",
            started.elapsed()
        );
    });
}

/// The node (its index in `servers`) and node id owning `slot`, from `CLUSTER NODES`.
fn owner(servers: &[OwnServer], slot: u16) -> (usize, String) {
    let nodes = servers[0].cli(&["cluster", "nodes"]);
    for line in nodes.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let owns = f.iter().skip(8).any(|r| match r.split_once('-') {
            Some((a, b)) => {
                a.parse::<u16>().is_ok_and(|a| a <= slot)
                    && b.parse::<u16>().is_ok_and(|b| slot <= b)
            }
            None => r.parse::<u16>() == Ok(slot),
        });
        if owns {
            let port: u16 = f[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
            let i = servers.iter().position(|s| s.port == port).unwrap();
            return (i, f[0].to_owned());
        }
    }
    panic!("no owner of slot {slot} in {nodes}");
}

#[test]
fn writes_follow_ask_and_moved_redirects_once() {
    // A slot migrated by hand while the store writes to it: a key not yet on the target gets
    // ASK (answered with ASKING on the target), a key already moved too, and after the slot
    // is reassigned, MOVED. Each increment is applied exactly once.
    let Some(tools) = tools() else { return };
    run(async {
        let servers = own_cluster(&tools, 47700).await;
        let ns = unique_namespace("redir");
        let kv = connect_own_cluster(&servers, &ns).await;
        // Both keys hash on "{t}" (their Redis names are `ns:{t}a`, `ns:{t}b`).
        let slot: u16 = servers[0]
            .cli(&["cluster", "keyslot", &format!("{ns}:{{t}}a")])
            .trim()
            .parse()
            .unwrap();
        let (src, src_id) = owner(&servers, slot);
        let dst = (src + 1) % servers.len();
        let dst_id = servers[dst].cli(&["cluster", "myid"]).trim().to_owned();
        assert_eq!(kv.incr("{t}a", 1).await, Ok(1));

        let s = slot.to_string();
        assert!(servers[dst]
            .cli(&["cluster", "setslot", &s, "importing", &src_id])
            .contains("OK"));
        assert!(servers[src]
            .cli(&["cluster", "setslot", &s, "migrating", &dst_id])
            .contains("OK"));
        // Not on the source: ASK, then ASKING + INCRBY on the target.
        assert_eq!(kv.incr("{t}b", 5).await, Ok(5));
        assert_eq!(kv.set_if_absent("{t}c", "x", None).await, Ok(true));
        // Still on the source: served there.
        assert_eq!(kv.incr("{t}a", 1).await, Ok(2));
        let moved = servers[src].cli(&[
            "migrate",
            "127.0.0.1",
            &servers[dst].port.to_string(),
            "",
            "0",
            "5000",
            "keys",
            &format!("{ns}:{{t}}a"),
        ]);
        assert!(moved.contains("OK"), "{moved}");
        // Moved to the target mid-migration: ASK again.
        assert_eq!(kv.incr("{t}a", 1).await, Ok(3));
        assert_eq!(
            kv.incr_with_ttl("{t}a", 1, Duration::from_secs(60)).await,
            Ok(4)
        );
        // The slot is the target's now: MOVED from the source.
        for server in &servers {
            server.cli(&["cluster", "setslot", &s, "node", &dst_id]);
        }
        assert_eq!(kv.incr("{t}a", 1).await, Ok(5));
        assert_eq!(kv.incr("{t}b", 1).await, Ok(6));
        assert_eq!(kv.get("{t}a").await.unwrap(), Some(Value::Int(5)));
        assert_eq!(kv.get("{t}c").await.unwrap(), Some(Value::from("x")));
        let mut keys = kv.keys("*").await.unwrap();
        keys.sort();
        assert_eq!(keys, ["{t}a", "{t}b", "{t}c"]);
        kv.clear().await.unwrap();
        assert!(kv.is_empty().await.unwrap());
    });
}
