//! Headers: repeated and inline ones, maps a phase does not have, pseudo-headers.

use super::*;

pub fn all() -> Vec<Scenario> {
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
