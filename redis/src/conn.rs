//! The connection to a standalone server or to a cluster, and the one rule about re-sending:
//! **reads may be retried, writes are sent at most once**.
//!
//! - Standalone: a redis-rs `ConnectionManager`. It never re-sends a command: a command that fails
//!   returns its error, and if the connection was lost the manager reconnects in the background
//!   (the next commands wait for that connection, bounded by the connection timeout).
//! - Cluster: two redis-rs `ClusterConnection`s. `retrying` (redis-rs's own retries: after
//!   `MOVED`/`ASK`, and after a dropped connection or a timeout) carries only reads (`GET`,
//!   `EXISTS`, `PTTL`, `SCAN`, `CLUSTER SLOTS`, `INFO`). `once` is built with zero retries and
//!   carries every write: redis-rs would re-send a write whose connection dropped or timed out,
//!   and it may have been applied (an `INCRBY` counted twice). On `once`, this module follows
//!   `MOVED` and `ASK` redirects itself: a server sends them only for a command it did **not**
//!   execute, so following them never applies a write twice.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, ErrorKind, RedisError, RedisResult, ServerErrorKind, Value as Reply};

/// How many `MOVED`/`ASK` redirects one write follows before giving up.
const MAX_REDIRECTS: usize = 5;

/// Whether a command may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// A read: re-sending is harmless.
    Read,
    /// A write: at most once (redirects, which prove it was not executed, excepted).
    Never,
}

/// A cluster node, as `CLUSTER SLOTS` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NodeAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// The connection (cheap to clone: handles to shared connections).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster {
        retrying: ClusterConnection,
        once: ClusterConnection,
    },
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Single(_) => "standalone",
            Conn::Cluster { .. } => "cluster",
        })
    }
}

impl Conn {
    /// Sends `cmd` (routed by its key on a cluster) and returns the reply, a server error reply
    /// as `Err`.
    pub(crate) async fn query(&self, cmd: &Cmd, resend: Resend) -> RedisResult<Reply> {
        match self {
            Conn::Single(cm) => cm
                .clone()
                .req_packed_command(cmd)
                .await
                .and_then(Reply::extract_error),
            Conn::Cluster { retrying, .. } if resend == Resend::Read => retrying
                .clone()
                .req_packed_command(cmd)
                .await
                .and_then(Reply::extract_error),
            Conn::Cluster { once, .. } => {
                let mut conn = once.clone();
                let mut result = conn
                    .req_packed_command(cmd)
                    .await
                    .and_then(Reply::extract_error);
                for _ in 0..MAX_REDIRECTS {
                    let (kind, target) = match &result {
                        Err(e) => {
                            match e.redirect_node().and_then(|(node, _slot)| parse_addr(node)) {
                                Some(target) => (e.kind(), target),
                                None => break,
                            }
                        }
                        Ok(_) => break,
                    };
                    let route = SingleNodeRoutingInfo::ByAddress {
                        host: target.host,
                        port: target.port,
                    };
                    result = if kind == ErrorKind::Server(ServerErrorKind::Ask) {
                        // The key is being migrated to `target`: ask it, in one pipeline.
                        let mut p = redis::pipe();
                        p.cmd("ASKING");
                        p.add_command(cmd.clone());
                        conn.route_pipeline(p, 0, 2, route)
                            .await
                            .and_then(|replies| {
                                replies.into_iter().nth(1).ok_or_else(|| {
                                    RedisError::from((
                                        ErrorKind::Client,
                                        "pipeline reply",
                                        "no reply after ASKING".to_owned(),
                                    ))
                                })
                            })
                            .and_then(Reply::extract_error)
                    } else {
                        conn.route_command(cmd.clone(), RoutingInfo::SingleNode(route))
                            .await
                            .and_then(Reply::extract_error)
                    };
                }
                result
            }
        }
    }

    /// Sends `cmd` to one node of a cluster (a read: `SCAN`).
    pub(crate) async fn query_node(&self, cmd: &Cmd, node: &NodeAddr) -> RedisResult<Reply> {
        match self {
            Conn::Single(_) => self.query(cmd, Resend::Read).await,
            Conn::Cluster { retrying, .. } => retrying
                .clone()
                .route_command(
                    cmd.clone(),
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: node.host.clone(),
                        port: node.port,
                    }),
                )
                .await
                .and_then(Reply::extract_error),
        }
    }

    /// Sends `cmd` to any one node (`CLUSTER SLOTS`, `INFO`).
    pub(crate) async fn query_any(&self, cmd: &Cmd) -> RedisResult<Reply> {
        match self {
            Conn::Single(_) => self.query(cmd, Resend::Read).await,
            Conn::Cluster { retrying, .. } => retrying
                .clone()
                .route_command(
                    cmd.clone(),
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                )
                .await
                .and_then(Reply::extract_error),
        }
    }
}

/// `host:port` (the host may be an IPv6 address; the port is after the last `:`).
pub(crate) fn parse_addr(node: &str) -> Option<NodeAddr> {
    let (host, port) = node.rsplit_once(':')?;
    Some(NodeAddr {
        host: host.to_owned(),
        port: port.parse().ok()?,
    })
}

/// The master nodes in a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, ...],
/// replicas...], ...]`, deduplicated, in order of first appearance.
pub(crate) fn masters_of(reply: &Reply) -> Option<Vec<NodeAddr>> {
    let Reply::Array(ranges) = reply else {
        return None;
    };
    let mut out: Vec<NodeAddr> = Vec::new();
    for range in ranges {
        let Reply::Array(fields) = range else {
            return None;
        };
        let Some(Reply::Array(master)) = fields.get(2) else {
            return None;
        };
        let host = match master.first()? {
            Reply::BulkString(b) => String::from_utf8(b.clone()).ok()?,
            Reply::SimpleString(s) => s.clone(),
            _ => return None,
        };
        let port = match master.get(1)? {
            Reply::Int(p) => u16::try_from(*p).ok()?,
            _ => return None,
        };
        let node = NodeAddr { host, port };
        if !out.contains(&node) {
            out.push(node);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            parse_addr("127.0.0.1:7001"),
            Some(NodeAddr {
                host: "127.0.0.1".into(),
                port: 7001
            })
        );
        assert_eq!(parse_addr("::1:7001").map(|a| a.host), Some("::1".into()));
        assert_eq!(parse_addr("nope"), None);
    }

    #[test]
    fn masters_are_read_from_cluster_slots() {
        let node = |port| {
            Reply::Array(vec![
                Reply::BulkString(b"127.0.0.1".to_vec()),
                Reply::Int(port),
                Reply::BulkString(b"id".to_vec()),
            ])
        };
        let reply = Reply::Array(vec![
            Reply::Array(vec![
                Reply::Int(0),
                Reply::Int(5460),
                node(7001),
                node(7004),
            ]),
            Reply::Array(vec![Reply::Int(5461), Reply::Int(10922), node(7002)]),
            Reply::Array(vec![Reply::Int(10923), Reply::Int(16383), node(7001)]),
        ]);
        let masters = masters_of(&reply).unwrap();
        assert_eq!(
            masters.iter().map(|n| n.port).collect::<Vec<_>>(),
            [7001, 7002]
        );
    }
}
