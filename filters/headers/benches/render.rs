//! Header value templates, natively: parse (at load) and render (per
//! request). `cargo bench -p portico-headers`.
#![allow(clippy::expect_used)]

use divan::Bencher;
use portico_headers::template::{Side, Source, Template};
use std::hint::black_box;
use std::time::SystemTime;

fn main() {
    divan::main();
}

struct Request;

impl Source for Request {
    fn request_header(&self, name: &str) -> Option<String> {
        (name == "x-user").then(|| "alice".to_string())
    }
    fn response_header(&self, _: &str) -> Option<String> {
        None
    }
    fn remote_address(&self) -> Option<String> {
        Some("203.0.113.7:51234".into())
    }
    fn protocol(&self) -> Option<String> {
        Some("HTTP/1.1".into())
    }
    fn start_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
    }
}

const TEMPLATES: [&str; 4] = [
    "DENY",
    "%REQ(x-user)%",
    "user=%REQ(x-user):16%; from=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "%START_TIME%",
];

#[divan::bench(args = TEMPLATES)]
fn parse(template: &str) -> Template {
    Template::parse(black_box(template), Side::Request, None).expect("template")
}

#[divan::bench(args = TEMPLATES)]
fn render(bencher: Bencher, template: &str) {
    let t = Template::parse(template, Side::Request, None).expect("template");
    let mut out = String::with_capacity(64);
    bencher.bench_local(|| {
        out.clear();
        t.render(black_box(&Request), &mut out);
        out.len()
    });
}
