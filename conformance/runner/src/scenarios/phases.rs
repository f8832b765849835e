//! Every phase × every Action: continue, pause (resumed or not), local replies.

use super::*;

pub fn all() -> Vec<Scenario> {
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
