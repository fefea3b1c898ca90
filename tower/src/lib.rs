//! Sessions, rate limits and cached responses for [tower] and [axum] services, on any
//! [`AsyncKv`](scriptling_kv::AsyncKv) backend: the in-process [`scriptling_kv::Store`], or Redis
//! (`scriptling_kv_redis::RedisStore`) when several replicas must share their state, or a
//! [`scriptling_kv::SharedKv`] holding either, chosen at run time.
//!
//! - [`KvSessionStore`]: tower-sessions' `SessionStore` (module [`session`]): atomic `create`,
//!   a TTL that ends at the session's `expiry_date`, every JSON value round-tripped exactly.
//! - [`RateLimitLayer`] over a [`Limiter`] (module [`rate_limit`]): a fixed window or GCRA per
//!   client, `429` with `Retry-After`, `RateLimit-*` headers on every response, clients named
//!   by their address or, behind trusted proxies, by `X-Forwarded-For` (module [`client`]).
//! - [`CacheLayer`] (module [`cache`]): `GET` responses cached with a TTL and a size limit,
//!   concurrent misses run once, `X-Cache: HIT | MISS | COALESCED`.
//!
//! Time is read from a [`Clock`] (module [`clock`]) so tests can drive it by hand.
//!
//! [tower]: https://docs.rs/tower
//! [axum]: https://docs.rs/axum
//!
//! # Example
//!
//! All three on one router, in process:
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::routing::get;
//! use axum::Router;
//! use scriptling_kv::{SharedKv, Store};
//! use scriptling_kv_tower::{CacheLayer, KvSessionStore, Limiter, RateLimitLayer};
//! use tower_sessions::{Session, SessionManagerLayer};
//!
//! async fn visits(session: Session) -> String {
//!     let n: u64 = session.get("visits").await.ok().flatten().unwrap_or(0) + 1;
//!     let _ = session.insert("visits", n).await;
//!     format!("visit {n}\n")
//! }
//!
//! let kv = SharedKv::new(Store::new());
//! let app: Router = Router::new()
//!     .route("/visits", get(visits))
//!     .layer(SessionManagerLayer::new(KvSessionStore::new(kv.clone())))
//!     .route(
//!         "/report",
//!         get(|| async { "expensive\n" }).layer(CacheLayer::new(kv.clone())),
//!     )
//!     .layer(RateLimitLayer::new(Limiter::fixed_window(kv, 100, Duration::from_secs(60))));
//! # let _ = app;
//! // Serve with `axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())`
//! // so the limiter sees each client's address.
//! ```

pub mod cache;
pub mod client;
pub mod clock;
pub mod rate_limit;
pub mod session;

pub use cache::CacheLayer;
pub use client::ClientAddr;
pub use clock::{Clock, SystemClock};
pub use rate_limit::{Decision, Limiter, Policy, RateLimitLayer};
pub use session::KvSessionStore;

/// The boxed error of a body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The code of `README.md`, compiled as doctests (so the README's example cannot rot).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
