//! The scenarios. Each is a small filter behaviour; its name says what it
//! pins. Grouped by topic: phases × actions, bodies, headers, callouts,
//! timers and wake-ups, shared data, properties, metrics and logs.

use crate::scenario::{Req, Scenario};
use serde_json::{json, Value};

const RQ: &str = "request_headers";
const RS: &str = "response_headers";

fn step(ops: Vec<Value>, action: Value) -> Value {
    json!({ "ops": ops, "action": action })
}

fn cont() -> Value {
    json!("continue")
}

fn pause() -> Value {
    json!("pause")
}

fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Value {
    json!({ "respond": { "status": status, "headers": headers, "body": body } })
}

fn get(map: &str, name: &str) -> Value {
    json!({ "op": "get", "map": map, "name": name })
}

fn get_all(map: &str, name: &str) -> Value {
    json!({ "op": "get_all", "map": map, "name": name })
}

fn set(map: &str, name: &str, value: &str) -> Value {
    json!({ "op": "set", "map": map, "name": name, "value": value })
}

fn add(map: &str, name: &str, value: &str) -> Value {
    json!({ "op": "add", "map": map, "name": name, "value": value })
}

fn remove(map: &str, name: &str) -> Value {
    json!({ "op": "remove", "map": map, "name": name })
}

fn set_body(value: &str) -> Value {
    json!({ "op": "set_body", "value": value })
}

fn callout(label: &str, path: &str, timeout_ms: u64, then: Value) -> Value {
    json!({ "op": "callout", "label": label, "path": path, "timeout_ms": timeout_ms, "then": then })
}

fn op(name: &str) -> Value {
    json!({ "op": name })
}

fn env(what: &str) -> Value {
    json!({ "op": "env", "what": what })
}

fn shared_get(key: &str) -> Value {
    json!({ "op": "shared_get", "key": key })
}

fn shared_set(key: &str, value: &str, cas: &str) -> Value {
    json!({ "op": "shared_set", "key": key, "value": value, "cas": cas })
}

fn script(pairs: &[(&str, Value)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v.clone());
    }
    Value::Object(m)
}

fn s(name: &str, pairs: &[(&str, Value)]) -> Scenario {
    Scenario::new(name, script(pairs))
}

/// A POST with a body.
fn post(body: &str) -> Req {
    Req::post("/s", body)
}

pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(phases());
    v.extend(bodies());
    v.extend(headers());
    v.extend(callouts());
    v.extend(wakeups());
    v.extend(shared());
    v.extend(properties());
    v.extend(trailers());
    v
}

