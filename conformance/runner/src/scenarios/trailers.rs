//! Trailers in both directions, and which maps each phase sees.

use super::*;

pub fn all() -> Vec<Scenario> {
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
