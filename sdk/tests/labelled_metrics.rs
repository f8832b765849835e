//! Labelled metrics on the test host: one series per label combination,
//! named as `stats_tags` expect, and a cap on series that request data
//! cannot lift (the Envoy side: `integration-tests/tests/sdk_in_envoy.rs`).

use portico::testing::TestHost;
use portico::{Action, ConfigError, CounterFamily, Env, HttpFilter, Plugin, Root, Stream, Verdict};

struct Counting {
    requests: CounterFamily,
}

struct CountingFilter;

impl Plugin for Counting {
    type Config = serde_json::Value;
    type Filter = CountingFilter;

    fn configure(_: serde_json::Value, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        Ok(Counting {
            requests: root.counter_family("requests", &["route", "method"])?,
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> CountingFilter {
        CountingFilter
    }
}

impl HttpFilter for CountingFilter {
    type Plugin = Counting;

    fn on_request_headers(&mut self, plugin: &Counting, s: &mut Stream<'_, Self>) -> Verdict {
        let route = s.path();
        let method = s.request_headers().method().unwrap_or_default();
        plugin
            .requests
            .inc(s, &[route.trim_start_matches('/'), &method]);
        Ok(Action::Continue)
    }
}

#[test]
fn each_label_combination_is_a_series() {
    let host = TestHost::new();
    let vm = host.vm::<Counting>("{}").unwrap();
    vm.get("/a").send();
    vm.get("/a").send();
    vm.post("/a.b").send();
    assert_eq!(host.metric("requests.route.a.method.GET"), Some(2));
    assert_eq!(host.metric("requests.route.a_b.method.POST"), Some(1));
}

#[test]
fn request_data_cannot_grow_the_series_beyond_the_cap() {
    let host = TestHost::new();
    let vm = host.vm::<Counting>("{}").unwrap();
    for i in 0..200 {
        vm.get(&format!("/r{i}")).send();
    }
    let cap = portico::labels::MAX_SERIES;
    assert_eq!(
        host.metric(&format!("requests.route.r{}.method.GET", cap - 2)),
        Some(1)
    );
    assert_eq!(
        host.metric(&format!("requests.route.r{}.method.GET", cap - 1)),
        None
    );
    assert_eq!(
        host.metric("requests.route.other.method.other"),
        Some(200 - (cap as u64 - 1))
    );
}

#[test]
fn family_and_label_names_are_checked_at_configure() {
    struct Bad;
    impl Plugin for Bad {
        type Config = serde_json::Value;
        type Filter = BadFilter;
        fn configure(_: serde_json::Value, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
            root.counter_family("requests", &["Route"])?;
            Ok(Bad)
        }
        fn new_filter(&self, _: &Env<'_>) -> BadFilter {
            BadFilter
        }
    }
    struct BadFilter;
    impl HttpFilter for BadFilter {
        type Plugin = Bad;
    }
    let err = TestHost::new().vm::<Bad>("{}").err().unwrap();
    assert!(err.message.contains("label \"Route\""), "{err}");
}
