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
        // Partial body edits (`append_body`, `prepend_body`,
        // `replace_body`, `body_range`), with the body-rewrite recipe.
        edit(
            "rq-body-append",
            "request",
            vec![json!({"op": "append_body", "value": " world"})],
        ),
        edit(
            "rq-body-prepend",
            "request",
            vec![json!({"op": "prepend_body", "value": ">> "})],
        ),
        edit(
            "rq-body-replace-prefix",
            "request",
            vec![replace(0, 5, "HOWDY, THERE")],
        ),
        edit(
            "rq-body-replace-middle",
            "request",
            vec![replace(2, 4, "[mid]")],
        ),
        edit(
            "rq-body-edits-in-sequence",
            "request",
            vec![
                json!({"op": "prepend_body", "value": "<"}),
                json!({"op": "append_body", "value": ">"}),
                replace(1, 2, "J"),
                json!({"op": "body_range", "start": 0, "end": 3}),
                op("body"),
            ],
        ),
        edit(
            "rq-body-replace-out-of-range",
            "request",
            vec![replace(3, 99, "x"), op("body")],
        ),
        edit(
            "rq-body-range",
            "request",
            vec![
                json!({"op": "body_range", "start": 1, "end": 4}),
                json!({"op": "body_range", "start": 3, "end": 99}),
            ],
        ),
        edit(
            "rs-body-append",
            "response",
            vec![json!({"op": "append_body", "value": "!!"})],
        ),
        edit(
            "rs-body-replace-middle",
            "response",
            vec![replace(3, 7, "-")],
        ),
    ]
}

fn replace(start: usize, end: usize, value: &str) -> Value {
    json!({"op": "replace_body", "start": start, "end": end, "value": value})
}

/// A scenario that buffers one direction's body with the rewrite recipe
/// and runs `ops` on the whole body.
fn edit(name: &str, direction: &str, ops: Vec<Value>) -> Scenario {
    let (headers, chunk, body) = if direction == "request" {
        (RQ, "request_body_chunk", "request_body")
    } else {
        (RS, "response_body_chunk", "response_body")
    };
    let scenario = s(
        name,
        &[
            (headers, step(vec![op("will_replace_body")], cont())),
            (chunk, pause()),
            (body, step(ops, cont())),
        ],
    );
    if direction == "request" {
        scenario.req(post("hello body"))
    } else {
        scenario
    }
}
