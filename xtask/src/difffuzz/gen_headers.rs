//! Hostile requests for `header_mutation`: repeated, merged, empty and
//! oversized headers, names in mixed case, values holding substitution
//! syntax, `x-forwarded-for` chains with IPv6 addresses (which change
//! `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`), and query strings with
//! repeats and percent-encodings. Two pairs: without query parameter
//! mutations, and with them.

use super::request::Req;
use super::rng::Rng;
use super::{Case, Generator, Pair};
use portico_harness::bootstrap::wasm_filter;
use portico_harness::wasm_path;
use serde_json::{json, Value};

pub struct Headers;

fn request_mutations() -> Value {
    json!([
        {"append": {"header": {"key": "x-added", "value": "static"}}},
        {"append": {"header": {"key": "x-multi", "value": "m"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}},
        {"append": {"header": {"key": "x-if-absent", "value": "new"}, "append_action": "ADD_IF_ABSENT"}},
        {"append": {"header": {"key": "x-over", "value": "o"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
        {"append": {"header": {"key": "x-over-if", "value": "oi"}, "append_action": "OVERWRITE_IF_EXISTS"}},
        {"append": {"header": {"key": "user-agent", "value": "extra"}}},
        {"remove": "x-remove-me"},
        {"remove_on_match": {"key_matcher": {"prefix": "x-internal-"}}},
        {"remove_on_match": {"key_matcher": {"suffix": "-DEBUG", "ignore_case": true}}},
        {"append": {"header": {"key": "X-Copy", "value": "%REQ(x-in)%|%REQ(X-Case)%"}}},
        {"append": {"header": {"key": "x-empty", "value": "%REQ(x-none)%"}}},
        {"append": {"header": {"key": "x-kept-empty", "value": "%REQ(x-none)%"}, "keep_empty_value": true}},
        {"append": {"header": {"key": "x-trunc", "value": "%REQ(x-in):3%|%REQ(x-none?x-in)%"}}},
        {"append": {"header": {"key": "x-peer-ip", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}}},
        {"append": {"header": {"key": "x-meta", "value": "%PROTOCOL% on %HOSTNAME%, 100%%"}}},
        {"append": {"header": {"key": "x-cookies", "value": "%REQ(cookie)%"}}},
        {"append": {"header": {"key": "x-xff", "value": "%REQ(x-forwarded-for)%"}}},
        {"append": {"header": {"key": "x-ua", "value": "%REQ(user-agent)%"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}}
    ])
}

fn response_mutations() -> Value {
    json!([
        {"append": {"header": {"key": "x-echo-in", "value": "%REQ(x-in)%"}}},
        {"append": {"header": {"key": "x-resp-type", "value": "[%RESP(content-type)%]"}}},
        {"remove": "x-upstream"},
        {"append": {"header": {"key": "x-frame-options", "value": "DENY"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
        {"append": {"header": {"key": "x-resp-added", "value": "r"}, "append_action": "ADD_IF_ABSENT"}},
        {"append": {"header": {"key": "x-resp-multi", "value": "%REQ(x-multi)%"}}}
    ])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn pair(name: &str, mutations: Value) -> Result<Pair, String> {
    let wasm = wasm_path("headers")?;
    let config = json!({"mutations": mutations});
    let mut portico = wasm_filter("portico.headers", &wasm, &config.to_string());
    // `%HOSTNAME%` reads the VM's environment.
    if let Some(wasm_config) = portico["typed_config"].get_mut("config") {
        wasm_config["vm_config"]["environment_variables"] =
            json!({"key_values": {"HOSTNAME": hostname()}});
    }
    let native = json!({
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": mutations
        }
    });
    Ok(Pair {
        name: name.into(),
        native: vec![native],
        portico: vec![portico],
        hcm: None,
    })
}

const NAMES: [&str; 22] = [
    "x-multi",
    "X-MULTI",
    "x-over",
    "x-over-if",
    "x-if-absent",
    "x-in",
    "X-In",
    "x-case",
    "X-Case",
    "x-remove-me",
    "X-Remove-Me",
    "x-internal-a",
    "x-Internal-B",
    "x-foo-debug",
    "x-foo-Debug",
    "x-debugger",
    "user-agent",
    "x-none",
    "cookie",
    "x-added",
    "x-copy",
    "x-peer-ip",
];

fn value(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => String::new(),
        1 => "v".repeat(7000 + rng.below(3000)),
        2 => "%REQ(x-secret)%".into(),
        3 => "a,b".into(),
        4 => "  padded  ".into(),
        5 => "ünï".into(),
        6 => "a\tb".into(),
        7 => "100%".into(),
        8 => "x=1; y=2".into(),
        _ => format!("v{}", rng.below(100)),
    }
}

fn xff(rng: &mut Rng) -> String {
    let one = |rng: &mut Rng| {
        rng.pick(&[
            "1.2.3.4",
            "::1",
            "2001:db8::1",
            "2001:DB8:0::1",
            "[2001:db8::1]:443",
            "1.2.3.4:80",
            "garbage",
            "",
            "::ffff:1.2.3.4",
            "fe80::1%eth0",
            "10.0.0.1 ",
        ])
        .to_string()
    };
    let n = 1 + rng.below(3);
    (0..n)
        .map(|_| one(rng))
        .collect::<Vec<_>>()
        .join(rng.pick(&[",", ", ", ",,"]))
}

const PATHS: [&str; 14] = [
    "/p",
    "/p?b=2&a=1&debug=1&src=old&flag",
    "/p?x=%26&y=a%2Bb",
    "/a/../b",
    "//x",
    "/a%2Fb",
    "/p?debug&debug=2",
    "/p?tag=1&tag=2",
    "/p?=x",
    "/p?a=1&&b=2",
    "/p?%64ebug=1",
    "/p?v=1&v=2",
    "/p?src=%25REQ(x-in)%25",
    "/p?",
];

impl Generator for Headers {
    fn pairs(&self) -> Result<Vec<Pair>, String> {
        let plain = json!({"request_mutations": request_mutations(), "response_mutations": response_mutations()});
        let mut query = plain.clone();
        query["query_parameter_mutations"] = json!([
            {"remove": "debug"},
            {"append": {"record": {"key": "src", "value": "%REQ(x-in)%"}, "action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
            {"append": {"record": {"key": "v", "value": "2"}, "action": "ADD_IF_ABSENT"}},
            {"append": {"record": {"key": "tag", "value": "a b/c"}, "action": "APPEND_IF_EXISTS_OR_ADD"}}
        ]);
        Ok(vec![pair("headers", plain)?, pair("headers-query", query)?])
    }

    fn case(&self, rng: &mut Rng, _index: u64) -> Case {
        let pair = rng.below(2);
        let mut req = Req::get(rng.pick(&PATHS));
        let shape = rng.pick(&["repeats", "merged", "xff", "mixed", "oversized", "empty"]);
        let count = 1 + rng.below(5);
        for _ in 0..count {
            let name = rng.pick(&NAMES);
            let v = match shape {
                "merged" => format!("{},{}", value(rng), value(rng)),
                "oversized" if rng.chance(50) => "o".repeat(9000),
                "empty" if rng.chance(60) => String::new(),
                _ => value(rng),
            };
            req.header(name, v);
            if shape == "repeats" || rng.chance(20) {
                for _ in 0..1 + rng.below(2) {
                    req.header(rng.pick(&[name, &name.to_ascii_uppercase()]), value(rng));
                }
            }
        }
        if shape == "xff" || rng.chance(15) {
            req.header("x-forwarded-for", xff(rng));
            if rng.chance(30) {
                req.header("x-forwarded-for", xff(rng));
            }
        }
        if rng.chance(10) {
            req.method = rng.pick(&["POST", "OPTIONS", "PUT"]).to_string();
            req.body = vec![b'b'; rng.below(3000)];
        }
        req.note = format!("{shape}: {count} header(s)");
        Case {
            pair,
            steps: vec![req],
        }
    }
}
