//! Shared data across workers: missing keys, CAS conflicts, updates.

use super::*;

pub fn all() -> Vec<Scenario> {
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
            "shared-cas-conflict-across-requests",
            &[(
                RQ,
                json!({"role": "reader", "ops": [shared_get("conf.xcas"),
                        {"op": "stash_cas", "key": "conf.xcas", "into": "conf.xcas.token"}],
                    "action": "continue",
                    "otherwise": {"role": "writer", "ops": [shared_set("conf.xcas", "writer", "none")],
                        "action": "continue",
                        "otherwise": {"ops": [shared_set("conf.xcas", "stale", "from:conf.xcas.token"),
                            shared_get("conf.xcas")], "action": "continue"}}}),
            )],
        )
        .shared("conf.xcas", "v0")
        .reqs(vec![
            Req::get("/s").header("x-role", "reader"),
            Req::get("/s").header("x-role", "writer"),
            Req::get("/s").header("x-role", "late"),
        ]),
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