fn trailers() -> Vec<Scenario> {
    let rq_t = "request_trailers";
    let rs_t = "response_trailers";
    let with_t = || Req::with_trailers("chunked body", &[("x-c-t", "1")]);
    let up_t = || {
        Req::get("/s")
            // An HTTP/1 server sends trailers only to a client that takes them.
            .header("te", "trailers")
            .header("x-up-t", "x-c-ut=2")
            .header("x-up-h", "x-c-u=1")
    };
    vec![
        s(
            "trailers-request-seen",
            &[(
                rq_t,
                step(vec![get(rq_t, "x-c-t"), get_all(rq_t, "x-c-t")], cont()),
            )],
        )
        .req(with_t())
        .also(&["transfer-encoding"]),
        s(
            "trailers-request-modified",
            &[(
                rq_t,
                step(
                    vec![set(rq_t, "x-c-t", "changed"), add(rq_t, "x-c-added", "a")],
                    cont(),
                ),
            )],
        )
        .req(with_t()),
        s(
            "trailers-request-body-eos-false",
            &[("request_body", step(vec![op("end_of_stream")], cont()))],
        )
        .req(with_t()),
        s(
            "trailers-request-buffered-body",
            &[
                ("request_body_chunk", pause()),
                (rq_t, step(vec![], cont())),
            ],
        )
        .req(with_t()),
        s(
            "trailers-request-respond",
            &[(rq_t, step(vec![], respond(400, &[], "bad trailer")))],
        )
        .req(with_t()),
        s(
            "trailers-request-pause-callout",
            &[(
                rq_t,
                step(
                    vec![callout("c", "/callout/ok", 1000, step(vec![], cont()))],
                    pause(),
                ),
            )],
        )
        .req(with_t()),
        s(
            "trailers-request-map-in-headers-phase",
            &[(RQ, step(vec![get(rq_t, "x-c-t")], cont()))],
        )
        .req(with_t()),
        s(
            "maps-by-phase-with-trailers",
            &[
                (
                    RQ,
                    step(vec![get(RQ, "x-c-in"), get(RS, ":status")], cont()),
                ),
                ("request_body_chunk", pause()),
                (
                    rq_t,
                    step(
                        vec![get(RQ, "x-c-in"), get(rq_t, "x-c-t"), get(RS, ":status")],
                        cont(),
                    ),
                ),
                (
                    RS,
                    step(vec![get(RQ, "x-c-in"), get(RS, ":status")], cont()),
                ),
                ("response_body_chunk", pause()),
                (
                    rs_t,
                    step(
                        vec![
                            get(RQ, "x-c-in"),
                            get(rq_t, "x-c-t"),
                            get(RS, ":status"),
                            get(rs_t, "x-c-ut"),
                        ],
                        cont(),
                    ),
                ),
                (
                    "on_done",
                    json!([
                        get(RQ, "x-c-in"),
                        get(rq_t, "x-c-t"),
                        get(RS, ":status"),
                        get(rs_t, "x-c-ut")
                    ]),
                ),
            ],
        )
        .req({
            let mut r = with_t().header("te", "trailers").header("x-c-in", "i");
            r.headers.push(("x-up-t".into(), "x-c-ut=2".into()));
            r
        }),
        s(
            "maps-after-resume",
            &[
                (
                    RQ,
                    step(
                        vec![callout(
                            "c",
                            "/callout/ok",
                            1000,
                            step(vec![get(RQ, "x-c-in")], cont()),
                        )],
                        pause(),
                    ),
                ),
                ("request_body", step(vec![get(RQ, "x-c-in")], cont())),
                (
                    RS,
                    step(
                        vec![callout(
                            "d",
                            "/callout/ok",
                            1000,
                            step(vec![get(RS, ":status")], cont()),
                        )],
                        pause(),
                    ),
                ),
                (
                    "response_body",
                    step(vec![get(RS, ":status"), get(RQ, "x-c-in")], cont()),
                ),
                ("on_done", json!([get(RQ, "x-c-in"), get(RS, ":status")])),
            ],
        )
        .req(post("b").header("x-c-in", "i")),
        s(
            "maps-by-phase-bodies",
            &[
                (
                    "request_body",
                    step(vec![get(RQ, "x-c-in"), get(RS, ":status")], cont()),
                ),
                (
                    "response_body",
                    step(vec![get(RQ, "x-c-in"), get(RS, ":status")], cont()),
                ),
            ],
        )
        .req(post("b").header("x-c-in", "i")),
        s(
            "trailers-response-seen",
            &[(
                rs_t,
                step(vec![get(rs_t, "x-c-ut"), get(RS, "x-c-u")], cont()),
            )],
        )
        .req(up_t()),
        s(
            "trailers-response-modified",
            &[(
                rs_t,
                step(
                    vec![set(rs_t, "x-c-ut", "changed"), add(rs_t, "x-c-more", "m")],
                    cont(),
                ),
            )],
        )
        .req(up_t()),
        s(
            "trailers-response-respond",
            &[(rs_t, step(vec![], respond(500, &[], "too late")))],
        )
        .req(up_t()),
        s(
            "trailers-response-pause-callout",
            &[(
                rs_t,
                step(
                    vec![callout(
                        "c",
                        "/callout/ok",
                        1000,
                        step(vec![set(rs_t, "x-c-cb", "1")], cont()),
                    )],
                    pause(),
                ),
            )],
        )
        .req(up_t()),
        s(
            "trailers-response-body-eos-false",
            &[
                (RS, step(vec![op("end_of_stream")], cont())),
                ("response_body", step(vec![op("end_of_stream")], cont())),
            ],
        )
        .req(up_t()),
    ]
}

