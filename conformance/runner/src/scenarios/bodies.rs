//! Bodies: buffering, rewriting, content-length, several chunks.

use super::*;

pub fn all() -> Vec<Scenario> {
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
