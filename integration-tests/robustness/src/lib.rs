//! Each function takes arbitrary input, runs it through a filter on the
//! SDK's test host, and panics if a property that must hold for every input
//! fails. They are the bodies of the fuzz targets in `fuzz/fuzz_targets/` and
//! of the property tests in `tests/props.rs`. A filter that panics on its own
//! fails them too, since a panic in Envoy kills the worker's VM.

use portico::testing::{TestHost, TestVm};
use portico::{ConfigError, Plugin};
use portico_jose::mint::Keys;
use portico_jwt::JwtAuthn;
use serde_json::json;

/// Loads `text` as `P`'s configuration. Accepted or refused, never a panic;
/// a refusal names a JSON path and a reason.
pub fn config<P: Plugin>(text: &str) -> Result<(), ConfigError> {
    let host = TestHost::new();
    match host.vm::<P>(text) {
        Ok(_) => Ok(()),
        Err(err) => {
            assert!(!err.path.is_empty(), "a refusal without a path: {err:?}");
            assert!(
                !err.message.is_empty(),
                "a refusal without a reason: {err:?}"
            );
            Err(err)
        }
    }
}

/// Every filter's configuration parser, on the same text.
pub fn any_config(text: &str) {
    let _ = config::<portico_jwt::JwtAuthn>(text);
    let _ = config::<portico_headers::HeaderRewriter>(text);
    let _ = config::<portico_ratelimit::RateLimiter>(text);
    let _ = config::<portico_hello::Hello>(text);
}

pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api";

/// The JWT filter with a fixed JWKS of every key type, requiring a token on every path.
pub struct Jwt {
    pub keys: Keys,
    host: TestHost,
    vm: TestVm<JwtAuthn>,
}

impl Jwt {
    pub fn new() -> Jwt {
        let keys = match Keys::generate(17) {
            Ok(keys) => keys,
            Err(e) => panic!("test keys: {e}"),
        };
        let config = json!({
            "providers": {"p": {
                "issuer": ISSUER,
                "audiences": [AUDIENCE],
                "local_jwks": {"inline_string": keys.jwks().to_string()},
                "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
        });
        let host = TestHost::new();
        let vm = match host.vm::<JwtAuthn>(&config.to_string()) {
            Ok(vm) => vm,
            Err(e) => panic!("config: {e:?}"),
        };
        Jwt { keys, host, vm }
    }

    /// A token the filter must accept.
    pub fn valid(&self, alg: &str) -> String {
        let now = self
            .host
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 3600});
        self.keys.token(alg, &claims)
    }

    /// Sends `token` as a bearer token. The answer is 200 (and then the
    /// subject is forwarded), 401 or 403; nothing else, and no panic.
    pub fn check(&self, token: &str) -> u16 {
        let ex = self
            .vm
            .get("/data")
            .header("authorization", &format!("Bearer {token}"))
            .header("x-sub", "forged")
            .send();
        let status = ex.status();
        match status {
            200 => assert_eq!(
                ex.upstream_header("x-sub").as_deref(),
                Some("alice"),
                "accepted {token:?}"
            ),
            401 | 403 => assert!(!ex.reached_upstream(), "refused but forwarded: {token:?}"),
            other => panic!("status {other} for {token:?}"),
        }
        status
    }
}

impl Default for Jwt {
    fn default() -> Self {
        Jwt::new()
    }
}

/// A header value template (`%REQ(x-in)%` and friends) rendered against a
/// request header value. If the template is accepted, what reaches the
/// upstream never carries CR, LF or NUL and stays within 16 KiB.
pub fn header_template(template: &str, value: &str) -> Option<String> {
    let config = json!({"mutations": {"request_mutations": [
        {"append": {"header": {"key": "x-out", "value": template}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}}
    ]}});
    let host = TestHost::new();
    let vm = host
        .vm::<portico_headers::HeaderRewriter>(&config.to_string())
        .ok()?;
    let ex = vm.get("/p?q=1").header("x-in", value).send();
    assert_eq!(ex.status(), 200);
    let out = ex.upstream_header("x-out");
    if let Some(out) = &out {
        assert!(
            !out.contains(['\r', '\n', '\0']),
            "{template:?} with {value:?} rendered {out:?}"
        );
        assert!(
            out.len() <= 16 * 1024,
            "{template:?} rendered {} bytes",
            out.len()
        );
    }
    out
}

/// The rate-limit key builder on arbitrary header, query and
/// x-forwarded-for values: with one token per key, a second identical
/// request is always limited and a request for the key `other` is not.
pub fn ratelimit_key(header: &str, query: &str, xff: &str) {
    let config = json!({
        "stat_prefix": "p",
        "max_buckets": 64,
        "xff_num_trusted_hops": 1,
        "descriptors": [{
            "actions": [
                {"request_headers": {"header_name": "x-key", "descriptor_key": "k"}},
                {"query_parameter": {"name": "q", "skip_if_absent": true}},
                {"remote_address": {}}
            ],
            "token_bucket": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval": "60s"}
        }]
    });
    let host = TestHost::new();
    let vm = match host.vm::<portico_ratelimit::RateLimiter>(&config.to_string()) {
        Ok(vm) => vm,
        Err(e) => panic!("config: {e:?}"),
    };
    let path = format!("/r?q={query}");
    let send = |key: &str| {
        vm.get(&path)
            .header("x-key", key)
            .header("x-forwarded-for", xff)
            .send()
            .status()
    };
    assert_eq!(
        send(header),
        200,
        "first request for {header:?} {query:?} {xff:?}"
    );
    assert_eq!(
        send(header),
        429,
        "second request for {header:?} {query:?} {xff:?}"
    );
    if header != "other" {
        assert_eq!(
            send("other"),
            200,
            "a different key shares {header:?}'s bucket"
        );
    }
}
