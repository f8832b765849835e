//! `portico_hello` on the SDK's test host: each behaviour its integration
//! test checks in Envoy, checked here in microseconds.

use portico::testing::TestHost;
use portico_hello::Hello;

const CONFIG: &str = r#"{"header": "x-portico-hello", "value": "world", "path": "/hello"}"#;

#[test]
fn adds_the_header_upstream_and_downstream() {
    let host = TestHost::new();
    let vm = host.vm::<Hello>(CONFIG).unwrap();
    let ex = vm.get("/anything?x=1").send();
    assert!(ex.reached_upstream());
    assert_eq!(ex.status(), 200);
    assert_eq!(
        ex.upstream_header("x-portico-hello").as_deref(),
        Some("world")
    );
    assert_eq!(
        ex.response_header("x-portico-hello").as_deref(),
        Some("world")
    );
    assert_eq!(host.metric("hello.forwarded"), Some(1));
    assert_eq!(host.metric("hello.greeted"), Some(0));
}

#[test]
fn replaces_a_client_supplied_header_rather_than_adding_to_it() {
    let host = TestHost::new();
    let vm = host.vm::<Hello>(CONFIG).unwrap();
    let ex = vm
        .get("/x")
        .header("X-Portico-Hello", "forged")
        .header("x-portico-hello", "forged-again")
        .send();
    assert_eq!(
        ex.stream().request_header_all("x-portico-hello"),
        vec!["world"]
    );
}

#[test]
fn answers_hello_locally_and_its_response_phase_sees_the_local_reply() {
    let host = TestHost::new();
    let vm = host.vm::<Hello>(CONFIG).unwrap();
    let ex = vm.get("/hello?name=x").send();
    assert!(!ex.reached_upstream());
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.body(), "Hello from Portico!\n");
    assert_eq!(
        ex.response_header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        ex.response_header("x-portico-hello").as_deref(),
        Some("world")
    );
    assert_eq!(ex.local_reply().unwrap().details, "portico_hello");
    assert_eq!(host.metric("hello.greeted"), Some(1));
    // Only the exact path is answered.
    assert!(vm.get("/hello/there").send().reached_upstream());
}

#[test]
fn defaults_apply_when_only_the_value_is_given() {
    let host = TestHost::new();
    let vm = host.vm::<Hello>(r#"{"value": "v"}"#).unwrap();
    assert_eq!(
        vm.get("/a")
            .send()
            .upstream_header("x-portico-hello")
            .as_deref(),
        Some("v")
    );
    assert_eq!(vm.get("/hello").send().status(), 200);
}

#[test]
fn two_workers_serve_concurrent_requests() {
    let host = TestHost::new();
    let workers: Vec<_> = (0..2).map(|_| host.vm::<Hello>(CONFIG).unwrap()).collect();
    for i in 0..40 {
        let ex = workers[i % 2].get(&format!("/n/{i}")).send();
        assert_eq!(
            ex.upstream_header("x-portico-hello").as_deref(),
            Some("world")
        );
    }
    assert_eq!(host.metric("hello.forwarded"), Some(40));
}

#[test]
fn the_header_name_is_lower_cased() {
    let host = TestHost::new();
    let vm = host
        .vm::<Hello>(r#"{"header": "X-Up", "value": "v"}"#)
        .unwrap();
    assert_eq!(
        vm.get("/").send().upstream_header("x-up").as_deref(),
        Some("v")
    );
}

#[test]
fn a_bad_config_is_refused_with_its_json_path() {
    let cases = [
        (
            r#"{"value": 5}"#,
            "value",
            "invalid type: integer `5`, expected a string",
        ),
        (
            r#"{"value": "v", "header": "bad header"}"#,
            "header",
            "\"bad header\" is not a valid header name",
        ),
        (
            r#"{"value": "a\r\nb"}"#,
            "value",
            "must not contain CR, LF or NUL",
        ),
        (
            r#"{"value": "v", "path": "hello"}"#,
            "path",
            "must start with `/`",
        ),
        (
            r#"{"value": "v", "pth": "/x"}"#,
            "pth",
            "unknown field `pth`",
        ),
        (r#"{"header": "x-a"}"#, ".", "missing field `value`"),
        (r#"{"value": "v""#, ".", "EOF while parsing"),
    ];
    for (config, path, message) in cases {
        let host = TestHost::new();
        let err = host
            .vm::<Hello>(config)
            .err()
            .unwrap_or_else(|| panic!("{config} accepted"));
        assert_eq!(err.path, path, "{config}");
        assert!(err.message.contains(message), "{config}: {}", err.message);
        let logged = format!("invalid filter configuration: {path}: ");
        assert!(
            host.logged(portico::host::LogLevel::Error, &logged),
            "{config}"
        );
    }
}
