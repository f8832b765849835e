//! The harness's upstream told what to answer, in a real Envoy: answers
//! chosen for a path or by a closure reach the client through a route, a
//! Portico filter's callout (the probe's) and Envoy's own auth callout
//! (`ext_authz`), status, headers and body. This is how a test fakes an auth
//! service or an API without writing a server.

use portico_harness::bootstrap::{wasm_filter, Bootstrap};
use portico_harness::{probe_wasm_path, Answer, Envoy, Upstream};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[test]
fn a_path_answer_reaches_the_client_with_its_status_headers_and_body() {
    let upstream = Upstream::start();
    upstream.answer(
        "/teapot",
        Answer::new(418)
            .header("content-type", "text/plain")
            .header("x-kind", "teapot")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body("short and stout"),
    );
    let config = Bootstrap::new(upstream.port())
        .listener("main", vec![])
        .render();
    let envoy = Envoy::start(&config, 1);

    // The query does not matter; the path does.
    let reply = envoy.get("main", "/teapot?size=small").send();
    assert_eq!(reply.status, 418);
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(reply.header("x-kind"), Some("teapot"));
    assert_eq!(reply.header_all("set-cookie"), vec!["a=1", "b=2"]);
    assert_eq!(reply.text(), "short and stout");
    assert_eq!(upstream.hits("/teapot"), 1);

    // Other paths still echo, and a later answer replaces the first.
    assert_eq!(
        envoy.get("main", "/else").send().echo().unwrap().path,
        "/else"
    );
    upstream.answer("/teapot", Answer::new(204));
    let reply = envoy.get("main", "/teapot").send();
    assert_eq!((reply.status, reply.text()), (204, String::new()));
}

/// Envoy's HTTP `ext_authz`, asking the upstream under `/auth` before each
/// request; `x-user` from an allowing answer goes upstream.
fn ext_authz() -> Value {
    json!({
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "http_service": {
                "server_uri": { "uri": "http://auth.test", "cluster": "upstream", "timeout": "2s" },
                "path_prefix": "/auth",
                "authorization_response": {
                    "allowed_upstream_headers": { "patterns": [{ "exact": "x-user" }] }
                }
            }
        }
    })
}

#[test]
fn a_closure_fakes_the_auth_service_of_envoys_ext_authz() {
    let upstream = Upstream::start();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    upstream.answer_with(move |req| {
        // Everything else falls through to the echo.
        let original = req.path.strip_prefix("/auth")?;
        seen.lock()
            .unwrap()
            .push((req.method.clone(), original.to_string()));
        Some(match req.header("authorization") {
            Some("Bearer good") => Answer::new(200).header("x-user", "alice"),
            _ => Answer::new(403)
                .header("www-authenticate", "Bearer realm=\"fake\"")
                .header("x-deny-reason", "no good token")
                .body("denied by the fake auth service"),
        })
    });
    let config = Bootstrap::new(upstream.port())
        .listener("main", vec![ext_authz()])
        .render();
    let envoy = Envoy::start(&config, 1);

    let allowed = envoy
        .get("main", "/orders")
        .header("authorization", "Bearer good")
        .send();
    assert_eq!(allowed.status, 200);
    let echo = allowed.echo().unwrap();
    assert_eq!(echo.path, "/orders");
    assert_eq!(echo.header("x-user"), Some("alice"));

    let denied = envoy
        .get("main", "/orders")
        .header("authorization", "Bearer forged")
        .send();
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.header("www-authenticate"),
        Some("Bearer realm=\"fake\"")
    );
    assert_eq!(denied.header("x-deny-reason"), Some("no good token"));
    assert_eq!(denied.text(), "denied by the fake auth service");

    // The fake saw both checks; only the allowed request went further.
    assert_eq!(
        *asked.lock().unwrap(),
        vec![
            ("GET".to_string(), "/orders".to_string()),
            ("GET".to_string(), "/orders".to_string())
        ]
    );
    assert_eq!(upstream.hits("/orders"), 1);
}

#[test]
fn a_portico_filters_callout_gets_the_chosen_status_and_body() {
    let upstream = Upstream::start();
    // The probe's `/probe/callout` GETs `/doc` and reports `<status> <body>`.
    upstream.answer(
        "/doc",
        Answer::new(401)
            .header("www-authenticate", "Bearer")
            .body("who are you"),
    );
    let wasm = probe_wasm_path().unwrap();
    let config = Bootstrap::new(upstream.port())
        .listener(
            "main",
            vec![wasm_filter(
                "portico.probe",
                &wasm,
                r#"{"cluster": "upstream", "fetch_delay": "0s"}"#,
            )],
        )
        .render();
    let envoy = Envoy::start(&config, 1);
    let reply = envoy.get("main", "/probe/callout").send();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.echo().unwrap().header("x-probe-callout"),
        Some("401 who are you")
    );
}
