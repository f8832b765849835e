//! `portico::Chain`: several plugins in one, run as Envoy runs separate
//! filters (order, pauses, local replies, callbacks typed per member,
//! configuration paths), on the test host.

use portico::testing::TestHost;
use portico::{
    Action, Chain, ConfigError, Counter, Env, HttpFilter, HttpRequest, LocalResponse, Plugin, Root,
    Stream, Verdict,
};
use serde::Deserialize;
use std::cell::Cell;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceConfig {
    /// Pause the request headers on a callout; its reply resumes.
    #[serde(default)]
    call_on_request: bool,
    /// Pause the request headers on a stream timer of this many ms.
    #[serde(default)]
    timer_on_request_ms: Option<u64>,
    /// Answer the callout's reply with this status instead of resuming.
    #[serde(default)]
    reply_after_call: Option<u16>,
    #[serde(default)]
    reply_on_request: Option<u16>,
    #[serde(default)]
    reply_on_response: Option<u16>,
    /// Pause the response headers on a callout.
    #[serde(default)]
    call_on_response: bool,
    /// Must be positive: checked by `configure`.
    #[serde(default = "one")]
    weight: u32,
    /// A root timer every this many ms counts `<tag>.ticks`.
    #[serde(default)]
    tick_ms: Option<u64>,
    /// Buffer the request body (`Pause` until `end_of_stream`).
    #[serde(default)]
    buffer_request_body: bool,
    /// Append this to every body chunk this member sees.
    #[serde(default)]
    append_to_body: Option<String>,
}

fn one() -> u32 {
    1
}

/// One member type per tag, so a chain can hold several.
struct Trace<const T: char> {
    config: TraceConfig,
    requests: Counter,
    ticks: Counter,
    ticked: Cell<u32>,
}

struct TraceFilter<const T: char> {
    /// Set only by this member's own callout reply.
    reply_status: Option<u16>,
    done: bool,
}

impl<const T: char> Plugin for Trace<T> {
    type Config = TraceConfig;
    type Filter = TraceFilter<T>;

