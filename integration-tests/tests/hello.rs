//! `portico_hello.wasm` in a real Envoy, configured by `envoy/hello.yaml`.

use portico_harness::bootstrap::{wasm_filter, Bootstrap};
use portico_harness::{shipped, wasm_path, Envoy, Upstream};

fn hello_envoy(upstream: &Upstream, concurrency: usize) -> Envoy {
    wasm_path("hello").unwrap();
    shipped::start("hello.yaml", upstream.port(), concurrency)
}

#[test]
fn adds_the_header_upstream_and_downstream() {
    let upstream = Upstream::start();
    let envoy = hello_envoy(&upstream, 1);
    let reply = envoy.get("main", "/anything?x=1").send();
    assert_eq!(reply.status, 200);
    let echo = reply.echo().expect("the request reached the upstream");
    assert_eq!(echo.path, "/anything?x=1");
    assert_eq!(echo.header("x-portico-hello"), Some("world"));
    assert_eq!(reply.header("x-portico-hello"), Some("world"));
    assert_eq!(envoy.stat("wasmcustom.hello.forwarded"), Some(1));
}

#[test]
fn replaces_a_client_supplied_header_rather_than_adding_to_it() {
    let upstream = Upstream::start();
    let envoy = hello_envoy(&upstream, 1);
    let reply = envoy
        .get("main", "/x")
        .header("X-Portico-Hello", "forged")
        .header("x-portico-hello", "forged-again")
        .send();
    let echo = reply.echo().unwrap();
    assert_eq!(echo.header_all("x-portico-hello"), vec!["world"]);
}

#[test]
fn answers_hello_locally_and_its_response_phase_sees_the_local_reply() {
    let upstream = Upstream::start();
    let envoy = hello_envoy(&upstream, 1);
    let reply = envoy.get("main", "/hello?name=x").send();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "Hello from Portico!\n");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // Envoy sends a filter's local reply through that filter's response phase.
    assert_eq!(reply.header("x-portico-hello"), Some("world"));
    assert_eq!(upstream.request_count(), 0);
    assert_eq!(envoy.stat("wasmcustom.hello.greeted"), Some(1));
}

#[test]
fn two_workers_serve_concurrent_requests() {
    let upstream = Upstream::start();
    let envoy = hello_envoy(&upstream, 2);
    let runtime = portico_harness::runtime();
    let replies = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let req = envoy.get("main", &format!("/n/{i}"));
            tasks.push(tokio::spawn(req.send_async()));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    assert!(replies
        .iter()
        .all(|r| r.echo().unwrap().header("x-portico-hello") == Some("world")));
    assert_eq!(envoy.stat("wasmcustom.hello.forwarded"), Some(40));
}

#[test]
fn a_bad_config_is_refused_at_load_with_its_json_path() {
    let wasm = wasm_path("hello").unwrap();
    let cases = [
        (
            r#"{"value": 5}"#,
            "invalid filter configuration: value: invalid type: integer `5`, expected a string",
        ),
        (
            r#"{"value": "v", "header": "bad header"}"#,
            "invalid filter configuration: header: \"bad header\" is not a valid header name",
        ),
        (
            r#"{"value": "v", "pth": "/x"}"#,
            "invalid filter configuration: pth: unknown field `pth`",
        ),
        (
            r#"{"header": "x-a"}"#,
            "invalid filter configuration: .: missing field `value`",
        ),
    ];
    for (config, expected) in cases {
        let bootstrap = Bootstrap::new(9)
            .listener("main", vec![wasm_filter("portico.hello", &wasm, config)])
            .render();
        let refusal = Envoy::start_expecting_refusal(&bootstrap);
        assert!(
            refusal.status.is_some_and(|s| !s.success()),
            "Envoy should exit with an error for {config}"
        );
        assert!(
            refusal.log.contains(expected),
            "log for {config} lacks {expected:?}:\n{}",
            refusal.log
        );
        // `envoy --mode validate` catches it too, without binding ports.
        let (ok, output) = Envoy::validate(&bootstrap);
        assert!(
            !ok && output.contains(expected),
            "validate mode for {config}:\n{output}"
        );
    }
}
