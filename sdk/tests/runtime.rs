//! The SDK's runtime, exercised through the test host with a filter that uses
//! every facility: callouts from streams, the root and timers; wake-ups;
//! shared data across VMs; body buffering; local replies.

use portico::host::LogLevel;
use portico::testing::TestHost;
use portico::{
    Action, CallError, ConfigError, Counter, Env, HttpFilter, HttpRequest, IntoVerdict,
    LocalResponse, Plugin, Root, Stream, StreamId, Verdict,
};
use serde::Deserialize;
use std::cell::RefCell;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    cluster: String,
    #[serde(default)]
    refresh: Option<portico::config::Duration>,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(rename = "match")]
    matcher: portico::RouteMatch,
    tag: String,
}

struct Kitchen {
    cluster: String,
    rules: Vec<Rule>,
    /// What the root fetched, and the streams waiting for it.
    fetched: RefCell<Option<String>>,
    waiting: RefCell<Vec<StreamId>>,
    fetches: Counter,
}

impl Kitchen {
    fn fetch(root: &mut Root<'_, Self>, cluster: &str) {
        let request = HttpRequest::get(cluster, "config.local", "/doc");
        let sent = root.http_call(request, |plugin, root, reply| {
            plugin.fetches.inc(root);
            let text = match reply {
                Ok(r) if r.status == 200 => String::from_utf8_lossy(&r.body).into_owned(),
                Ok(r) => format!("status {}", r.status),
                Err(e) => format!("error: {e}"),
            };
            *plugin.fetched.borrow_mut() = Some(text);
            let waiting: Vec<StreamId> = plugin.waiting.borrow_mut().drain(..).collect();
            for id in waiting {
                root.wake(id);
            }
        });
        if let Err(err) = sent {
            log::error!("fetch not sent: {err}");
        }
    }
}

impl Plugin for Kitchen {
    type Config = Config;
    type Filter = KitchenFilter;

