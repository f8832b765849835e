//! `engine::HookHost` against the test host it wraps: random sequences of
//! header reads and writes, through the per-hook copy on one side and
//! straight to the host on the other, must read the same at every step.
//! (The test host's own header semantics are pinned against Envoy by the
//! conformance scenarios.)

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::state::{map_key, StreamData, VmHost};
use super::TestHost;
use crate::engine::HookHost;
use crate::host::{Host, MapType};
use std::cell::Cell;

const NAMES: &[&str] = &[
    "a",
    "b",
    "x-long-name",
    "accept",
    "authorization",
    "cookie",
    "host",
    ":authority",
    ":path",
];
const MAPS: &[MapType] = &[
    MapType::RequestHeaders,
    MapType::ResponseHeaders,
    MapType::ResponseTrailers,
];

/// A host with stream 1 current, holding request and response headers
/// (response trailers absent: a map the phase does not have).
fn host_with_stream(start: &[(String, Vec<u8>)]) -> (TestHost, VmHost) {
    let host = TestHost::new();
    let mut stream = StreamData::default();
    stream
        .maps
        .insert(map_key(MapType::RequestHeaders), start.to_vec());
    stream
        .maps
        .insert(map_key(MapType::ResponseHeaders), start.to_vec());
    host.state.borrow_mut().streams.insert(1, stream);
    let vm = VmHost {
        state: host.state.clone(),
        vm: 0,
        root: 0,
        current: Cell::new(1),
        dispatching: Cell::new(1),
    };
    (host, vm)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn reads_through_the_copy_match_the_host_after_any_writes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut steps = 0;
    for _ in 0..300 {
        let start: Vec<(String, Vec<u8>)> = (0..rng.next(6))
            .map(|i| {
                let name = NAMES[rng.next(NAMES.len())].to_string();
                (name, format!("v{i}").into_bytes())
            })
            .collect();
        let (_keep_a, plain) = host_with_stream(&start);
        let (_keep_b, inner) = host_with_stream(&start);
        let cached = HookHost::new(&inner);
        for step in 0..40 {
            let map = MAPS[rng.next(MAPS.len())];
            let name = NAMES[rng.next(NAMES.len())];
            let value = format!("w{step}").into_bytes();
            let ctx = || format!("start {start:?}, step {step}, {map:?} {name}");
            match rng.next(6) {
                0 => assert_eq!(
                    cached.set_header(map, name, &value),
                    plain.set_header(map, name, &value),
                    "{}",
                    ctx()
                ),
                1 => assert_eq!(
                    cached.add_header(map, name, &value),
                    plain.add_header(map, name, &value),
                    "{}",
                    ctx()
                ),
                2 => assert_eq!(
                    cached.remove_header(map, name),
                    plain.remove_header(map, name),
                    "{}",
                    ctx()
                ),
                _ => {}
            }
            for probe in NAMES {
                assert_eq!(
                    cached.header(map, probe),
                    plain.header(map, probe),
                    "{} then read {probe}",
                    ctx()
                );
            }
            assert_eq!(
                cached.header_pairs(map),
                plain.header_pairs(map),
                "{} then read all",
                ctx()
            );
            let mut seen = Vec::new();
            let visited =
                cached.each_header(map, &mut |k, v| seen.push((k.to_string(), v.to_vec())));
            assert_eq!(
                visited.map(|()| seen),
                plain.header_pairs(map),
                "{} then visit all",
                ctx()
            );
            steps += 1;
        }
    }
    assert_eq!(steps, 300 * 40);
}

#[test]
fn the_copy_saves_the_reads_and_the_clock() {
    let start = vec![
        (":path".to_string(), b"/x".to_vec()),
        ("a".to_string(), b"1".to_vec()),
    ];
    let (host, inner) = host_with_stream(&start);
    let cached = HookHost::new(&inner);
    let map = MapType::RequestHeaders;
    assert_eq!(cached.header(map, "a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(cached.header(map, ":path").unwrap(), Some(b"/x".to_vec()));
    assert_eq!(cached.header(map, "b").unwrap(), None);
    cached.remove_header(map, "b").unwrap();
    cached.set_header(map, "b", b"2").unwrap();
    assert_eq!(cached.header(map, "b").unwrap(), Some(b"2".to_vec()));
    let first = cached.now();
    host.advance(std::time::Duration::from_secs(5));
    assert_eq!(cached.now(), first, "one reading of the clock per hook");
    let calls = host.host_calls();
    // The first read is one header; the second fetches the map.
    assert_eq!(calls.get("header"), Some(&1));
    assert_eq!(calls.get("header_pairs"), Some(&1));
    assert_eq!(calls.get("remove_header"), None, "b was absent");
    assert_eq!(calls.get("set_header"), Some(&1));
    assert_eq!(calls.get("now"), Some(&1));
    // A hook that reads one header does not fetch the map for it.
    let only_one = HookHost::new(&inner);
    assert_eq!(only_one.header(map, "a").unwrap(), Some(b"1".to_vec()));
    let calls = host.host_calls();
    assert_eq!(calls.get("header"), Some(&2));
    assert_eq!(calls.get("header_pairs"), Some(&1));
}

#[test]
fn a_prefetch_answers_the_first_read_from_the_copy() {
    let start = vec![
        (":path".to_string(), b"/x".to_vec()),
        ("a".to_string(), b"1".to_vec()),
        ("a".to_string(), b"2".to_vec()),
    ];
    let (host, inner) = host_with_stream(&start);
    let cached = HookHost::new(&inner);
    let map = MapType::RequestHeaders;
    cached.prefetch_headers(map);
    assert_eq!(cached.header(map, ":path").unwrap(), Some(b"/x".to_vec()));
    assert_eq!(
        cached.header(map, "a").unwrap(),
        inner.header(map, "a").unwrap()
    );
    assert_eq!(cached.header(map, "b").unwrap(), None);
    // An absent name's removal is answered by the copy too.
    cached.remove_header(map, "b").unwrap();
    let calls = host.host_calls();
    assert_eq!(calls.get("header_pairs"), Some(&1), "{calls:?}");
    // The one `header` call is the comparison's own, on the plain host.
    assert_eq!(calls.get("header"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("remove_header"), None, "{calls:?}");
    // A map the phase does not have: the hint fetches nothing, reads still
    // go to the host and answer as it does.
    let trailers = MapType::ResponseTrailers;
    cached.prefetch_headers(trailers);
    assert_eq!(
        cached.header(trailers, "a"),
        inner.header(trailers, "a"),
        "absent map"
    );
}

#[test]
fn another_context_is_read_afresh() {
    let start = vec![("a".to_string(), b"1".to_vec())];
    let (host, inner) = host_with_stream(&start);
    let mut other = StreamData::default();
    other.maps.insert(
        map_key(MapType::RequestHeaders),
        vec![("a".to_string(), b"2".to_vec())],
    );
    host.state.borrow_mut().streams.insert(2, other);
    let cached = HookHost::new(&inner);
    let map = MapType::RequestHeaders;
    assert_eq!(cached.header(map, "a").unwrap(), Some(b"1".to_vec()));
    cached.set_effective_context(2).unwrap();
    assert_eq!(cached.header(map, "a").unwrap(), Some(b"2".to_vec()));
}
