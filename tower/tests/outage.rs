//! What the layers and the session store do when the backend cannot answer, on a backend that
//! fails every operation: the limiter fails closed (`503`, `Retry-After`, a generic body, the
//! handler not run, the error handed to the hook) or open when asked; the cache lets the inner
//! service answer; the session store returns errors, never panics.

mod common;

use std::future::{ready, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use scriptling_kv::{AsyncKv, Error, LoadError, Loaded, Result, Ttl, Value};
use scriptling_kv_tower::{CacheLayer, KvSessionStore, Limiter, RateLimitLayer};
use tower::ServiceExt;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::SessionStore;

/// A backend that is down: every operation fails.
#[derive(Debug, Clone, Copy)]
struct Down;

fn down<T: Send>() -> impl Future<Output = Result<T>> + Send {
    ready(Err(Error::Backend {
        backend: "down".into(),
        reason: "connection refused".into(),
    }))
}

impl AsyncKv for Down {
    fn set(&self, _: &str, _: impl Into<Value>) -> impl Future<Output = Result<()>> + Send {
        down()
    }
    fn set_with_ttl(
        &self,
        _: &str,
        _: impl Into<Value>,
        _: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        down()
    }
    fn get(&self, _: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        down()
    }
    fn get_or(&self, _: &str, _: impl Into<Value>) -> impl Future<Output = Result<Value>> + Send {
        down()
    }
    fn delete(&self, _: &str) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn incr(&self, _: &str, _: i64) -> impl Future<Output = Result<i64>> + Send {
        down()
    }
    fn keys(&self, _: &str) -> impl Future<Output = Result<Vec<String>>> + Send {
        down()
    }
    fn exists(&self, _: &str) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn ttl(&self, _: &str) -> impl Future<Output = Result<Ttl>> + Send {
        down()
    }
    fn expire(&self, _: &str, _: Duration) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn persist(&self, _: &str) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn clear(&self) -> impl Future<Output = Result<()>> + Send {
        down()
    }
    fn len(&self) -> impl Future<Output = Result<usize>> + Send {
        down()
    }
    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn get_and_expire(
        &self,
        _: &str,
        _: Duration,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        down()
    }
    fn set_if_absent(
        &self,
        _: &str,
        _: impl Into<Value>,
        _: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn swap(
        &self,
        _: &str,
        _: impl Into<Value>,
        _: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        down()
    }
    fn take(&self, _: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        down()
    }
    fn compare_and_set(
        &self,
        _: &str,
        _: &Value,
        _: impl Into<Value>,
    ) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn compare_and_delete(&self, _: &str, _: &Value) -> impl Future<Output = Result<bool>> + Send {
        down()
    }
    fn incr_with_ttl(
        &self,
        _: &str,
        _: i64,
        _: Duration,
    ) -> impl Future<Output = Result<i64>> + Send {
        down()
    }
    fn update(
        &self,
        _: &str,
        _: impl FnMut(&Value) -> Value + Send,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        down()
    }
    fn load_with<F, Fut, V>(
        &self,
        _: &str,
        _: Option<Duration>,
        _: F,
    ) -> impl Future<Output = Result<Loaded>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = V> + Send,
        V: Into<Value>,
    {
        down()
    }
    fn try_load_with<F, Fut, V, E>(
        &self,
        _: &str,
        _: Option<Duration>,
        _: F,
    ) -> impl Future<Output = std::result::Result<Loaded, LoadError<E>>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = std::result::Result<V, E>> + Send,
        V: Into<Value>,
        E: Send,
    {
        ready(Err(LoadError::Backend(Error::Backend {
            backend: "down".into(),
            reason: "connection refused".into(),
        })))
    }
}

/// `/` counts its runs.
fn app(calls: Arc<AtomicUsize>) -> Router {
    Router::new().route(
        "/",
        get(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { "served" }
        }),
    )
}

async fn read(app: Router) -> (u16, Vec<(String, String)>, String) {
    let reply = app
        .oneshot(common::request("GET", "/", "10.0.0.1:1", &[]))
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let headers = reply
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = axum::body::to_bytes(reply.into_body(), 1024).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[test]
fn the_limiter_fails_closed_by_default_and_open_when_asked() {
    common::run(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(AtomicUsize::new(0));
        let seen = errors.clone();
        let layer = RateLimitLayer::new(Limiter::fixed_window(Down, 10, Duration::from_secs(60)))
            .unavailable_retry_after(7)
            .on_backend_error(move |e| {
                assert!(matches!(e, Error::Backend { .. }), "{e}");
                seen.fetch_add(1, Ordering::SeqCst);
            });
        let (status, headers, body) = read(app(calls.clone()).layer(layer.clone())).await;
        assert_eq!(
            (status, body.as_str()),
            (503, r#"{"error":"service unavailable"}"#)
        );
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("retry-after").as_deref(), Some("7"));
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler did not run");
        assert_eq!(
            errors.load(Ordering::SeqCst),
            1,
            "the error went to the hook"
        );
        // GCRA fails the same way.
        let gcra = RateLimitLayer::new(Limiter::gcra(Down, 1, Duration::from_secs(1), 1));
        assert_eq!(read(app(calls.clone()).layer(gcra)).await.0, 503);
        // Open: the handler answers, unmetered (no RateLimit headers).
        let (status, headers, body) = read(app(calls.clone()).layer(layer.fail_open(true))).await;
        assert_eq!((status, body.as_str()), (200, "served"));
        assert!(
            !headers.iter().any(|(n, _)| n.starts_with("ratelimit-")),
            "{headers:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(errors.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn the_cache_lets_the_inner_service_answer() {
    common::run(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(AtomicUsize::new(0));
        let seen = errors.clone();
        let cache = CacheLayer::new(Down).on_backend_error(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        });
        for n in 1..=2 {
            let (status, _, body) = read(app(calls.clone()).layer(cache.clone())).await;
            assert_eq!((status, body.as_str()), (200, "served"));
            assert_eq!(calls.load(Ordering::SeqCst), n);
            assert_eq!(errors.load(Ordering::SeqCst), n);
        }
    });
}

#[test]
fn the_session_store_returns_errors() {
    common::run(async {
        let sessions = KvSessionStore::new(Down);
        let mut record = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        assert!(sessions.create(&mut record).await.is_err());
        assert!(sessions.save(&record).await.is_err());
        assert!(sessions.load(&record.id).await.is_err());
        assert!(sessions.delete(&record.id).await.is_err());
    });
}
