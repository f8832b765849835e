//! The configs users get in `envoy/`, run as shipped: each validates, the
//! edge chain (JWT → per-user rate limit → header rewriting) behaves as its
//! comments say, the single-filter files do what they advertise, and the dev
//! keys, sample tokens and inlined JWKS agree.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use portico_harness::dev::{self, Claims};
use portico_harness::shipped::{self, FILES};
use portico_harness::{wasm_path, workspace_root, Envoy, Reply, Upstream};
use serde_json::Value;

fn dist() -> std::path::PathBuf {
    wasm_path("jwt").unwrap().parent().unwrap().to_path_buf()
}

fn bearer(envoy: &Envoy, path: &str, token: &str) -> Reply {
    envoy
        .get("main", path)
        .header("authorization", &format!("Bearer {token}"))
        .send()
}

fn sample(file: &str) -> String {
    std::fs::read_to_string(workspace_root().join(file))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn every_shipped_config_validates_as_shipped() {
    for name in FILES {
        let config = shipped::render(name, &dist(), None).unwrap();
        let (ok, output) = Envoy::validate(&config);
        assert!(ok, "envoy --mode validate refused envoy/{name}:\n{output}");
    }
}

#[test]
fn shipped_configs_inline_the_dev_jwks() {
    let file: Value = serde_json::from_str(&sample(dev::JWKS)).unwrap();
    assert_eq!(
        dev::key().unwrap().jwks(),
        file,
        "{} does not match {}",
        dev::JWKS,
        dev::PRIVATE_KEY
    );
    for name in [
        "edge.yaml",
        "edge-native.yaml",
        "edge-three-modules.yaml",
        "jwt.yaml",
    ] {
        let jwt = shipped::filter_config(&shipped::load(name).unwrap(), "jwt").unwrap();
        let provider = &jwt["providers"]["portico_dev"];
        let inline: Value =
            serde_json::from_str(provider["local_jwks"]["inline_string"].as_str().unwrap())
                .unwrap();
        assert_eq!(
            inline,
            file,
            "envoy/{name} inlines another JWKS than {}",
            dev::JWKS
        );
        assert_eq!(provider["issuer"], dev::ISSUER, "envoy/{name}");
        assert_eq!(provider["audiences"][0], dev::AUDIENCE, "envoy/{name}");
    }
}

#[test]
fn sample_tokens_are_the_dev_key_s() {
    let key = dev::key().unwrap();
    for (file, sub, iat, exp) in dev::SAMPLE_TOKENS {
        let expected = key
            .token(&dev::sample_claims(sub, iat, exp).to_json())
            .unwrap();
        assert_eq!(
            sample(file),
            expected,
            "{file}: regenerate with `cargo xtask keys --force`"
        );
    }
}

#[test]
fn edge_chain_authenticates_limits_per_user_and_rewrites() {
    edge_chain_behaves_as_documented("edge.yaml");
}

#[test]
fn edge_chain_on_the_dynamic_module_authenticates_limits_per_user_and_rewrites() {
    edge_chain_behaves_as_documented("edge-native.yaml");
}

#[test]
fn edge_native_yaml_is_edge_yaml_on_libportico_so() {
    let wasm = shipped::load("edge.yaml").unwrap();
    let native = shipped::load("edge-native.yaml").unwrap();
    assert_eq!(
        shipped::module_config(&native, "edge"),
        shipped::module_config(&wasm, "edge"),
        "edge-native.yaml configures the chain differently from edge.yaml"
    );
    assert!(shipped::module_config(&native, "edge").is_some());
    assert_eq!(shipped::module_names(&native), [shipped::MODULE_NAME]);
    assert!(shipped::wasm_files(&native).is_empty());
    let filter = &native["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["http_filters"][0]["typed_config"];
    assert_eq!(filter["filter_name"], "edge");
    assert_eq!(
        filter["filter_config"]["@type"],
        "type.googleapis.com/google.protobuf.StringValue"
    );
    // Everything else, listener, routes and upstream, as in edge.yaml.
    let strip = |mut config: Value| {
        config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["http_filters"][0] = Value::Null;
        config
    };
    assert_eq!(strip(native), strip(wasm));
}

#[test]
fn edge_chain_of_three_modules_authenticates_limits_per_user_and_rewrites() {
    edge_chain_behaves_as_documented("edge-three-modules.yaml");
}

/// What the comments of the edge files promise, in Envoy with two workers.
fn edge_chain_behaves_as_documented(file: &str) {
    let upstream = Upstream::start();
    let envoy = shipped::start(file, upstream.port(), 2);
    let alice = dev::token(&Claims::new("alice")).unwrap();

    // No token: refused by the JWT filter, before the rate limit or the upstream.
    let missing = envoy.get("main", "/api").send();
    assert_eq!(missing.status, 401, "{}", missing.text());
    assert_eq!(missing.text(), "Jwt is missing");
    assert!(missing
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer realm="));
    assert_eq!(upstream.request_count(), 0);

    // The health check needs no token and gets no user.
    let health = envoy
        .get("main", "/healthz")
        .header("x-user-id", "forged")
        .send();
    assert_eq!(health.status, 200);
    assert_eq!(
        health.echo().unwrap().header("x-user-id"),
        None,
        "a client-sent x-user-id passed"
    );

    // A valid token: the upstream sees the user and neither the token nor x-jwt-sub.
    let ok = envoy
        .get("main", "/api/orders")
        .header("authorization", &format!("Bearer {alice}"))
        .header("x-user-id", "mallory")
        .header("x-jwt-sub", "mallory")
        .send();
    assert_eq!(ok.status, 200, "{}", ok.text());
    let seen = ok.echo().unwrap();
    assert_eq!(seen.header_all("x-user-id"), vec!["alice"]);
    assert_eq!(seen.header("x-jwt-sub"), None);
    assert_eq!(seen.header("authorization"), None);
    // Responses: internal headers gone, security headers and rate-limit headers there.
    assert_eq!(upstream.request_count(), 2);
    for gone in [
        "x-powered-by",
        "x-internal-node",
        "x-envoy-upstream-service-time",
    ] {
        assert_eq!(ok.header(gone), None, "{gone} reached the client");
    }
    assert_eq!(ok.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(ok.header("x-frame-options"), Some("DENY"));
    assert_eq!(ok.header("referrer-policy"), Some("no-referrer"));
    assert!(ok
        .header("strict-transport-security")
        .unwrap()
        .starts_with("max-age="));
    assert_eq!(ok.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(ok.header("x-ratelimit-remaining"), Some("4"));

    // Expired and foreign-audience tokens are refused with Envoy's messages.
    let expired = bearer(&envoy, "/api", &sample("envoy/tokens/expired.jwt"));
    assert_eq!(
        (expired.status, expired.text().as_str()),
        (401, "Jwt is expired")
    );
    let mut other = Claims::new("alice");
    other.audience = vec!["someone-else".into()];
    let foreign = bearer(&envoy, "/api", &dev::token(&other).unwrap());
    assert_eq!(
        (foreign.status, foreign.text().as_str()),
        (403, "Audiences in Jwt are not allowed")
    );

    // Five requests per user per minute: alice has used one.
    let statuses: Vec<u16> = (0..5)
        .map(|_| bearer(&envoy, "/api", &alice).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    let limited = bearer(&envoy, "/api", &alice);
    assert_eq!(limited.text(), "local_rate_limited");
    // Envoy sends a local reply back only through the filters before the one
    // that made it, so the header filter (last) does not touch the 429.
    assert_eq!(limited.header("x-ratelimit-limit"), Some("5"));
    // A second user has a bucket of their own; the sample tokens work.
    assert_eq!(
        bearer(&envoy, "/api", &sample("envoy/tokens/bob.jwt")).status,
        200
    );
    let bob = bearer(&envoy, "/api", &dev::token(&Claims::new("bob")).unwrap());
    assert_eq!(bob.echo().unwrap().header("x-user-id"), Some("bob"));
    assert_eq!(
        envoy.stat("wasmcustom.per_user.http_local_rate_limit.enforced"),
        Some(2)
    );
    assert_eq!(envoy.stat("wasmcustom.jwt_authn.denied"), Some(3));
}

#[test]
fn jwt_config_forwards_the_payload() {
    let upstream = Upstream::start();
    let envoy = shipped::start("jwt.yaml", upstream.port(), 1);
    let reply = bearer(&envoy, "/data", &sample("envoy/tokens/alice.jwt"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = reply.echo().unwrap();
    assert_eq!(seen.header("x-jwt-sub"), Some("alice"));
    let payload = seen.header("x-jwt-payload").unwrap();
    let decoded = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("x-jwt-payload is base64url");
    let decoded = String::from_utf8(decoded).unwrap();
    assert!(decoded.contains(r#""sub":"alice""#), "{decoded}");
    assert_eq!(envoy.get("main", "/data").send().status, 401);
    assert_eq!(envoy.get("main", "/healthz").send().status, 200);
}

#[test]
fn headers_config_rewrites_both_ways() {
    let upstream = Upstream::start();
    let envoy = shipped::start("headers.yaml", upstream.port(), 1);
    let reply = envoy
        .get("main", "/api/v1/items?x=1")
        .header("x-internal-debug", "1")
        .header("x-request-id", "r-1")
        .send();
    assert_eq!(reply.status, 200);
    let seen = reply.echo().unwrap();
    assert_eq!(seen.path, "/items?x=1");
    assert_eq!(seen.header("x-client-ip"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-internal-debug"), None);
    assert_eq!(reply.header("x-request-id"), Some("r-1"));
    assert_eq!(reply.header("x-powered-by"), None);
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
}

#[test]
fn ratelimit_config_limits_login_per_client() {
    let upstream = Upstream::start();
    let envoy = shipped::start("ratelimit.yaml", upstream.port(), 2);
    let login: Vec<u16> = (0..4)
        .map(|_| envoy.get("main", "/login").send().status)
        .collect();
    assert_eq!(login, [200, 200, 200, 429]);
    // Other paths use other buckets.
    let key: Vec<u16> = (0..11)
        .map(|_| {
            envoy
                .get("main", "/v")
                .header("x-api-key", "k1")
                .send()
                .status
        })
        .collect();
    assert_eq!(key.iter().filter(|&&s| s == 200).count(), 10, "{key:?}");
    assert_eq!(envoy.get("main", "/v").send().status, 200);
}

/// Sends `GET <path>` byte for byte (no URI parsing on our side, so `//`,
/// `..` and `%2F` reach Envoy as an attacker writes them); returns the
/// status and the `location` header.
fn raw_get(port: u16, path: &str) -> (u16, Option<String>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: portico.test\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    // Read the head, then the body its content-length announces: waiting for
    // the close would cost Envoy's delayed-close timeout (1 s) per request.
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        reply.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&reply);
        let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
            let length = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                })
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            body.len() >= length
        });
        if n == 0 || complete {
            break;
        }
    }
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {path}: {text:?}"));
    let location = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
        })
        .map(|(_, v)| v.trim().to_string());
    (status, location)
}

/// Issue 15, item 15: the path tricks that walk out of a public rule. The
/// shipped configs normalise the path (`normalize_path`, `merge_slashes`,
/// `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`) and name the
/// public endpoint by its exact path, so each trick either becomes the
/// protected path and gets 401, or is redirected to a path that does.
#[test]
fn path_tricks_around_the_public_rule_get_401_from_the_shipped_configs() {
    for name in FILES {
        let hcm = shipped::load(name).unwrap()["static_resources"]["listeners"][0]["filter_chains"]
            [0]["filters"][0]["typed_config"]
            .clone();
        assert_eq!(hcm["normalize_path"], true, "envoy/{name}");
        assert_eq!(hcm["merge_slashes"], true, "envoy/{name}");
        assert_eq!(
            hcm["path_with_escaped_slashes_action"], "UNESCAPE_AND_REDIRECT",
            "envoy/{name}"
        );
    }
    let tricks = [
        "/healthz/../api",
        "/healthz/./../api",
        "/healthz/%2e%2e/api",
        "/healthz/%2E%2E/api",
        "//healthz/../api",
        "/healthz//../api",
        "/healthz%2F..%2Fapi",
        "/healthz/..%2Fapi",
        "/healthz%5C..%5Capi",
        "/healthz;/../api",
        "/healthz/",
        "/healthz.",
        "/HEALTHZ",
        "/healthzX",
    ];
    for config in [
        "edge.yaml",
        "edge-native.yaml",
        "edge-three-modules.yaml",
        "jwt.yaml",
    ] {
        let upstream = Upstream::start();
        let envoy = shipped::start(config, upstream.port(), 1);
        let port = envoy.port("main");
        assert_eq!(raw_get(port, "/healthz").0, 200, "{config}: the control");
        assert_eq!(
            raw_get(port, "//healthz").0,
            200,
            "{config}: merged slashes"
        );
        for trick in tricks {
            let (mut status, location) = raw_get(port, trick);
            let mut followed = String::new();
            if (300..400).contains(&status) {
                let to = location.unwrap_or_else(|| panic!("{config} {trick}: no location"));
                let to = to
                    .strip_prefix("http://portico.test")
                    .unwrap_or(&to)
                    .to_string();
                status = raw_get(port, &to).0;
                followed = format!(" (after a redirect to {to})");
            }
            assert_eq!(
                status, 401,
                "{config}: {trick}{followed} passed the JWT filter"
            );
        }
        let before = upstream.request_count();
        assert_eq!(
            before, 2,
            "{config}: only the two health checks reached the upstream"
        );
    }
}

/// The one-module edge (`envoy/edge.yaml`) and the three-module chain
/// (`envoy/edge-three-modules.yaml`) side by side in one Envoy, one
/// listener each: the same requests, hostile ones included, get the same
/// status, response headers and body, and the upstream sees the same
/// request. Only what differs by nature is left out: `date`, the
/// per-request `x-request-id` Envoy generates, and `x-ratelimit-reset`
/// (seconds to the next refill, read a moment apart; compared within 1 s).
#[test]
fn the_one_module_edge_answers_exactly_as_the_three_module_chain() {
    chains_answer_alike("edge.yaml", "edge-three-modules.yaml");
}

/// The edge chain on libportico.so (`envoy/edge-native.yaml`) beside the
/// same chain as portico_edge.wasm (`envoy/edge.yaml`), in one Envoy: the
/// parity of the two backends, request for request.
#[test]
fn the_native_edge_answers_exactly_as_the_wasm_edge() {
    chains_answer_alike("edge.yaml", "edge-native.yaml");
}

/// `left` on the listener `main` and `right` on `other`, in one Envoy, sent
/// the same requests.
fn chains_answer_alike(left: &str, right: &str) {
    let mut one = shipped::load(left).unwrap();
    let mut other = shipped::load(right).unwrap();
    // Same filter configurations, member for member.
    for filter in ["jwt", "ratelimit", "headers"] {
        assert_eq!(
            shipped::filter_config(&one, filter),
            shipped::filter_config(&other, filter),
            "{filter}: {left} and {right} configure it differently"
        );
    }
    // The default bucket refills continuously, a token every 10 ms: two
    // chains' buckets, hit a moment apart, may read one token apart
    // (native `local_ratelimit` does the same). Both get a refill too slow
    // to return a token during the test, so `x-ratelimit-remaining` is
    // compared exactly.
    let slow_refill = |config: &mut Value| {
        config["token_bucket"]["fill_interval"] = "3600s".into();
    };
    for (name, config) in [(left, &mut one), (right, &mut other)] {
        let edited = shipped::edit_filter_config(config, "ratelimit", &slow_refill).unwrap();
        assert_eq!(edited, 1, "{name}: one ratelimit filter");
    }
    let native = |config: &Value| !shipped::module_names(config).is_empty();
    let natives = [native(&one), native(&other)];
    let mut listener = other["static_resources"]["listeners"][0].clone();
    listener["name"] = "other".into();
    one["static_resources"]["listeners"]
        .as_array_mut()
        .unwrap()
        .push(listener);
    let upstream = Upstream::start();
    let ports = shipped::Ports {
        listen: 0,
        admin: 0,
        upstream: upstream.port(),
        rls: 0,
    };
    let config =
        shipped::render_config(&format!("{left} + {right}"), one, &dist(), Some(ports)).unwrap();
    let envoy = Envoy::start(&config, 1);

    let alice = dev::token(&Claims::new("alice")).unwrap();
    let bob = dev::token(&Claims::new("bob")).unwrap();
    let mut foreign = Claims::new("alice");
    foreign.audience = vec!["someone-else".into()];
    let foreign = dev::token(&foreign).unwrap();
    let expired = sample("envoy/tokens/expired.jwt");
    let mut parts: Vec<String> = alice.split('.').map(str::to_string).collect();
    parts[2] = format!("{}A", &parts[2][..parts[2].len() - 1]);
    let bad_signature = parts.join(".");
    let huge = format!("{}.{}.{}", "e".repeat(6000), "e".repeat(6000), "e");
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        alice.split('.').nth(1).unwrap()
    );

    type Case = (
        &'static str,
        &'static str,
        Vec<(String, String)>,
        &'static str,
    );
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let auth = |t: &str| format!("Bearer {t}");
    let mut cases: Vec<Case> = vec![
        ("GET", "/api", h(&[]), ""),
        (
            "GET",
            "/healthz",
            h(&[("x-user-id", "forged"), ("x-jwt-sub", "forged")]),
            "",
        ),
        ("GET", "/healthz?x=1", h(&[]), ""),
        (
            "GET",
            "/api/orders",
            h(&[
                ("authorization", &auth(&alice)),
                ("x-user-id", "mallory"),
                ("x-jwt-sub", "mallory"),
            ]),
            "",
        ),
        (
            "GET",
            "/api",
            h(&[
                ("authorization", &auth(&alice)),
                ("authorization", &auth(&bob)),
            ]),
            "",
        ),
        (
            "GET",
            "/api",
            h(&[("authorization", &format!("bearer {alice}"))]),
            "",
        ),
        (
            "GET",
            "/api",
            h(&[("authorization", &format!("Bearer  {alice}"))]),
            "",
        ),
        (
            "GET",
            "/api",
            h(&[("authorization", &format!("Basic {alice}"))]),
            "",
        ),
        ("GET", "/api", h(&[("authorization", "Bearer ")]), ""),
        (
            "GET",
            "/api?access_token=x",
            h(&[("authorization", &auth(&expired))]),
            "",
        ),
        ("GET", "/api", h(&[("authorization", &auth(&foreign))]), ""),
        (
            "GET",
            "/api",
            h(&[("authorization", &auth(&bad_signature))]),
            "",
        ),
        ("GET", "/api", h(&[("authorization", &auth(&huge))]), ""),
        ("GET", "/api", h(&[("authorization", &auth(&none_alg))]), ""),
        ("GET", "/api", h(&[("authorization", "Bearer a.b.c")]), ""),
        (
            "POST",
            "/api/upload",
            h(&[
                ("authorization", &auth(&bob)),
                ("content-type", "application/json"),
                ("x-internal-debug", "1"),
            ]),
            r#"{"k": "v"}"#,
        ),
        ("GET", "/HEALTHZ", h(&[]), ""),
        (
            "OPTIONS",
            "/api",
            h(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ]),
            "",
        ),
    ];
    // Past bob's five requests a minute: 429s, and what comes back with them.
    for _ in 0..6 {
        cases.push((
            "GET",
            "/api/again",
            h(&[("authorization", &auth(&bob))]),
            "",
        ));
    }

    let normalise = |reply: &Reply| {
        let mut headers: Vec<(String, String)> = reply
            .headers
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-ratelimit-reset"))
            .cloned()
            .collect();
        headers.sort();
        let body = match reply.echo() {
            Some(mut echo) => {
                echo.headers.retain(|(k, _)| k != "x-request-id");
                format!(
                    "echo {} {} {:?} {}",
                    echo.method, echo.path, echo.headers, echo.body
                )
            }
            None => reply.text(),
        };
        let reset: Option<i64> = reply
            .header("x-ratelimit-reset")
            .and_then(|v| v.parse().ok());
        (reply.status, headers, body, reset)
    };
    let mut statuses = Vec::new();
    for (method, path, headers, body) in &cases {
        let send = |listener: &str| {
            let mut request = envoy
                .request(listener, method, path)
                .header("host", "portico.test");
            for (k, v) in headers {
                request = request.header(k, v);
            }
            request.body(body.as_bytes().to_vec()).send()
        };
        let (one_reply, three_reply) = (send("main"), send("other"));
        let (one_n, three_n) = (normalise(&one_reply), normalise(&three_reply));
        let what = format!(
            "{method} {path} {:?}",
            headers
                .iter()
                .map(|(k, v)| format!("{k}: {:.40}", v))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            (&one_n.0, &one_n.1, &one_n.2),
            (&three_n.0, &three_n.1, &three_n.2),
            "{what}: {left} (left) and {right} (right) differ"
        );
        assert_eq!(
            one_n.3.is_some(),
            three_n.3.is_some(),
            "{what}: x-ratelimit-reset"
        );
        if let (Some(a), Some(b)) = (one_n.3, three_n.3) {
            assert!(
                (a - b).abs() <= 1,
                "{what}: x-ratelimit-reset {a} against {b}"
            );
        }
        statuses.push(one_reply.status);
    }
    // The cases cover every kind of answer the chain gives.
    for status in [200, 401, 403, 429] {
        assert!(
            statuses.contains(&status),
            "no case answered {status}: {statuses:?}"
        );
    }
    // And the path tricks, byte for byte.
    for trick in [
        "/healthz/../api",
        "/healthz/%2e%2e/api",
        "//healthz/../api",
        "/healthz%2F..%2Fapi",
        "/healthz;/../api",
    ] {
        assert_eq!(
            raw_get(envoy.port("main"), trick),
            raw_get(envoy.port("other"), trick),
            "{trick}"
        );
    }
    // Both chains counted alike (Envoy sums a custom metric over the VMs
    // defining it; a dynamic module's metrics have a prefix of their own).
    let limited = statuses.iter().filter(|s| **s == 429).count() as u64;
    for (prefix, is_native) in [("wasmcustom", false), ("dynamicmodulescustom", true)] {
        let chains = natives.iter().filter(|n| **n == is_native).count() as u64;
        let counted = envoy
            .stat(&format!("{prefix}.per_user.http_local_rate_limit.enforced"))
            .unwrap_or(0);
        assert_eq!(
            counted,
            chains * limited,
            "{prefix}: each chain counted its own 429s"
        );
    }
}
