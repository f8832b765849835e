//! Callouts: replies, failures, timeouts, refusals, cancellation.

use super::*;

pub fn all() -> Vec<Scenario> {
    let report = step(vec![], cont());
    vec![
        s(
            "call-reply-trailers",
            &[(
                RQ,
                step(
                    // HTTP/1 servers send trailers to clients that say
                    // they accept them.
                    vec![
                        json!({"op": "callout", "label": "c", "path": "/callout/trailers",
                        "headers": [["te", "trailers"]], "then": report.clone()}),
                    ],
                    pause(),
                ),
            )],
        ),
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
