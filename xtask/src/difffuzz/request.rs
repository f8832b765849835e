//! One generated request, what each listener answered, and how both are
//! printed as a reproducible case.

use portico_harness::client::{Reply, RequestBuilder};
use std::fmt::Write;

/// A request as generated: the harness client sends headers in this order,
/// repeats included (it lower-cases names on the wire, as HTTP/1 allows).
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the generator meant to try, for the reader of a finding.
    pub note: String,
    /// The rule the path selects, when the generator knows it.
    pub route: &'static str,
    /// The hostile tokens in the request, each with a valid twin.
    pub tokens: Vec<Token>,
}

/// A token the generator made odd on purpose, and a valid one to swap in.
#[derive(Clone, Debug)]
pub struct Token {
    pub text: String,
    pub kind: &'static str,
    pub twin: String,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Req {
        Req {
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            note: String::new(),
            tokens: Vec::new(),
            route: "",
        }
    }

    /// The hostile tokens still in the request (shrinking may drop some).
    pub fn present_tokens(&self) -> Vec<&Token> {
        self.tokens
            .iter()
            .filter(|t| {
                self.path.contains(&t.text) || self.headers.iter().any(|(_, v)| v.contains(&t.text))
            })
            .collect()
    }

    /// The request with every hostile token replaced by its valid twin.
    pub fn with_twins(&self) -> Option<Req> {
        let present = self.present_tokens();
        if present.is_empty() {
            return None;
        }
        let mut r = self.clone();
        for t in present {
            r.path = r.path.replace(&t.text, &t.twin);
            for (_, v) in &mut r.headers {
                *v = v.replace(&t.text, &t.twin);
            }
        }
        Some(r)
    }

    pub fn header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_string(), value.into()));
    }

    pub fn send(&self, address: &str) -> Result<Reply, String> {
        let mut b = RequestBuilder::new(address.to_string(), &self.method, &self.path);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        b.body(self.body.clone()).try_send()
    }

    /// A curl line that sends the same request (`--path-as-is` keeps `..`).
    pub fn curl(&self, listener_port: &str) -> String {
        let mut line = format!(
            "curl -sS -i --path-as-is -X {} 'http://127.0.0.1:{listener_port}{}'",
            self.method,
            shell(&self.path)
        );
        for (k, v) in &self.headers {
            if v.is_empty() {
                // curl drops `-H 'name:'`; `name;` sends it empty.
                let _ = write!(line, " -H '{};'", shell(k));
            } else {
                let _ = write!(line, " -H '{}: {}'", shell(k), shell(v));
            }
        }
        if !self.body.is_empty() {
            let _ = write!(
                line,
                " --data-binary '{}'",
                shell(&String::from_utf8_lossy(&self.body))
            );
        }
        line
    }

    /// The request as readable text, long values shortened.
    pub fn describe(&self) -> String {
        let mut out = format!("{} {}\n", self.method, short(&self.path));
        for (k, v) in &self.headers {
            let _ = writeln!(out, "{k}: {}", short(v));
        }
        if !self.body.is_empty() {
            let _ = writeln!(out, "(body: {} bytes)", self.body.len());
        }
        out
    }
}

fn shell(text: &str) -> String {
    text.replace('\'', "'\\''")
}

/// Values over 160 bytes keep their head and tail: tokens stay recognisable.
pub fn short(text: &str) -> String {
    if text.len() <= 160 {
        return text.to_string();
    }
    let head: String = text.chars().take(100).collect();
    let tail: String = {
        let chars: Vec<char> = text.chars().collect();
        chars[chars.len().saturating_sub(30)..].iter().collect()
    };
    format!("{head}…{tail} ({} bytes)", text.len())
}
