//! Timers and wake-ups: root timers, root callouts, streams waking streams.

use super::*;

pub fn all() -> Vec<Scenario> {
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