    fn configure(config: Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        if config.cluster.is_empty() {
            return Err(ConfigError::at("cluster", "must not be empty"));
        }
        if let Some(period) = config.refresh {
            if period.is_zero() {
                return Err(ConfigError::at("refresh", "must be positive"));
            }
            let cluster = config.cluster.clone();
            root.set_timer(Duration::ZERO, {
                let cluster = cluster.clone();
                move |_, root| Kitchen::fetch(root, &cluster)
            });
            root.every(*period, move |_, root| Kitchen::fetch(root, &cluster));
        }
        Ok(Kitchen {
            cluster: config.cluster,
            rules: config.rules,
            fetched: RefCell::new(None),
            waiting: RefCell::new(Vec::new()),
            fetches: root.counter("kitchen.fetches")?,
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> KitchenFilter {
        KitchenFilter { seen_body: 0 }
    }
}

struct KitchenFilter {
    seen_body: usize,
}

impl HttpFilter for KitchenFilter {
    type Plugin = Kitchen;

    fn on_request_headers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        let headers = s.request_headers();
        // Reading a map the phase does not have is harmless.
        assert_eq!(s.response_headers().get(":status"), None);
        if let Some(rule) = plugin
            .rules
            .iter()
            .find(|r| r.matcher.matches_request(&headers))
        {
            headers.set("x-rule", &rule.tag);
        }
        match s.path().as_str() {
            "/callout" => {
                let req = HttpRequest::get(&plugin.cluster, "auth.local", "/check")
                    .header("x-user", &headers.get("x-user").unwrap_or_default());
                match s.http_call(req, |_, _, s, reply| match reply {
                    Ok(r) if r.status == 200 => {
                        s.request_headers().set("x-checked", "yes");
                        Ok(Action::Continue)
                    }
                    Ok(r) => LocalResponse::new(403)
                        .body(format!("denied by {}", r.status))
                        .into_verdict(),
                    Err(CallError::Failed) => LocalResponse::new(503).into_verdict(),
                    Err(e) => LocalResponse::new(502).body(e.to_string()).into_verdict(),
                }) {
                    Ok(_) => Ok(Action::Pause),
                    Err(_) => LocalResponse::new(500)
                        .body("callout refused")
                        .into_verdict(),
                }
            }
            "/wait" => {
                if let Some(doc) = plugin.fetched.borrow().as_ref() {
                    headers.set("x-doc", doc);
                    return Ok(Action::Continue);
                }
                plugin.waiting.borrow_mut().push(s.id());
                Ok(Action::Pause)
            }
            "/count" => {
                let n = s
                    .shared_update("hits", |cur| {
                        let n = cur
                            .and_then(|b| std::str::from_utf8(b).ok())
                            .and_then(|t| t.parse::<u64>().ok())
                            .unwrap_or(0)
                            + 1;
                        (Some(n.to_string().into_bytes()), n)
                    })
                    .unwrap_or(0);
                headers.set("x-hits", &n.to_string());
                Ok(Action::Continue)
            }
            "/deny" => LocalResponse::new(401)
                .header("www-authenticate", "Bearer")
                .body("no")
                .details("kitchen denied")
                .into_verdict(),
            "/buffer" => Ok(Action::Continue),
            _ => Ok(Action::Continue),
        }
    }

    fn on_request_body(&mut self, _: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        if !s.end_of_stream() {
            return Ok(Action::Pause);
        }
        self.seen_body = s.body_size();
        let upper = s.body().to_ascii_uppercase();
        let _ = s.set_body(&upper);
        Ok(Action::Continue)
    }

    fn on_wake(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        let fetched = plugin.fetched.borrow().clone();
        match fetched.as_ref() {
            // A stream woken from the root that calls out in turn: the reply
            // is routed to the root (as proxy-wasm does) and forwarded here.
            Some(doc) if doc == "call again" => {
                let req = HttpRequest::get(&plugin.cluster, "auth.local", "/after-wake");
                let sent = s.http_call(req, |_, _, s, reply| {
                    let status = reply.map(|r| r.status.to_string()).unwrap_or_default();
                    s.request_headers().set("x-after-wake", &status);
                    Action::Continue
                });
                match sent {
                    Ok(_) => Ok(Action::Pause),
                    Err(_) => LocalResponse::new(500).into_verdict(),
                }
            }
            Some(doc) if doc.starts_with("error") => LocalResponse::new(503).into_verdict(),
            Some(doc) => {
                s.request_headers().set("x-doc", doc);
                Ok(Action::Continue)
            }
            None => Ok(Action::Pause),
        }
    }

    fn on_response_headers(&mut self, _: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        s.response_headers()
            .add("x-local", if s.responded_locally() { "1" } else { "0" });
        if self.seen_body > 0 {
            s.response_headers()
                .set("x-body-size", &self.seen_body.to_string());
        }
        Ok(Action::Continue)
    }
}

const CONFIG: &str = r#"{"cluster": "backend", "rules": [
    {"match": {"prefix": "/admin", "headers": [{"name": ":method", "exact_match": "POST"}]}, "tag": "admin-write"},
    {"match": {"prefix": "/"}, "tag": "default"}
]}"#;

fn host() -> TestHost {
    TestHost::new().with_cluster("backend")
}

#[test]
fn route_rules_pick_first_match() {
    let host = host();
    let vm = host.vm::<Kitchen>(CONFIG).unwrap();
    assert_eq!(
        vm.post("/admin/x")
            .send()
            .upstream_header("x-rule")
            .as_deref(),
        Some("admin-write")
    );
    assert_eq!(
        vm.get("/admin/x")
            .send()
            .upstream_header("x-rule")
            .as_deref(),
        Some("default")
    );
}