fn phases() -> Vec<Scenario> {
    let ok_then_continue = step(vec![], cont());
    vec![
        s("phase-all-continue", &[]),
        s("phase-all-continue-post", &[]).req(post("hello")),
        s(
            "rq-headers-respond",
            &[(
                RQ,
                step(vec![], respond(403, &[("x-c-why", "denied")], "denied\n")),
            )],
        )
        .also(&["content-type", "content-length"]),
        s(
            "rq-headers-respond-with-body-pending",
            &[(RQ, step(vec![], respond(401, &[], "no")))],
        )
        .req(post("never read"))
        .also(&["content-length"]),
        s(
            "rq-headers-respond-403-empty-body",
            &[
                (RQ, step(vec![], respond(403, &[], ""))),
                (RS, step(vec![get(RS, "content-length")], cont())),
            ],
        )
        .also(&["content-length", "content-type"]),
        s(
            "rq-headers-respond-own-content-type",
            &[(
                RQ,
                step(
                    vec![],
                    respond(400, &[("content-type", "application/json")], "{}"),
                ),
            )],
        )
        .also(&["content-length", "content-type"]),
        s(
            "rq-headers-respond-empty-body",
            &[(RQ, step(vec![], respond(204, &[("x-c-a", "1")], "")))],
        )
        .also(&["content-length", "content-type"]),
        s(
            "rq-headers-pause-callout-continue",
            &[(
                RQ,
                step(
                    vec![callout("c", "/callout/ok", 1000, ok_then_continue.clone())],
                    pause(),
                ),
            )],
        ),
        s(
            "rq-headers-pause-callout-continue-body-follows",
            &[(
                RQ,
                step(
                    vec![callout("c", "/callout/ok", 1000, ok_then_continue.clone())],
                    pause(),
                ),
            )],
        )
        .req(post("body after resume")),
        s(
            "rq-headers-pause-callout-respond",
            &[(
                RQ,
                step(
                    vec![callout(
                        "c",
                        "/callout/ok",
                        1000,
                        step(vec![], respond(401, &[("x-c-from", "callback")], "late no")),
                    )],
                    pause(),
                ),
            )],
        )
        .req(post("held body")),
        s("rq-headers-pause-forever", &[(RQ, step(vec![], pause()))]),
        s(
            "rq-headers-pause-forever-body-follows",
            &[(RQ, step(vec![], pause()))],
        )
        .req(post("stuck")),
        s(
            "rq-body-respond",
            &[
                ("request_body_chunk", pause()),
                ("request_body", step(vec![], respond(413, &[], "too big"))),
            ],
        )
        .req(post("payload")),
        s(
            "rq-body-pause-callout-continue",
            &[
                ("request_body_chunk", pause()),
                (
                    "request_body",
                    step(
                        vec![callout("c", "/callout/ok", 1000, ok_then_continue.clone())],
                        pause(),
                    ),
                ),
            ],
        )
        .req(post("payload")),
        s(
            "rs-headers-respond",
            &[(
                RS,
                step(
                    vec![],
                    respond(502, &[("x-c-local", "yes")], "bad upstream"),
                ),
            )],
        )
        .also(&["content-length"]),
        s(
            "rs-headers-respond-upstream-empty",
            &[(RS, step(vec![], respond(503, &[], "replaced")))],
        )
        .req(Req::get("/s").header("x-up-body", "")),
        s(
            "rs-headers-pause-callout-continue",
            &[(
                RS,
                step(
                    vec![callout("c", "/callout/ok", 1000, ok_then_continue.clone())],
                    pause(),
                ),
            )],
        ),
        s(
            "rs-headers-pause-forever-body-follows",
            &[(RS, step(vec![], pause()))],
        ),
        s(
            "rs-headers-pause-forever-no-body",
            &[(RS, step(vec![], pause()))],
        )
        .req(Req::get("/s").header("x-up-body", "")),
        s(
            "rs-body-buffer-respond",
            &[
                ("response_body_chunk", pause()),
                (
                    "response_body",
                    step(vec![], respond(500, &[], "body refused")),
                ),
            ],
        ),
        s(
            "rs-body-pause-callout-continue",
            &[
                ("response_body_chunk", pause()),
                (
                    "response_body",
                    step(
                        vec![callout("c", "/callout/ok", 1000, ok_then_continue)],
                        pause(),
                    ),
                ),
            ],
        ),
        s(
            "rs-body-callout-respond-after-headers-sent",
            &[
                ("response_body_chunk", pause()),
                (
                    "response_body",
                    step(
                        vec![callout(
                            "c",
                            "/callout/500",
                            1000,
                            step(vec![], respond(502, &[], "late")),
                        )],
                        pause(),
                    ),
                ),
            ],
        ),
        s(
            "local-reply-seen-by-response-phases",
            &[
                (RQ, step(vec![], respond(418, &[("x-c-t", "pot")], "short"))),
                (
                    RS,
                    step(
                        vec![
                            op("responded"),
                            get(RS, "x-c-t"),
                            get(RS, "content-length"),
                            get(RS, "content-type"),
                            get(RQ, "x-scenario"),
                        ],
                        cont(),
                    ),
                ),
                ("response_body", step(vec![op("body")], cont())),
            ],
        ),
        s(
            "second-local-reply-ignored",
            &[
                (RQ, step(vec![], respond(403, &[], "first"))),
                (RS, step(vec![], respond(500, &[], "second"))),
            ],
        ),
        s(
            "local-reply-repeated-headers",
            &[(
                RQ,
                step(vec![], respond(401, &[("x-c-l", "1"), ("x-c-l", "2")], "x")),
            )],
        ),
        s(
            "on-done-reads-headers",
            &[(
                "on_done",
                json!([get(RQ, "x-c-in"), get(RS, "x-c-out"), get(RQ, ":path")]),
            )],
        )
        .req(
            Req::get("/s?x=1")
                .header("x-c-in", "i")
                .header("x-up-h", "x-c-out=o"),
        ),
    ]
}

