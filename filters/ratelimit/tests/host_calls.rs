//! What an admitted request costs in calls out of the VM (see
//! `filters/hello/tests/host_calls.rs` for why this is counted).

use portico::testing::TestHost;
use std::collections::BTreeMap;

#[test]
fn an_admitted_request_takes_one_token_with_one_read_and_one_cas_write() {
    let host = TestHost::new();
    let config = r#"{"stat_prefix": "bench", "token_bucket": {"max_tokens": 1000, "tokens_per_fill": 1000, "fill_interval": "1s"}}"#;
    let vm = host.vm::<portico_ratelimit::RateLimiter>(config).unwrap();
    vm.get("/x").send();
    host.take_host_calls();
    assert_eq!(vm.get("/x").send().status(), 200);
    // The clock, the shared bucket read and its CAS write, and two counters
    // (`enabled` and `ok`, as native local_ratelimit counts them).
    let expected = BTreeMap::from([
        ("increment_metric", 2),
        ("now", 1),
        ("set_shared_data", 1),
        ("shared_data", 1),
    ]);
    assert_eq!(host.host_calls(), expected);
}
