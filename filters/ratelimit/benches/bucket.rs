//! The token bucket, natively: one `take` (the arithmetic every request
//! does), and a whole request through the filter on the SDK's test host
//! (key building, the shared-data slot table and its CAS).
//! `cargo bench -p portico-ratelimit`.
#![allow(clippy::expect_used)]

use divan::Bencher;
use portico::testing::TestHost;
use portico_ratelimit::bucket::Limit;
use portico_ratelimit::RateLimiter;
use std::hint::black_box;

fn main() {
    divan::main();
}

#[divan::bench]
fn take(bencher: Bencher) {
    let limit = Limit {
        max_tokens: 1000,
        tokens_per_fill: 100,
        fill_interval_ns: 1_000_000_000,
    };
    let mut state = None;
    let mut now: u64 = 1_000_000_000_000;
    bencher.bench_local(|| {
        now += 1_000_000;
        let (next, decision) = limit.take(black_box(state), now);
        state = Some(next);
        decision.allowed
    });
}

#[divan::bench(args = [1, 1000])]
fn request_per_user(bencher: Bencher, users: usize) {
    let host = TestHost::new();
    let vm = host
        .vm::<RateLimiter>(
            r#"{"stat_prefix": "b", "max_buckets": 10000, "descriptors": [{
                "actions": [{"request_headers": {"header_name": "x-user", "descriptor_key": "u"}}],
                "token_bucket": {"max_tokens": 1000000000, "tokens_per_fill": 1000000000, "fill_interval": "1s"}}]}"#,
        )
        .expect("config");
    let names: Vec<String> = (0..users).map(|i| format!("user-{i}")).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % names.len();
        let user = names.get(i).map(String::as_str).unwrap_or("u");
        vm.get("/").header("x-user", user).send().status()
    });
}
