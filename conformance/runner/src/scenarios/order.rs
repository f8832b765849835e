//! Where a write leaves a header in the map. Envoy's codecs send headers in
//! map order, and a filter that writes a whole map at once
//! (`proxy_set_header_map_pairs`) must put every header where the single
//! writes would have.

use super::*;

/// A request with three plain headers, the first one repeated after the others.
fn three() -> Req {
    Req::get("/s")
        .header("x-c-a", "1")
        .header("x-c-b", "2")
        .header("x-c-c", "3")
        .header("x-c-a", "4")
}

pub fn all() -> Vec<Scenario> {
    vec![
        s("order-as-sent", &[(RQ, step(vec![order(RQ)], cont()))]).req(three()),
        s(
            "order-set-present",
            &[(RQ, step(vec![set(RQ, "x-c-b", "new"), order(RQ)], cont()))],
        )
        .req(three()),
        s(
            "order-set-repeated",
            &[(RQ, step(vec![set(RQ, "x-c-a", "new"), order(RQ)], cont()))],
        )
        .req(three()),
        s(
            "order-set-absent-then-present",
            &[(
                RQ,
                step(
                    vec![
                        set(RQ, "x-c-n", "1"),
                        set(RQ, "x-c-m", "1"),
                        set(RQ, "x-c-n", "2"),
                        order(RQ),
                    ],
                    cont(),
                ),
            )],
        )
        .req(three()),
        s(
            "order-add-present-plain",
            &[(RQ, step(vec![add(RQ, "x-c-b", "more"), order(RQ)], cont()))],
        )
        .req(three()),
        s(
            "order-add-present-inline",
            &[(
                RQ,
                step(
                    vec![
                        add(RQ, "user-agent", "more"),
                        add(RQ, "x-c-z", "z"),
                        order(RQ),
                    ],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("user-agent", "ua")
                .header("x-c-b", "2"),
        )
        .also(&["user-agent"]),
        s(
            "order-remove-then-add",
            &[(
                RQ,
                step(
                    vec![remove(RQ, "x-c-a"), add(RQ, "x-c-a", "back"), order(RQ)],
                    cont(),
                ),
            )],
        )
        .req(three()),
        s(
            "order-set-inline-present",
            &[(
                RQ,
                step(
                    vec![set(RQ, "authorization", "Bearer new"), order(RQ)],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("authorization", "Bearer old")
                .header("x-c-b", "2"),
        )
        .also(&["authorization"]),
        s(
            "order-set-pseudo",
            &[(
                RQ,
                step(
                    vec![
                        add(RQ, "x-c-n", "1"),
                        set(RQ, ":path", "/s/moved"),
                        order(RQ),
                    ],
                    cont(),
                ),
            )],
        )
        .req(three()),
        s(
            "order-response-set-present",
            &[(
                RS,
                step(
                    vec![set(RS, "x-c-a", "new"), add(RS, "x-c-n", "n"), order(RS)],
                    cont(),
                ),
            )],
        )
        .req(
            Req::get("/s")
                .header("x-up-h", "x-c-a=1")
                .header("x-up-h", "x-c-b=2")
                .header("x-up-h", "x-c-a=3"),
        ),
        s(
            "order-set-status",
            &[(
                RS,
                step(
                    vec![add(RS, "x-c-n", "n"), set(RS, ":status", "201"), order(RS)],
                    cont(),
                ),
            )],
        ),
    ]
}
