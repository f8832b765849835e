//! The service over Redis, called as Envoy calls it.

#![allow(clippy::unwrap_used)] // test support

use portico_rls::engine::Config;
use portico_rls::proto::{code, Entry, RateLimitDescriptor, RateLimitRequest};
use portico_rls::{call, Mode, Redis, Rls};

fn config() -> Vec<Config> {
    vec![serde_yaml::from_str(
        "domain: edge\ndescriptors:\n- key: user\n  rate_limit: {unit: minute, requests_per_unit: 2}\n",
    )
    .unwrap()]
}

fn request(user: &str) -> RateLimitRequest {
    RateLimitRequest {
        domain: "edge".into(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![Entry {
                key: "user".into(),
                value: user.into(),
            }],
            limit: None,
            hits_addend: None,
        }],
        hits_addend: 0,
    }
}

#[test]
fn counts_per_descriptor_in_redis_shared_by_two_services() {
    let redis = Redis::start().unwrap();
    let a = Rls::start(0, &redis.url(), config()).unwrap();
    let b = Rls::start(0, &redis.url(), config()).unwrap();
    let user = format!("u{}", std::process::id());
    let codes: Vec<i32> = [a.port(), b.port(), a.port()]
        .iter()
        .map(|p| call(*p, &request(&user)).unwrap().1.unwrap().overall_code)
        .collect();
    assert_eq!(codes, [code::OK, code::OK, code::OVER_LIMIT]);
    let other = call(b.port(), &request("someone-else")).unwrap().1.unwrap();
    assert_eq!(other.overall_code, code::OK);
    let status = &other.statuses[0];
    assert_eq!(status.current_limit.as_ref().unwrap().requests_per_unit, 2);
    assert_eq!(status.limit_remaining, 1);
    assert_eq!(a.requests().len(), 2);
    assert_eq!(
        a.requests()[0].descriptors,
        vec![vec![("user".to_string(), user.clone())]]
    );

    a.set_mode(Mode::Fail(14));
    assert_eq!(call(a.port(), &request(&user)).unwrap(), (14, None));
}