    fn configure(config: TraceConfig, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        if config.weight == 0 {
            return Err(ConfigError::at("weight", "must be positive"));
        }
        if let Some(ms) = config.tick_ms {
            root.every(Duration::from_millis(ms), |plugin, root| {
                plugin.ticks.inc(root);
                plugin.ticked.set(plugin.ticked.get() + 1);
            });
        }
        Ok(Trace {
            config,
            requests: root.counter(&format!("{T}.requests"))?,
            ticks: root.counter(&format!("{T}.ticks"))?,
            ticked: Cell::new(0),
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> TraceFilter<T> {
        TraceFilter {
            reply_status: None,
            done: false,
        }
    }
}

fn tag<const T: char>() -> String {
    T.to_string()
}

impl<const T: char> HttpFilter for TraceFilter<T> {
    type Plugin = Trace<T>;

    fn on_request_headers(&mut self, p: &Trace<T>, s: &mut Stream<'_, Self>) -> Verdict {
        p.requests.inc(s);
        s.request_headers().add("x-trace", &tag::<T>());
        if let Some(status) = p.config.reply_on_request {
            return Err(LocalResponse::new(status).body(format!("{T} says no\n")));
        }
        if p.config.call_on_request {
            let request = HttpRequest::get("auth", "auth.local", &format!("/{T}"));
            s.http_call(request, |f: &mut Self, p: &Trace<T>, s, reply| {
                let status = reply.map(|r| r.status).unwrap_or(0);
                f.reply_status = Some(status);
                s.request_headers().add("x-reply", &format!("{T}={status}"));
                match p.config.reply_after_call {
                    Some(code) => Err(LocalResponse::new(code)),
                    None => Ok(Action::Continue),
                }
            })
            .map_err(LocalResponse::from)?;
            return Ok(Action::Pause);
        }
        if let Some(ms) = p.config.timer_on_request_ms {
            s.set_timer(Duration::from_millis(ms), |f: &mut Self, _, s| {
                f.reply_status = Some(1);
                s.request_headers().add("x-timer", &tag::<T>());
                Action::Continue
            });
            return Ok(Action::Pause);
        }
        Ok(Action::Continue)
    }

    fn on_request_body(&mut self, p: &Trace<T>, s: &mut Stream<'_, Self>) -> Verdict {
        let seen = String::from_utf8_lossy(&s.body()).into_owned();
        portico::log::info!("body {T} {seen} {}", s.end_of_stream());
        if let Some(suffix) = &p.config.append_to_body {
            s.append_body(suffix.as_bytes())
                .map_err(LocalResponse::from)?;
        }
        if p.config.buffer_request_body && !s.end_of_stream() {
            return Ok(Action::Pause);
        }
        Ok(Action::Continue)
    }

    fn on_response_headers(&mut self, p: &Trace<T>, s: &mut Stream<'_, Self>) -> Verdict {
        let headers = s.response_headers();
        headers.add("x-trace", &tag::<T>());
        if s.responded_locally() {
            headers.add("x-replied-by", &tag::<T>());
        }
        if let Some(status) = self.reply_status {
            headers.add("x-saw-reply", &format!("{T}={status}"));
        }
        if let Some(status) = p.config.reply_on_response {
            return Err(LocalResponse::new(status).body(format!("{T} replaced it\n")));
        }
        if p.config.call_on_response {
            let request = HttpRequest::get("auth", "auth.local", &format!("/{T}/response"));
            s.http_call(request, |_: &mut Self, _: &Trace<T>, s, _| {
                s.response_headers().add("x-response-call", &tag::<T>());
                Action::Continue
            })
            .map_err(LocalResponse::from)?;
            return Ok(Action::Pause);
        }
        Ok(Action::Continue)
    }

    fn on_done(&mut self, _: &Trace<T>, s: &mut Stream<'_, Self>) {
        self.done = true;
        portico::log::info!("done {T} {}", s.responded_locally());
    }
}

portico::member!(Trace<'a'>, "a");
portico::member!(Trace<'b'>, "b");
portico::member!(Trace<'c'>, "c");

type Two = Chain<Trace<'a'>, Trace<'b'>>;
type Three = Chain<Trace<'a'>, Chain<Trace<'b'>, Trace<'c'>>>;

fn config(entries: &[(&str, &str)]) -> String {
    let list: Vec<String> = entries
        .iter()
        .map(|(name, config)| format!(r#"{{"name": "{name}", "config": {config}}}"#))
        .collect();
    format!(r#"{{"filters": [{}]}}"#, list.join(", "))
}

fn host() -> TestHost {
    TestHost::new().with_cluster("auth")
}

#[test]
fn request_in_chain_order_response_in_reverse() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[("a", "{}"), ("b", "{}"), ("c", "{}")]))
        .unwrap();
    let ex = vm.get("/").send();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.upstream_header_all("x-trace"), ["a", "b", "c"]);
    let back: Vec<String> = ex
        .response_headers()
        .into_iter()
        .filter(|(k, _)| k == "x-trace")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(back, ["c", "b", "a"]);
    for t in ["a", "b", "c"] {
        assert_eq!(host.metric(&format!("{t}.requests")), Some(1), "{t}");
        assert!(host
            .logs()
            .iter()
            .any(|l| l.message == format!("done {t} false")));
    }
}

#[test]
fn a_subset_runs_only_the_listed_members() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[("a", "{}"), ("c", "{}")]))
        .unwrap();
    let ex = vm.get("/").send();
    assert_eq!(ex.upstream_header_all("x-trace"), ["a", "c"]);
    assert_eq!(host.metric("b.requests").unwrap_or(0), 0);
}

#[test]
fn a_pause_holds_later_members_and_resumes_with_the_next() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[
            ("a", "{}"),
            ("b", r#"{"call_on_request": true}"#),
            ("c", "{}"),
        ]))
        .unwrap();
    let mut ex = vm.get("/").send();
    assert!(ex.paused());
    assert_eq!(host.metric("a.requests"), Some(1));
    assert_eq!(host.metric("c.requests").unwrap_or(0), 0);
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    host.respond(calls[0].id, 204, &[], b"");
    ex.proceed();
    assert_eq!(ex.status(), 200);
    // a ran once (not restarted), then b's reply, then c.
    assert_eq!(host.metric("a.requests"), Some(1));
    assert_eq!(host.metric("c.requests"), Some(1));
    assert_eq!(ex.upstream_header_all("x-trace"), ["a", "b", "c"]);
    assert_eq!(ex.upstream_header("x-reply").as_deref(), Some("b=204"));
    // The reply reached b's filter only.
    assert_eq!(ex.response_header("x-saw-reply").as_deref(), Some("b=204"));
}

#[test]
fn two_pauses_in_a_row_each_resume_the_next_member() {
    let host = host();
    let vm = host
        .vm::<Two>(&config(&[
            ("a", r#"{"call_on_request": true}"#),
            ("b", r#"{"timer_on_request_ms": 5}"#),
        ]))
        .unwrap();
    let mut ex = vm.get("/").send();
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]
            .headers
            .iter()
            .find(|(k, _)| k == ":path")
            .map(|(_, v)| v.as_str()),
        Some("/a")
    );
    host.respond(calls[0].id, 200, &[], b"");
    assert!(!ex.resumable(), "b's timer holds the stream");
    host.advance(Duration::from_millis(5));
    assert!(ex.resumable());
    ex.proceed();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.upstream_header("x-reply").as_deref(), Some("a=200"));
    assert_eq!(ex.upstream_header("x-timer").as_deref(), Some("b"));
    let saw: Vec<String> = ex
        .response_headers()
        .into_iter()
        .filter(|(k, _)| k == "x-saw-reply")
        .map(|(_, v)| v)
        .collect();
    // Each member's callback set its own filter's state.
    assert_eq!(saw, ["b=1", "a=200"]);
}