fn bodies() -> Vec<Scenario> {
    vec![
        s(
            "rq-body-buffer-rewrite",
            &[
                ("request_body_chunk", pause()),
                (
                    "request_body",
                    step(vec![op("body"), set_body("rewritten body")], cont()),
                ),
            ],
        )
        .req(post("original"))
        .also(&["content-length"]),
        s(
            "rq-body-rewrite-shorter",
            &[
                ("request_body_chunk", pause()),
                ("request_body", step(vec![set_body("x")], cont())),
            ],
        )
        .req(post("a longer original body"))
        .also(&["content-length"]),
        s(
            "rq-body-end-of-stream",
            &[("request_body", step(vec![op("end_of_stream")], cont()))],
        )
        .req(post("eos")),
        s(
            "rq-body-set-in-headers-phase",
            &[(RQ, step(vec![set_body("nope")], cont()))],
        )
        .req(post("kept")),
        s(
            "rs-body-buffer-rewrite",
            &[
                ("response_body_chunk", pause()),
                (
                    "response_body",
                    step(vec![op("body"), set_body("REWRITTEN")], cont()),
                ),
            ],
        )
        .also(&["content-length"]),
        s(
            "recipe-rq-body-replace",
            &[
                (RQ, step(vec![op("will_replace_body")], cont())),
                ("request_body_chunk", pause()),
                (
                    "request_body",
                    step(
                        vec![set_body("a request body longer than the original")],
                        cont(),
                    ),
                ),
            ],
        )
        .req(post("short"))
        .also(&["content-length", "transfer-encoding"]),
        s(
            "recipe-rs-body-replace",
            &[
                (RS, step(vec![op("will_replace_body")], cont())),
                ("response_body_chunk", pause()),
                (
                    "response_body",
                    step(vec![op("body"), set_body("swapped")], cont()),
                ),
            ],
        )
        .also(&["content-length", "transfer-encoding"]),
        s(
            "rq-body-rewrite-longer-keeps-content-length",
            &[
                ("request_body_chunk", pause()),
                (
                    "request_body",
                    step(vec![set_body("much longer than before")], cont()),
                ),
            ],
        )
        .req(post("short"))
        .also(&["content-length", "transfer-encoding"]),
        s(
            "rs-body-rewrite-remove-content-length",
            &[
                (RS, step(vec![remove(RS, "content-length")], cont())),
                ("response_body_chunk", pause()),
                (
                    "response_body",
                    step(vec![set_body("a much longer body than before")], cont()),
                ),
            ],
        )
        .also(&["content-length", "transfer-encoding"]),
        s("rs-body-large", &[("response_body", step(vec![], cont()))])
            .req(Req::get("/s").header("x-up-body", &"0123456789".repeat(3000))),
        s(
            "rq-body-large-buffered",
            &[
                ("request_body_chunk", pause()),
                ("request_body", step(vec![json!({"op": "body"})], cont())),
            ],
        )
        .req(post(&"abcdefghij".repeat(3000))),
        s(
            "rs-headers-end-of-stream-no-body",
            &[(RS, step(vec![op("end_of_stream")], cont()))],
        )
        .req(Req::get("/s").header("x-up-body", "")),
        s(
            "rs-body-pause-chunks-then-continue",
            &[("response_body_chunk", pause())],
        ),
    ]
}

