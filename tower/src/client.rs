//! Who the client is: the peer address, or `X-Forwarded-For` from a trusted proxy.
//!
//! A request is attributed to its peer address (axum's `ConnectInfo<SocketAddr>` request
//! extension, which `into_make_service_with_connect_info::<SocketAddr>()` adds), unless the peer
//! is one of the configured trusted proxies. Then `X-Forwarded-For` is walked from the right
//! (every proxy appends the address it got the request from), skipping trusted proxies; the
//! first entry that is not one is the client. An entry may be `ip`, `ip:port` (IPv4), `[v6]` or
//! `[v6]:port`, with spaces around it; an entry that does not parse (`unknown`, a host name,
//! garbage, a field that is not visible ASCII) ends the walk and the request is charged to the
//! hop that appended it (the last trusted proxy walked), never to an entry further left, which
//! the client wrote itself. Several `X-Forwarded-For` fields are one list, in order.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack listener on `[::]` reports
//! for an IPv4 peer) are read as the IPv4 address, in the peer, the trusted list and the header
//! alike. An IPv6 client's budget is its prefix ([`ClientAddr::ipv6_prefix`], /64 by default:
//! one end site gets a /64 and can use any of its 2⁶⁴ addresses), named like
//! `2001:db8:1:2::/64` ([`bucket_of`]).
//!
//! The names this module makes are at most 43 bytes long (an IPv6 prefix with its length), so a
//! client cannot make a key of its choosing, whatever it sends.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use http::{HeaderMap, Request};

/// The default length of the IPv6 prefix that shares one budget.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The name of the budget of a request whose peer address is not known (no `ConnectInfo`).
pub const UNKNOWN_CLIENT: &str = "unknown";

/// How the client of a request is found: the trusted proxies and the IPv6 prefix length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr {
    trusted: Vec<IpAddr>,
    ipv6_prefix: u8,
}

impl Default for ClientAddr {
    fn default() -> ClientAddr {
        ClientAddr {
            trusted: Vec::new(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

impl ClientAddr {
    /// No trusted proxy (the peer is the client) and IPv6 clients grouped by /64.
    pub fn new() -> ClientAddr {
        ClientAddr::default()
    }

    /// Believes `X-Forwarded-For` from these peers (IPv4-mapped addresses are read as IPv4).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> ClientAddr {
        self.trusted = proxies.into_iter().map(|ip| ip.to_canonical()).collect();
        self
    }

    /// IPv6 clients share one budget per prefix of `bits` (clamped to 1..=128; default 64).
    #[must_use]
    pub fn ipv6_prefix(mut self, bits: u8) -> ClientAddr {
        self.ipv6_prefix = bits.clamp(1, 128);
        self
    }

    /// The trusted proxies, canonical.
    pub fn trusted(&self) -> &[IpAddr] {
        &self.trusted
    }

    /// The client address of `req` ([`client_of`] on its peer and headers); `None` without a
    /// peer address.
    pub fn client<B>(&self, req: &Request<B>) -> Option<IpAddr> {
        client_of(req.headers(), peer_of(req), &self.trusted)
    }

    /// The budget `req` counts in: [`bucket_of`] its client, or [`UNKNOWN_CLIENT`].
    pub fn bucket<B>(&self, req: &Request<B>) -> String {
        self.bucket_of_client(self.client(req))
    }

    /// The budget of a client found by [`ClientAddr::client`].
    pub fn bucket_of_client(&self, client: Option<IpAddr>) -> String {
        match client {
            Some(ip) => bucket_of(ip, self.ipv6_prefix),
            None => UNKNOWN_CLIENT.to_owned(),
        }
    }
}

/// The peer address of `req`, from axum's `ConnectInfo<SocketAddr>` extension.
pub fn peer_of<B>(req: &Request<B>) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// One `X-Forwarded-For` entry: `ip`, `ip:port` (IPv4), `[v6]` or `[v6]:port`, with spaces
/// around it; `None` for anything else (`unknown`, a host name, an obfuscated RFC 7239 name,
/// an empty entry).
pub fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    let v6 = entry.strip_prefix('[')?.strip_suffix(']')?;
    v6.parse::<Ipv6Addr>()
        .ok()
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

/// The client of a request from `peer` (module docs): the peer, unless it is one of the
/// `trusted` proxies (given canonical); then `X-Forwarded-For` walked from the right, skipping
/// trusted proxies, up to the first entry that is not one. An entry that does not parse stops
/// the walk and the request is the hop's that appended it: the last trusted address walked.
pub fn client_of(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hop = peer;
    // Right to left over the fields, and within each field over its entries; nothing is
    // collected, so a header of many entries costs a walk, not an allocation per entry.
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return Some(hop);
        };
        for entry in value.rsplit(',') {
            match parse_hop(entry) {
                Some(ip) if trusted.contains(&ip) => hop = ip,
                Some(ip) => return Some(ip),
                None => return Some(hop),
            }
        }
    }
    Some(hop)
}

/// The name of the budget `ip` counts in: an IPv4 address itself; an IPv6 address's prefix of
/// `prefix` bits (clamped to 1..=128), as `2001:db8:1:2::/64`.
pub fn bucket_of(ip: IpAddr, prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = prefix.clamp(1, 128);
            let mask = u128::MAX << (128 - u32::from(prefix));
            let net = Ipv6Addr::from(u128::from(v6) & mask);
            format!("{net}/{prefix}")
        }
    }
}
