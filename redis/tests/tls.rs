//! `rediss://` against the TLS server of `scripts/with-redis.sh` (a test CA it makes with
//! openssl). rustls verifies the server against the system roots, which `SSL_CERT_FILE` replaces
//! (rustls-native-certs reads it); this file holds one test so setting it affects nothing else.
#![cfg(feature = "tls")]

mod common;

use std::time::Duration;

use scriptling_kv::{AsyncKv, Error, Value};
use scriptling_kv_redis::RedisStore;

#[test]
fn tls_connections_verify_the_server_and_work() {
    let Some(url) = common::env("SCRIPTLING_KV_REDIS_TLS_URL") else {
        return;
    };
    let Some(ca) = common::env("SCRIPTLING_KV_REDIS_TLS_CA") else {
        return;
    };
    common::run(async {
        // Without the test CA among the roots the self-signed server is refused.
        std::env::set_var("SSL_CERT_FILE", "/dev/null");
        let err = RedisStore::builder()
            .connection_timeout(Duration::from_secs(2))
            .connect(&url, "tls")
            .await
            .unwrap_err();
        eprintln!("without the CA: {err}");
        assert!(matches!(err, Error::Backend { .. }));

        std::env::set_var("SSL_CERT_FILE", &ca);
        let ns = common::unique_namespace("tls");
        let kv = RedisStore::connect(&url, &ns).await.unwrap();
        kv.set("k", vec![Value::from("over"), Value::from("tls")])
            .await
            .unwrap();
        assert_eq!(
            kv.get("k").await.unwrap(),
            Some(Value::from(vec!["over", "tls"]))
        );
        assert_eq!(kv.incr("n", 2).await, Ok(2));
        assert_eq!(kv.keys("*").await.unwrap(), ["k", "n"]);
        kv.clear().await.unwrap();
    });
}