fn headers() -> Vec<Scenario> {
    vec![
        s(
            "hdr-repeated-get-first",
            &[(
                RQ,
                step(vec![get(RQ, "x-c-r"), get_all(RQ, "x-c-r")], cont()),
            )],
        )
        .req(Req::get("/s").header("x-c-r", "1").header("x-c-r", "2")),
        s(
            "hdr-inline-authorization-merged",
            &[(
                RQ,
                step(
                    vec![get(RQ, "authorization"), get_all(RQ, "authorization")],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("authorization", "Bearer a")
                .header("authorization", "Bearer b"),
        )
        .also(&["authorization"]),
        s(
            "hdr-inline-user-agent-merged",
            &[(RQ, step(vec![get_all(RQ, "user-agent")], cont()))],
        )
        .req(
            Req::get("/s")
                .header("user-agent", "a")
                .header("user-agent", "b"),
        )
        .also(&["user-agent"]),
        s(
            "hdr-cookie-repeated",
            &[(
                RQ,
                step(vec![get_all(RQ, "cookie"), env("cookie_c")], cont()),
            )],
        )
        .req(
            Req::get("/s")
                .header("cookie", "a=1")
                .header("cookie", "c=2"),
        )
        .also(&["cookie"]),
        s(
            "hdr-response-repeated-inline",
            &[(
                RS,
                step(
                    vec![get_all(RS, "cache-control"), get_all(RS, "x-c-u")],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("x-up-h", "cache-control=no-cache")
                .header("x-up-h", "cache-control=no-store")
                .header("x-up-h", "x-c-u=1")
                .header("x-up-h", "x-c-u=2"),
        )
        .also(&["cache-control"]),
        s(
            "hdr-add-inline-merges",
            &[(
                RQ,
                step(
                    vec![
                        add(RQ, "authorization", "one"),
                        add(RQ, "authorization", "two"),
                        add(RQ, "x-c-plain", "one"),
                        add(RQ, "x-c-plain", "two"),
                        get_all(RQ, "authorization"),
                    ],
                    cont(),
                ),
            )],
        )
        .also(&["authorization"]),
        s(
            "hdr-inline-other-merged",
            &[(
                RQ,
                step(
                    vec![
                        get_all(RQ, "accept-encoding"),
                        get_all(RQ, "referer"),
                        get_all(RQ, "via"),
                        get_all(RQ, "accept"),
                        get_all(RQ, "x-forwarded-for"),
                        get_all(RQ, "content-type"),
                        get_all(RQ, "origin"),
                        get_all(RQ, "x-c-plain"),
                    ],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("accept-encoding", "gzip")
                .header("accept-encoding", "br")
                .header("referer", "a")
                .header("referer", "b")
                .header("via", "1.1 a")
                .header("via", "1.1 b")
                .header("accept", "text/html")
                .header("accept", "*/*")
                .header("x-forwarded-for", "10.0.0.1")
                .header("x-forwarded-for", "10.0.0.2")
                .header("content-type", "text/plain")
                .header("content-type", "text/html")
                .header("origin", "http://a")
                .header("origin", "http://b")
                .header("x-c-plain", "1")
                .header("x-c-plain", "2"),
        ),
        s(
            "hdr-set-replaces-repeated",
            &[(
                RQ,
                step(vec![set(RQ, "x-c-r", "only"), get_all(RQ, "x-c-r")], cont()),
            )],
        )
        .req(Req::get("/s").header("x-c-r", "1").header("x-c-r", "2")),
        s(
            "hdr-add-and-remove",
            &[(
                RQ,
                step(
                    vec![
                        add(RQ, "x-c-n", "1"),
                        add(RQ, "x-c-n", "2"),
                        remove(RQ, "x-c-gone"),
                        get_all(RQ, "x-c-n"),
                    ],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("x-c-gone", "1")
                .header("x-c-gone", "2"),
        ),
        s(
            "hdr-case-insensitive",
            &[(
                RQ,
                step(vec![get(RQ, "X-C-Mixed"), set(RQ, "X-C-Set", "v")], cont()),
            )],
        )
        .req(Req::get("/s").header("X-C-Mixed", "m")),
        s(
            "hdr-pseudo-headers",
            &[(
                RQ,
                step(
                    vec![
                        get(RQ, ":method"),
                        get(RQ, ":path"),
                        get(RQ, ":authority"),
                        get(RQ, ":scheme"),
                        get(RQ, "host"),
                    ],
                    cont(),
                ),
            )],
        )
        .req(Req::get("/s/p?q=1")),
        s(
            "hdr-query-param",
            &[(RQ, step(vec![env("query_q"), env("path")], cont()))],
        )
        .req(Req::get("/s?q=a%20b&r=2")),
        s(
            "hdr-response-map-in-request-phase",
            &[(
                RQ,
                step(
                    vec![
                        get(RS, "x-c-a"),
                        set(RS, "x-c-a", "1"),
                        get_all(RS, "x-c-a"),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "hdr-trailers-map-in-headers-phase",
            &[(
                RQ,
                step(
                    vec![
                        get("request_trailers", "x-c-t"),
                        add("request_trailers", "x-c-t", "1"),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "hdr-request-map-in-response-phase",
            &[(
                RS,
                step(
                    vec![
                        get(RQ, "x-c-in"),
                        set(RQ, "x-c-late", "1"),
                        get(RQ, "x-c-late"),
                    ],
                    cont(),
                ),
            )],
        )
        .req(Req::get("/s").header("x-c-in", "i")),
        s(
            "hdr-request-maps-in-response-callback",
            &[(
                RS,
                step(
                    vec![callout(
                        "c",
                        "/callout/ok",
                        1000,
                        step(
                            vec![
                                get(RQ, "x-c-in"),
                                get("request_trailers", "x-c-t"),
                                add("request_trailers", "x-c-t", "1"),
                                get(RS, ":status"),
                            ],
                            cont(),
                        ),
                    )],
                    pause(),
                ),
            )],
        )
        .req(Req::get("/s").header("x-c-in", "i")),
        s(
            "hdr-request-map-in-request-callback",
            &[(
                RQ,
                step(
                    vec![callout(
                        "c",
                        "/callout/ok",
                        1000,
                        step(vec![get(RQ, "x-c-in"), get(RS, ":status")], cont()),
                    )],
                    pause(),
                ),
            )],
        )
        .req(Req::get("/s").header("x-c-in", "i")),
        s(
            "hdr-response-set-add-remove",
            &[(
                RS,
                step(
                    vec![
                        set(RS, "x-c-a", "set"),
                        add(RS, "x-c-n", "1"),
                        add(RS, "x-c-n", "2"),
                        remove(RS, "x-c-b"),
                    ],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("x-up-h", "x-c-a=up")
                .header("x-up-h", "x-c-b=up"),
        ),
        s(
            "hdr-response-status-rewrite",
            &[(
                RS,
                step(vec![set(RS, ":status", "201"), get(RS, ":status")], cont()),
            )],
        ),
        s(
            "hdr-set-path-reaches-upstream",
            &[(RQ, step(vec![set(RQ, ":path", "/rewritten?x=1")], cont()))],
        ),
        s(
            "hdr-response-headers-in-callback",
            &[(
                RS,
                step(
                    vec![callout(
                        "c",
                        "/callout/ok",
                        1000,
                        step(vec![set(RS, "x-c-cb", "from callback")], cont()),
                    )],
                    pause(),
                ),
            )],
        ),
        s(
            "hdr-request-headers-in-callback",
            &[(
                RQ,
                step(
                    vec![callout(
                        "c",
                        "/callout/ok",
                        1000,
                        step(
                            vec![set(RQ, "x-c-cb", "from callback"), get(RQ, "x-c-in")],
                            cont(),
                        ),
                    )],
                    pause(),
                ),
            )],
        )
        .req(Req::get("/s").header("x-c-in", "i")),
    ]
}

fn callouts() -> Vec<Scenario> {
    let report = step(vec![], cont());
    vec![
        s(
            "call-500",
            &[(
                RQ,
                step(
                    vec![callout("c", "/callout/500", 1000, report.clone())],
                    pause(),
                ),
            )],
        ),
        s(
            "call-timeout",
            &[(
                RQ,
                step(
                    vec![callout("c", "/callout/slow/600", 100, report.clone())],
                    pause(),
                ),
            )],
        )
        .settle(700),
        s(
            "call-missing-cluster",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "cluster": "nope", "path": "/callout/ok"}),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "call-missing-authority",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "path": "/callout/ok", "drop": [":authority"]}),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "call-missing-path",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "path": "/callout/ok", "drop": [":path"]}),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "call-missing-method",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "path": "/callout/ok", "drop": [":method"]}),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "call-response-too-large",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "path": "/callout/ok", "max_bytes": 2,
                        "then": {"action": "continue"}}),
                    ],
                    pause(),
                ),
            )],
        ),
        s(
            "call-connection-refused",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "cluster": "closed", "path": "/callout/ok",
                        "then": {"action": "continue"}}),
                    ],
                    pause(),
                ),
            )],
        ),
        s(
            "call-answered-after-stream-end",
            &[(
                RQ,
                step(
                    vec![callout(
                        "c",
                        "/callout/slow/1200",
                        2000,
                        step(vec![op("responded")], cont()),
                    )],
                    cont(),
                ),
            )],
        )
        .req(Req::get("/s").header("x-up-delay", "200"))
        // The upstream takes 200 ms, so the callout surely went out; its
        // reply comes 1 s after the stream ended.
        .settle(1400),
        s(
            "call-post-body-and-headers",
            &[(
                RQ,
                step(
                    vec![
                        json!({"op": "callout", "label": "c", "method": "POST", "path": "/callout/echo",
                        "body": "ping", "headers": [["x-c-h", "1"], ["x-c-h", "2"]],
                        "then": {"action": "continue"}}),
                    ],
                    pause(),
                ),
            )],
        ),
        s(
            "call-chained",
            &[(
                RQ,
                step(
                    vec![callout(
                        "first",
                        "/callout/ok",
                        1000,
                        step(
                            vec![callout(
                                "second",
                                "/callout/500",
                                1000,
                                step(vec![], cont()),
                            )],
                            pause(),
                        ),
                    )],
                    pause(),
                ),
            )],
        ),
        s(
            "call-two-parallel",
            &[(
                RQ,
                step(
                    vec![
                        callout("a", "/callout/ok", 1000, step(vec![], pause())),
                        callout("b", "/callout/slow/200", 1000, step(vec![], cont())),
                    ],
                    pause(),
                ),
            )],
        ),
        s(
            "call-from-response-phase-respond",
            &[(
                RS,
                step(
                    vec![callout(
                        "c",
                        "/callout/500",
                        1000,
                        step(vec![], respond(503, &[], "dep down")),
                    )],
                    pause(),
                ),
            )],
        ),
    ]
}

fn wakeups() -> Vec<Scenario> {
    vec![
        s(
            "wake-timer-continue",
            &[
                (RQ, step(vec![op("wait_tick")], pause())),
                ("on_wake", step(vec![set(RQ, "x-c-woken", "yes")], cont())),
            ],
        ),
        s(
            "wake-timer-respond",
            &[
                (RQ, step(vec![op("wait_tick")], pause())),
                (
                    "on_wake",
                    step(vec![], respond(429, &[("x-c-w", "1")], "slow down")),
                ),
            ],
        ),
        s(
            "wake-timer-body-follows",
            &[
                (RQ, step(vec![op("wait_tick")], pause())),
                ("on_wake", step(vec![], cont())),
            ],
        )
        .req(post("held until woken")),
        s(
            "wake-in-response-headers",
            &[
                (RS, step(vec![op("wait_tick")], pause())),
                ("on_wake", step(vec![set(RS, "x-c-woken", "yes")], cont())),
            ],
        ),
        s(
            "wake-stays-paused",
            &[
                (RQ, step(vec![op("wait_tick")], pause())),
                ("on_wake", step(vec![], pause())),
            ],
        ),
        s(
            "wake-root-fetch",
            &[
                (
                    RQ,
                    step(
                        vec![json!({"op": "root_fetch", "path": "/callout/ok"})],
                        pause(),
                    ),
                ),
                ("on_wake", step(vec![set(RQ, "x-c-fetched", "yes")], cont())),
            ],
        ),
        s(
            "wake-root-fetch-500-respond",
            &[
                (
                    RQ,
                    step(
                        vec![json!({"op": "root_fetch", "path": "/callout/500"})],
                        pause(),
                    ),
                ),
                (
                    "on_wake",
                    step(vec![], respond(503, &[], "dependency failed")),
                ),
            ],
        ),
        s(
            "wake-once-timer",
            &[
                (
                    RQ,
                    step(vec![json!({"op": "wake_after", "ms": 30})], pause()),
                ),
                ("on_wake", step(vec![set(RQ, "x-c-timer", "once")], cont())),
            ],
        ),
        s(
            "wake-other-stream",
            &[
                (
                    RQ,
                    json!({"role": "waiter", "ops": [{"op": "park", "list": "l"}], "action": "pause",
                        "otherwise": {"ops": [{"op": "wake_list", "list": "l"}], "action": "continue"}}),
                ),
                ("on_wake", step(vec![set(RQ, "x-c-woken", "yes")], cont())),
            ],
        )
        .reqs(vec![
            Req::get("/s").header("x-role", "waiter"),
            Req::get("/s").header("x-role", "waker"),
        ])
        .concurrent(),
        s(
            "wake-other-stream-respond",
            &[
                (
                    RQ,
                    json!({"role": "waiter", "ops": [{"op": "park", "list": "l"}], "action": "pause",
                        "otherwise": {"ops": [{"op": "wake_list", "list": "l"}], "action": "continue"}}),
                ),
                ("on_wake", step(vec![], respond(409, &[("x-c-by", "waker")], "woken away"))),
            ],
        )
        .reqs(vec![
            Req::get("/s").header("x-role", "waiter"),
            Req::get("/s").header("x-role", "waker"),
        ])
        .concurrent(),
        s(
            "wake-other-stream-gone",
            &[(
                RQ,
                json!({"role": "waiter", "ops": [{"op": "park", "list": "l"}], "action": "continue",
                    "otherwise": {"ops": [{"op": "wake_list", "list": "l"}], "action": "continue"}}),
            )],
        )
        .reqs(vec![
            Req::get("/s").header("x-role", "waiter"),
            Req::get("/s").header("x-role", "waker"),
        ])
        .concurrent(),
        s(
            "wake-self-refused",
            &[(RQ, step(vec![op("wake_self")], cont()))],
        ),
        s(
            "overlapping-callouts",
            &[(
                RQ,
                step(
                    vec![callout("c", "/callout/slow/500", 1000, step(vec![], cont()))],
                    pause(),
                ),
            )],
        )
        .reqs(vec![Req::get("/s"), Req::get("/s")])
        .concurrent(),
        s(
            "wake-after-stream-end",
            &[(RQ, step(vec![json!({"op": "wake_after", "ms": 300})], cont()))],
        )
        .settle(500),
    ]
}

fn shared() -> Vec<Scenario> {
    vec![
        s(
            "shared-missing-key",
            &[(RQ, step(vec![shared_get("conf.missing")], cont()))],
        ),
        s(
            "shared-across-workers",
            &[(
                RQ,
                step(
                    vec![
                        shared_get("conf.across"),
                        shared_set("conf.across", "written", "none"),
                    ],
                    cont(),
                ),
            )],
        )
        .reqs(vec![Req::get("/s"), Req::get("/s")]),
        s(
            "shared-cas-conflict",
            &[(
                RQ,
                step(
                    vec![
                        shared_get("conf.cas"),
                        shared_set("conf.cas", "other writer", "none"),
                        shared_set("conf.cas", "stale", "last"),
                        shared_get("conf.cas"),
                    ],
                    cont(),
                ),
            )],
        )
        .shared("conf.cas", "v0"),
        s(
            "shared-cas-ok",
            &[(
                RQ,
                step(
                    vec![
                        shared_get("conf.casok"),
                        shared_set("conf.casok", "v1", "last"),
                        shared_get("conf.casok"),
                    ],
                    cont(),
                ),
            )],
        )
        .shared("conf.casok", "v0"),
        s(
            "shared-missing-key-created-whatever-cas",
            &[(
                RQ,
                step(
                    vec![
                        shared_set("conf.created", "new", "12345"),
                        shared_get("conf.created"),
                    ],
                    cont(),
                ),
            )],
        ),
        s(
            "shared-update-across-workers",
            &[(
                RQ,
                step(
                    vec![json!({"op": "shared_add", "key": "conf.count"})],
                    cont(),
                ),
            )],
        )
        .shared("conf.count", "0")
        .reqs(vec![Req::get("/s"), Req::get("/s"), Req::get("/s")]),
    ]
}

fn properties() -> Vec<Scenario> {
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
    ]
}
