//! What a forwarded request costs in calls out of the VM. Each call crosses
//! between V8 and Envoy (the first in a callback costs several µs, later ones
//! about 1 µs: BENCHMARKS.md), so a new call on the hot path must show here.

use portico::testing::TestHost;
use std::collections::BTreeMap;

#[test]
fn a_forwarded_request_reads_the_headers_once_and_writes_two() {
    let host = TestHost::new();
    let vm = host
        .vm::<portico_hello::Hello>(r#"{"value": "v"}"#)
        .unwrap();
    vm.get("/x").send();
    host.take_host_calls();
    assert_eq!(vm.get("/x").send().status(), 200);
    let expected = BTreeMap::from([("header", 1), ("increment_metric", 1), ("set_header", 2)]);
    assert_eq!(host.host_calls(), expected);
}
