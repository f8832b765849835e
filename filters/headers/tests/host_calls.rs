//! What a request costs in calls out of the VM with `cargo xtask bench`'s
//! five operations (see `filters/hello/tests/host_calls.rs` for why).

use portico::testing::TestHost;
use std::collections::BTreeMap;

const CONFIG: &str = r#"{"mutations": {
    "request_mutations": [
        {"append": {"header": {"key": "x-a", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
        {"append": {"header": {"key": "x-client", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
        {"remove": "x-internal"}
    ],
    "response_mutations": [
        {"append": {"header": {"key": "x-frame-options", "value": "DENY"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
        {"remove": "x-powered-by"}
    ]
}}"#;

#[test]
fn five_operations_cost_seven_host_calls() {
    let host = TestHost::new();
    let vm = host.vm::<portico_headers::HeaderRewriter>(CONFIG).unwrap();
    vm.get("/x").send();
    host.take_host_calls();
    let ex = vm.get("/x").send();
    assert_eq!(ex.upstream_header("x-a").as_deref(), Some("1"));
    // Three writes; the client address; a lookup before each remove (only a
    // header that was there counts as applied: one read per map, made as
    // itself); the applied counter per side.
    let expected = BTreeMap::from([
        ("header", 2),
        ("increment_metric", 1),
        ("property", 1),
        ("set_header", 3),
    ]);
    assert_eq!(host.host_calls(), expected);
}
