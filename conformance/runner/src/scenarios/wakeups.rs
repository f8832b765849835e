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
        // Stream timers (`Stream::set_timer`): a callback of the stream
        // itself, on the VM's one tick.
        s(
            "stream-timer-continue",
            &[(
                RQ,
                step(
                    vec![timer("t", 100, step(vec![set(RQ, "x-c-timer", "fired")], cont()))],
                    pause(),
                ),
            )],
        ),
        s(
            "stream-timer-respond",
            &[(
                RQ,
                step(
                    vec![timer("t", 100, step(vec![], respond(408, &[("x-c-t", "1")], "too slow")))],
                    pause(),
                ),
            )],
        ),
        s(
            "stream-timer-cancelled",
            &[(
                RQ,
                step(
                    vec![
                        timer("late", 100, step(vec![], respond(500, &[], "cancelled timer fired"))),
                        json!({"op": "cancel_timer", "label": "late"}),
                        timer("ok", 200, step(vec![], cont())),
                    ],
                    pause(),
                ),
            )],
        )
        .settle(300),
        s(
            "stream-timer-body-follows",
            &[(RQ, step(vec![timer("t", 100, step(vec![], cont()))], pause()))],
        )
        .req(post("held until the timer")),
        s(
            "stream-timer-in-response-headers",
            &[(
                RS,
                step(
                    vec![timer("t", 100, step(vec![set(RS, "x-c-timer", "fired")], cont()))],
                    pause(),
                ),
            )],
        ),
        s(
            "stream-timer-two-in-order",
            &[(
                RQ,
                step(
                    vec![
                        timer("second", 250, step(vec![], cont())),
                        timer("first", 100, step(vec![set(RQ, "x-c-first", "yes")], pause())),
                    ],
                    pause(),
                ),
            )],
        ),
        // A timer whose stream ended never fires.
        s(
            "stream-timer-after-stream-end",
            &[(RQ, step(vec![timer("gone", 300, step(vec![], cont()))], cont()))],
        )
        .settle(500),
    ]
}

fn timer(label: &str, ms: u64, then: Value) -> Value {
    json!({"op": "stream_timer", "label": label, "ms": ms, "then": then})
}