#[test]
fn bad_config_is_an_error_with_a_path_and_is_logged() {
    let host = host();
    let err = host
        .vm::<Kitchen>(r#"{"cluster": "backend", "rules": [{"match": {"prefix": "/", "headers": [{"name": "a", "exact_match": 1}]}, "tag": "x"}]}"#)
        .err()
        .unwrap();
    assert_eq!(err.path, "rules[0].match.headers[0].exact_match");
    assert!(host.logged(
        LogLevel::Error,
        "invalid filter configuration: rules[0].match.headers[0].exact_match:"
    ));
    let err = host.vm::<Kitchen>(r#"{"cluster": ""}"#).err().unwrap();
    assert_eq!(
        (err.path.as_str(), err.message.as_str()),
        ("cluster", "must not be empty")
    );
    let err = host
        .vm::<Kitchen>(r#"{"cluster": "x", "refresh": "0s"}"#)
        .err()
        .unwrap();
    assert_eq!(err.path, "refresh");
}

#[test]
fn local_reply_passes_through_response_phase() {
    let host = host();
    let vm = host.vm::<Kitchen>(CONFIG).unwrap();
    let ex = vm.get("/deny").send();
    assert_eq!(ex.status(), 401);
    assert!(!ex.reached_upstream());
    assert_eq!(ex.body(), "no");
    assert_eq!(
        ex.response_header("www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert_eq!(ex.response_header("x-local").as_deref(), Some("1"));
    // Envoy forbids spaces in response code details; the runtime replaces them.
    assert_eq!(ex.local_reply().unwrap().details, "kitchen_denied");
    let ok = vm.get("/other").send();
    assert_eq!(ok.response_header("x-local").as_deref(), Some("0"));
}

#[test]
fn stream_callout_resumes_or_answers() {
    let host = host();
    let vm = host.vm::<Kitchen>(CONFIG).unwrap();
    let mut ex = vm.get("/callout").header("x-user", "alice").send();
    assert!(ex.paused());
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].cluster, "backend");
    assert_eq!(calls[0].path(), "/check");
    assert_eq!(calls[0].header("x-user"), Some("alice"));
    host.respond(calls[0].id, 200, &[], b"");
    assert!(ex.stream().request_resumed());
    ex.proceed();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.upstream_header("x-checked").as_deref(), Some("yes"));

    let ex = vm.get("/callout").send();
    let id = host.pending_calls()[0].id;
    host.respond(id, 500, &[], b"");
    assert_eq!(ex.local_reply().unwrap().status, 403);
    assert_eq!(ex.local_reply().unwrap().body, b"denied by 500");

    let ex = vm.get("/callout").send();
    host.fail_call(host.pending_calls()[0].id);
    assert_eq!(ex.local_reply().unwrap().status, 503);
    assert!(host.pending_calls().is_empty());
}

#[test]
fn callout_to_unknown_cluster_is_refused_not_fatal() {
    let host = TestHost::new(); // no clusters declared
    let vm = host.vm::<Kitchen>(r#"{"cluster": "nowhere"}"#).unwrap();
    let ex = vm.get("/callout").send();
    assert_eq!(ex.status(), 500);
    assert_eq!(ex.body(), "callout refused");
}

#[test]
fn root_fetch_on_timer_wakes_waiting_streams() {
    let host = host();
    let vm = host
        .vm::<Kitchen>(r#"{"cluster": "backend", "refresh": "30s"}"#)
        .unwrap();
    // Nothing fetched yet: requests wait.
    let mut first = vm.get("/wait").send();
    let mut second = vm.get("/wait").send();
    assert!(first.paused() && second.paused());
    assert!(host.pending_calls().is_empty());

    host.advance(Duration::from_millis(1)); // the zero-delay timer fires
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    host.respond(calls[0].id, 200, &[("content-type", "text/plain")], b"v1");
    assert_eq!(host.metric("kitchen.fetches"), Some(1));
    for ex in [&mut first, &mut second] {
        assert!(ex.stream().request_resumed());
        ex.proceed();
        assert_eq!(ex.upstream_header("x-doc").as_deref(), Some("v1"));
    }
    // Later requests do not wait.
    assert_eq!(
        vm.get("/wait").send().upstream_header("x-doc").as_deref(),
        Some("v1")
    );

    // The periodic refresh fires every 30 s, and picks up new content.
    host.advance(Duration::from_secs(29));
    assert!(host.pending_calls().is_empty());
    host.advance(Duration::from_secs(1));
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    host.respond(calls[0].id, 200, &[], b"v2");
    assert_eq!(
        vm.get("/wait").send().upstream_header("x-doc").as_deref(),
        Some("v2")
    );
    host.advance(Duration::from_secs(30));
    assert_eq!(host.pending_calls().len(), 1);
}

#[test]
fn waking_a_stream_that_left_is_harmless() {
    let host = host();
    let vm = host
        .vm::<Kitchen>(r#"{"cluster": "backend", "refresh": "30s"}"#)
        .unwrap();
    let gone = vm.get("/wait").send();
    drop(gone);
    let staying = vm.get("/wait").send();
    host.advance(Duration::from_millis(1));
    let id = host.pending_calls()[0].id;
    host.respond(id, 200, &[], b"doc");
    assert!(staying.stream().request_resumed());
}

#[test]
fn failed_fetch_answers_waiting_streams() {
    let host = host();
    let vm = host
        .vm::<Kitchen>(r#"{"cluster": "backend", "refresh": "30s"}"#)
        .unwrap();
    let ex = vm.get("/wait").send();
    host.advance(Duration::from_millis(1));
    host.fail_call(host.pending_calls()[0].id);
    assert_eq!(ex.local_reply().unwrap().status, 503);
}

#[test]
fn shared_data_is_shared_between_vms_and_survives_cas_conflicts() {
    let host = host();
    let worker_a = host.vm::<Kitchen>(CONFIG).unwrap();
    let worker_b = host.vm::<Kitchen>(CONFIG).unwrap();
    assert_eq!(
        worker_a
            .get("/count")
            .send()
            .upstream_header("x-hits")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        worker_b
            .get("/count")
            .send()
            .upstream_header("x-hits")
            .as_deref(),
        Some("2")
    );
    // Three writes in a row lose the race; the update retries and lands once.
    host.inject_cas_conflicts(3);
    assert_eq!(
        worker_a
            .get("/count")
            .send()
            .upstream_header("x-hits")
            .as_deref(),
        Some("3")
    );
    assert_eq!(host.shared_data("hits").as_deref(), Some(&b"3"[..]));
    // Unbounded contention gives up instead of spinning.
    host.inject_cas_conflicts(portico::Env::MAX_CAS_ATTEMPTS);
    assert_eq!(
        worker_b
            .get("/count")
            .send()
            .upstream_header("x-hits")
            .as_deref(),
        Some("0")
    );
    assert_eq!(host.shared_data("hits").as_deref(), Some(&b"3"[..]));
}

#[test]
fn body_is_buffered_while_paused_and_can_be_rewritten() {
    let host = host();
    let vm = host.vm::<Kitchen>(CONFIG).unwrap();
    let mut s = vm.stream();
    use portico::testing::Flow;
    let headers = [
        (":method", "POST"),
        (":path", "/buffer"),
        (":authority", "x"),
    ];
    assert_eq!(s.send_request_headers(&headers, false), Flow::Continue);
    assert_eq!(s.send_request_body(b"hello ", false), Flow::Pause);
    assert_eq!(s.send_request_body(b"world", true), Flow::Continue);
    assert_eq!(s.upstream_body(), b"HELLO WORLD");
    s.send_response_headers(&[(":status", "200")], true);
    assert_eq!(s.response_header("x-body-size").as_deref(), Some("11"));
}

#[test]
fn repeated_headers_are_all_visible() {
    let host = host();
    let vm = host.vm::<Kitchen>(CONFIG).unwrap();
    let mut s = vm.stream();
    s.send_request_headers(
        &[
            (":path", "/"),
            (":method", "GET"),
            ("X-Multi", "a"),
            ("x-multi", "b"),
        ],
        true,
    );
    assert_eq!(s.request_header_all("x-multi"), vec!["a", "b"]);
    assert_eq!(s.request_header("X-MULTI").as_deref(), Some("a"));
}

#[test]
fn timers_disarm_when_nothing_is_due() {
    let host = host();
    let vm = host.vm::<Kitchen>(CONFIG).unwrap();
    assert_eq!(host.tick_period(&vm), None);
    let periodic = host
        .vm::<Kitchen>(r#"{"cluster": "backend", "refresh": "2.5s"}"#)
        .unwrap();
    assert_eq!(host.tick_period(&periodic), Some(Duration::from_millis(1)));
    // After the zero-delay fetch, the tick is re-armed for the periodic
    // timer's remaining delay, then for its full period.
    host.advance(Duration::from_millis(1));
    assert_eq!(
        host.tick_period(&periodic),
        Some(Duration::from_millis(2499))
    );
    host.advance(Duration::from_millis(2499));
    assert_eq!(
        host.tick_period(&periodic),
        Some(Duration::from_millis(2500))
    );
}

#[test]
fn a_callout_made_by_a_woken_stream_reaches_that_stream() {
    let host = host();
    let vm = host
        .vm::<Kitchen>(r#"{"cluster": "backend", "refresh": "30s"}"#)
        .unwrap();
    let mut ex = vm.get("/wait").send();
    host.advance(Duration::from_millis(1));
    let fetch = host.pending_calls()[0].id;
    host.respond(fetch, 200, &[], b"call again");
    // on_wake called out instead of continuing.
    assert!(ex.paused() && !ex.stream().request_resumed());
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path(), "/after-wake");
    host.respond(calls[0].id, 204, &[], b"");
    assert!(ex.stream().request_resumed());
    ex.proceed();
    assert_eq!(ex.upstream_header("x-after-wake").as_deref(), Some("204"));
}
