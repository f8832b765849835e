//! Properties, metrics and logs.

use super::*;

pub fn all() -> Vec<Scenario> {
    let prop = |path: &[&str]| json!({ "op": "property", "path": path });
    vec![
        s(
            "prop-typed-helpers",
            &[(
                RQ,
                step(
                    vec![
                        env("source_ip"),
                        env("route_name"),
                        env("plugin_name"),
                        env("protocol"),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "prop-request-id-from-client",
            &[(RQ, step(vec![env("request_id")], cont()))],
        )
        .req(Req::get("/s").header("x-request-id", "conf-id-1")),
        s(
            "prop-unknown",
            &[(RQ, step(vec![prop(&["conf", "nothing"])], cont()))],
        ),
        s(
            "prop-request-path",
            &[(
                RQ,
                step(
                    vec![prop(&["request", "path"]), prop(&["request", "method"])],
                    cont(),
                ),
            )],
        )
        .req(Req::get("/s?a=1")),
        s(
            "metric-counter",
            &[
                (
                    RQ,
                    step(vec![json!({"op": "inc", "name": "conf_hits"})], cont()),
                ),
                (
                    "on_done",
                    json!([{"op": "metric_value", "name": "conf_hits"}]),
                ),
            ],
        )
        .metric("conf_hits")
        .reqs(vec![Req::get("/s"), Req::get("/s")]),
        s(
            "metric-gauge",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "gauge_set", "name": "conf_level", "value": 10}),
                        json!({"op": "gauge_add", "name": "conf_level", "delta": -3}),
                    ],
                    cont(),
                ),
            )],
        )
        .gauge("conf_level"),
        s(
            "log-levels",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "log", "level": "debug", "msg": "d"}),
                        json!({"op": "log", "level": "info", "msg": "i"}),
                        json!({"op": "log", "level": "warn", "msg": "w"}),
                        json!({"op": "log", "level": "error", "msg": "e"}),
                    ],
                    cont(),
                ),
            )],
        ),
        // Filter state: what a filter sets, as later phases (and Envoy's
        // property lookups) read it.
        s(
            "filter-state-set-then-read",
            &[
                (
                    RQ,
                    step(
                        vec![
                            set_prop(&["portico.tenant"], "acme"),
                            prop(&["portico.tenant"]),
                            prop(&["portico", "tenant"]),
                        ],
                        cont(),
                    ),
                ),
                (RS, step(vec![prop(&["portico.tenant"])], cont())),
            ],
        ),
        s(
            "filter-state-set-twice",
            &[
                (RQ, step(vec![set_prop(&["portico.n"], "1")], cont())),
                (
                    RS,
                    step(
                        vec![set_prop(&["portico.n"], "2"), prop(&["portico.n"])],
                        cont(),
                    ),
                ),
            ],
        ),
        s(
            "filter-state-named-like-an-attribute",
            &[(
                RQ,
                step(
                    vec![
                        set_prop(&["request", "path"], "/elsewhere"),
                        prop(&["request", "path"]),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "route-cache-cleared",
            &[(RQ, step(vec![op("clear_route_cache")], cont()))],
        ),
        // A filter's own reset, from a phase and from a callback.
        s(
            "reset-in-request-headers",
            &[(RQ, step(vec![op("reset")], pause()))],
        ),
        s(
            "reset-in-response-headers",
            &[(RS, step(vec![op("reset")], pause()))],
        ),
        s(
            "reset-from-stream-timer",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "stream_timer", "label": "t", "ms": 100, "then": {"ops": [{"op": "reset"}], "action": "pause"}}),
                    ],
                    pause(),
                ),
            )],
        ),
    ]
}

fn set_prop(name: &[&str], value: &str) -> Value {
    json!({"op": "set_filter_state", "name": name.join("."), "value": value})
}