#[test]
fn a_local_reply_passes_back_through_earlier_members_only() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[
            ("a", "{}"),
            ("b", r#"{"reply_on_request": 403}"#),
            ("c", "{}"),
        ]))
        .unwrap();
    let ex = vm.get("/").send();
    assert_eq!(ex.status(), 403);
    assert_eq!(ex.body(), "b says no\n");
    assert!(!ex.reached_upstream());
    assert_eq!(host.metric("c.requests").unwrap_or(0), 0);
    let back: Vec<String> = ex
        .response_headers()
        .into_iter()
        .filter(|(k, _)| k == "x-trace")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(back, ["b", "a"], "c never saw the request");
    // Only the member that answered sees `responded_locally`.
    assert_eq!(ex.response_header("x-replied-by").as_deref(), Some("b"));
    let logs = host.logs();
    assert!(logs.iter().any(|l| l.message == "done a false"));
    assert!(logs.iter().any(|l| l.message == "done b true"));
    assert!(!logs.iter().any(|l| l.message.starts_with("done c")));
}

#[test]
fn a_local_reply_from_a_callback_stops_later_members() {
    let host = host();
    let vm = host
        .vm::<Two>(&config(&[
            ("a", r#"{"call_on_request": true, "reply_after_call": 401}"#),
            ("b", "{}"),
        ]))
        .unwrap();
    let mut ex = vm.get("/").send();
    let calls = host.pending_calls();
    host.respond(calls[0].id, 500, &[], b"");
    ex.proceed();
    assert_eq!(ex.status(), 401);
    assert!(!ex.reached_upstream());
    assert_eq!(host.metric("b.requests").unwrap_or(0), 0);
    assert_eq!(ex.response_header("x-replied-by").as_deref(), Some("a"));
    assert_eq!(ex.response_header("x-trace").as_deref(), Some("a"));
}

#[test]
fn a_local_reply_on_the_response_path_goes_straight_to_the_client() {
    let host = host();
    let vm = host
        .vm::<Two>(&config(&[
            ("a", "{}"),
            ("b", r#"{"reply_on_response": 502}"#),
        ]))
        .unwrap();
    let ex = vm.get("/").send();
    assert_eq!(ex.status(), 502);
    assert_eq!(ex.body(), "b replaced it\n");
    assert!(ex.reached_upstream());
    // a's response phase did not run after b answered.
    assert_eq!(ex.response_header("x-trace"), None);
}

#[test]
fn a_response_pause_holds_the_earlier_members() {
    let host = host();
    let vm = host
        .vm::<Two>(&config(&[
            ("a", "{}"),
            ("b", r#"{"call_on_response": true}"#),
        ]))
        .unwrap();
    let mut ex = vm.get("/").send();
    assert!(ex.paused());
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1);
    host.respond(calls[0].id, 200, &[], b"");
    ex.proceed();
    assert_eq!(ex.status(), 200);
    let back: Vec<String> = ex
        .response_headers()
        .into_iter()
        .filter(|(k, _)| k == "x-trace" || k == "x-response-call")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(back, ["x-trace=b", "x-response-call=b", "x-trace=a"]);
}

#[test]
fn root_timers_and_metrics_stay_per_member() {
    let host = host();
    let vm = host
        .vm::<Two>(&config(&[
            ("a", r#"{"tick_ms": 10}"#),
            ("b", r#"{"tick_ms": 25}"#),
        ]))
        .unwrap();
    host.advance(Duration::from_millis(50));
    assert_eq!(host.metric("a.ticks"), Some(5));
    assert_eq!(host.metric("b.ticks"), Some(2));
    let _ = vm.get("/").send();
    assert_eq!(host.metric("a.requests"), Some(1));
    assert_eq!(host.metric("b.requests"), Some(1));
}

#[test]
fn config_errors_name_the_path_in_the_list() {
    let refused = |json: &str| -> ConfigError { host().vm::<Three>(json).err().unwrap() };
    let err = refused(&config(&[("a", "{}"), ("b", r#"{"weight": 0}"#)]));
    assert_eq!(err.path, "filters[1].config.weight");
    assert_eq!(err.message, "must be positive");

    let err = refused(&config(&[("a", "{}"), ("c", r#"{"weight": "x"}"#)]));
    assert_eq!(err.path, "filters[1].config.weight");
    assert!(
        err.message
            .starts_with("invalid type: string \"x\", expected u32"),
        "{err}"
    );
    assert!(
        !err.message.contains("line"),
        "no position in a copy: {err}"
    );

    let err = refused(&config(&[("a", r#"{"wieght": 2}"#)]));
    assert_eq!(err.path, "filters[0].config.wieght");

    let err = refused(&config(&[("a", "{}"), ("d", "{}")]));
    assert_eq!(err.path, "filters[1].name");
    assert_eq!(err.message, "unknown filter `d`; this module runs a, b, c");

    let err = refused(&config(&[("b", "{}"), ("a", "{}")]));
    assert_eq!(err.path, "filters[1].name");
    assert!(err.message.starts_with("`a` must come before `b`"), "{err}");

    let err = refused(&config(&[("a", "{}"), ("a", "{}")]));
    assert_eq!(err.path, "filters[1].name");
    assert_eq!(err.message, "`a` is listed twice");

    let err = refused(r#"{"filters": []}"#);
    assert_eq!(err.path, "filters");

    let err = refused(r#"{"filters": [{"name": "a", "conf": {}}]}"#);
    assert_eq!(err.path, "filters[0].conf");

    let err = refused(r#"{"filter": []}"#);
    assert_eq!(err.path, "filter");
}

#[test]
fn a_member_without_config_reads_an_empty_object() {
    let host = host();
    let vm = host.vm::<Two>(r#"{"filters": [{"name": "b"}]}"#).unwrap();
    assert_eq!(vm.get("/").send().upstream_header_all("x-trace"), ["b"]);
}

/// What each member saw of the request body, call by call.
fn bodies(host: &TestHost) -> Vec<String> {
    host.logs()
        .into_iter()
        .filter_map(|l| l.message.strip_prefix("body ").map(str::to_string))
        .collect()
}

#[test]
fn a_buffering_member_holds_the_body_and_the_earlier_see_each_chunk_once() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[
            ("a", r#"{"append_to_body": "!"}"#),
            ("b", r#"{"buffer_request_body": true}"#),
            ("c", "{}"),
        ]))
        .unwrap();
    let mut s = vm.stream();
    s.send_request_headers(
        &[(":method", "POST"), (":path", "/"), (":authority", "x")],
        false,
    );
    assert_eq!(
        s.send_request_body(b"one", false),
        portico::testing::Flow::Pause
    );
    assert_eq!(
        s.send_request_body(b"two", true),
        portico::testing::Flow::Continue
    );
    // As three filters: a sees (and stamps) each chunk once, b the buffer
    // growing, c the whole body once b let it go.
    assert_eq!(
        bodies(&host),
        [
            "a one false",
            "b one! false",
            "a two true",
            "b one!two! true",
            "c one!two! true"
        ]
    );
    assert_eq!(s.upstream_body(), b"one!two!");
}

#[test]
fn members_after_the_buffering_one_each_see_the_body_once() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[
            ("a", r#"{"buffer_request_body": true}"#),
            ("b", r#"{"append_to_body": "+"}"#),
            ("c", r#"{"buffer_request_body": true}"#),
        ]))
        .unwrap();
    let mut s = vm.stream();
    s.send_request_headers(
        &[(":method", "POST"), (":path", "/"), (":authority", "x")],
        false,
    );
    s.send_request_body(b"1", false);
    s.send_request_body(b"2", false);
    s.send_request_body(b"3", true);
    assert_eq!(
        bodies(&host),
        [
            "a 1 false",
            "a 12 false",
            "a 123 true",
            "b 123 true",
            "c 123+ true"
        ]
    );
    assert_eq!(s.upstream_body(), b"123+");
}

#[test]
fn a_buffering_member_inside_a_nested_chain_holds_both_chains_alike() {
    let host = host();
    let vm = host
        .vm::<Three>(&config(&[
            ("a", "{}"),
            ("b", r#"{"append_to_body": "+"}"#),
            ("c", r#"{"buffer_request_body": true}"#),
        ]))
        .unwrap();
    let mut s = vm.stream();
    s.send_request_headers(
        &[(":method", "POST"), (":path", "/"), (":authority", "x")],
        false,
    );
    s.send_request_body(b"1", false);
    s.send_request_body(b"2", true);
    assert_eq!(
        bodies(&host),
        [
            "a 1 false",
            "b 1 false",
            "c 1+ false",
            "a 2 true",
            "b 2 true",
            "c 1+2+ true"
        ]
    );
    assert_eq!(s.upstream_body(), b"1+2+");
}
