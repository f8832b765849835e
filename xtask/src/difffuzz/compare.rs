//! What each listener answered, reduced to what the comparison looks at,
//! and the differences between two such answers.

use super::request::{short, Req};
use portico_harness::client::Reply;

/// Response headers that differ between any two requests whatever the
/// filter does (clocks, Envoy's timing) or that follow from compared parts
/// (`content-length` follows the body, which is compared on its own).
pub const IGNORED_CLIENT_HEADERS: [&str; 4] = [
    "date",
    "server",
    "x-envoy-upstream-service-time",
    "content-length",
];

/// Request headers the upstream sees whose values are random per request:
/// compared for presence and count only.
pub const VARYING_UPSTREAM_HEADERS: [&str; 1] = ["x-request-id"];

/// Numeric response headers that may differ by this much because the two
/// listeners answer a few milliseconds apart: seconds to the next token
/// round differently across a second boundary. A tolerance of the
/// comparison, not a difference of the filters.
pub const TIMING_TOLERANCE: [(&str, i64); 1] = [("x-ratelimit-reset", 1)];

fn within_tolerance(name: &str, native: &[&str], portico: &[&str]) -> bool {
    let Some((_, slack)) = TIMING_TOLERANCE.iter().find(|(n, _)| *n == name) else {
        return false;
    };
    native.len() == portico.len()
        && native
            .iter()
            .zip(portico)
            .all(|(a, b)| match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(a), Ok(b)) => (a - b).abs() <= *slack,
                _ => false,
            })
}

/// What the upstream received.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamSaw {
    pub method: String,
    pub path: String,
    /// Sorted by name, repeats in the order received.
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
}

/// One listener's answer, as compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub status: u16,
    pub transport_error: Option<String>,
    /// Sorted by name, repeats in order, ignored ones left out.
    pub client: Vec<(String, String)>,
    /// The body of a reply that did not come from the echo upstream.
    pub local_body: Option<String>,
    pub upstream: Option<UpstreamSaw>,
}

fn sorted(mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
    for (k, _) in &mut headers {
        *k = k.to_ascii_lowercase();
    }
    // Stable: the order of repeats of one name is kept, and compared.
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    headers
}

impl Seen {
    pub fn from(result: Result<Reply, String>) -> Seen {
        let reply = match result {
            Ok(r) => r,
            Err(e) => {
                return Seen {
                    status: 0,
                    transport_error: Some(e),
                    client: Vec::new(),
                    local_body: None,
                    upstream: None,
                }
            }
        };
        let echo = reply.echo();
        let client = sorted(
            reply
                .headers
                .iter()
                .filter(|(k, _)| !IGNORED_CLIENT_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
                .cloned()
                .collect(),
        );
        let upstream = echo.map(|e| UpstreamSaw {
            method: e.method,
            path: e.path,
            headers: sorted(
                e.headers
                    .into_iter()
                    .map(|(k, v)| {
                        if VARYING_UPSTREAM_HEADERS.contains(&k.as_str()) {
                            (k, "<varies>".to_string())
                        } else {
                            (k, v)
                        }
                    })
                    .collect(),
            ),
            body_len: e.body.len(),
        });
        Seen {
            status: reply.status,
            transport_error: None,
            client,
            local_body: if upstream.is_some() {
                None
            } else {
                Some(reply.text())
            },
            upstream,
        }
    }

    /// One line: status, local body or where the request went.
    pub fn brief(&self) -> String {
        match (&self.transport_error, &self.local_body, &self.upstream) {
            (Some(e), _, _) => format!("transport error: {e}"),
            (_, Some(b), _) => format!("{} {:?}", self.status, short(b)),
            (_, _, Some(u)) => format!(
                "{}, upstream saw {} {}",
                self.status,
                u.method,
                short(&u.path)
            ),
            _ => format!("{}", self.status),
        }
    }

    /// One line per part, for a finding.
    pub fn describe(&self) -> String {
        let mut out = format!("status {}", self.status);
        if let Some(e) = &self.transport_error {
            out.push_str(&format!(" (transport error: {e})"));
        }
        out.push('\n');
        for (k, v) in &self.client {
            out.push_str(&format!("  < {k}: {}\n", short(v)));
        }
        if let Some(b) = &self.local_body {
            out.push_str(&format!("  body: {}\n", short(b)));
        }
        if let Some(u) = &self.upstream {
            out.push_str(&format!(
                "  upstream saw: {} {} (body {} bytes)\n",
                u.method,
                short(&u.path),
                u.body_len
            ));
            for (k, v) in &u.headers {
                out.push_str(&format!("    {k}: {}\n", short(v)));
            }
        }
        out
    }
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn names(headers: &[(String, String)]) -> Vec<&str> {
    let mut n: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    n.dedup();
    n
}

fn header_differences(
    what: &str,
    native: &[(String, String)],
    portico: &[(String, String)],
) -> Vec<(String, String)> {
    let mut all: Vec<&str> = names(native);
    all.extend(names(portico));
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .filter_map(|name| {
            let (n, p) = (values(native, name), values(portico, name));
            (n != p && !within_tolerance(name, &n, &p)).then(|| {
                let show = |v: &[&str]| {
                    if v.is_empty() {
                        "(absent)".to_string()
                    } else {
                        v.iter()
                            .map(|s| format!("{:?}", short(s)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                (
                    format!("{what} {name}"),
                    format!(
                        "{what} {name}: native [{}], portico [{}]",
                        show(&n),
                        show(&p)
                    ),
                )
            })
        })
        .collect()
}

/// The differences between two answers: (signature part, readable line).
/// Empty when they agree.
pub fn differences(native: &Seen, portico: &Seen) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if native.status != portico.status {
        out.push((
            format!("status {}->{}", native.status, portico.status),
            format!(
                "status: native {}, portico {}",
                native.status, portico.status
            ),
        ));
    }
    if native.transport_error.is_some() != portico.transport_error.is_some() {
        out.push((
            "transport error".into(),
            format!(
                "transport error: native {:?}, portico {:?}",
                native.transport_error, portico.transport_error
            ),
        ));
    }
    out.extend(header_differences(
        "response header",
        &native.client,
        &portico.client,
    ));
    if native.local_body != portico.local_body && native.status == portico.status {
        out.push((
            "local reply body".into(),
            format!(
                "local reply body: native {:?}, portico {:?}",
                native.local_body.as_deref().map(short),
                portico.local_body.as_deref().map(short)
            ),
        ));
    }
    match (&native.upstream, &portico.upstream) {
        (Some(n), Some(p)) => {
            if n.method != p.method {
                out.push((
                    "upstream method".into(),
                    format!("upstream method: native {}, portico {}", n.method, p.method),
                ));
            }
            if n.path != p.path {
                out.push((
                    "upstream path".into(),
                    format!(
                        "upstream path: native {:?}, portico {:?}",
                        short(&n.path),
                        short(&p.path)
                    ),
                ));
            }
            if n.body_len != p.body_len {
                out.push((
                    "upstream body length".into(),
                    format!(
                        "upstream body length: native {}, portico {}",
                        n.body_len, p.body_len
                    ),
                ));
            }
            out.extend(header_differences(
                "upstream header",
                &n.headers,
                &p.headers,
            ));
        }
        (None, None) => {}
        _ if native.status != portico.status => {}
        _ => out.push((
            "reached upstream".into(),
            format!(
                "reached the upstream: native {}, portico {}",
                native.upstream.is_some(),
                portico.upstream.is_some()
            ),
        )),
    }
    out
}

/// A request that drew a different answer.
#[derive(Clone)]
pub struct Divergence {
    pub classes: Vec<String>,
    pub case: u64,
    pub step: usize,
    pub pair: String,
    pub req: Req,
    pub lines: Vec<String>,
    pub native: Seen,
    pub portico: Seen,
}

/// The classes of a divergence, one per differing part, so that the
/// findings file holds one example per kind of difference rather than one
/// per combination. A status difference explains every other part, so it
/// is then the only class, named with the generator's full tag (shape and
/// token kind); other parts are named with the shape only (what the
/// request looked like), since a forwarded header's format does not depend
/// on which token carried it.
pub fn classes(pair: &str, req: &Req, diffs: &[(String, String)]) -> Vec<String> {
    let tag = req.note.split(':').next().unwrap_or("").trim();
    if let Some((status, _)) = diffs.iter().find(|(s, _)| s.starts_with("status ")) {
        return vec![format!("[{pair}] {tag} | {status}")];
    }
    let shape = tag.split('/').next().unwrap_or(tag);
    diffs
        .iter()
        .map(|(part, _)| format!("[{pair}] {shape} | {part}"))
        .collect()
}

/// The classes of a shrunk request. A status difference is named by what
/// is left of the request: method, path, the headers and query parameter
/// names it still needs, and the kinds of its hostile tokens when they
/// matter (`kinds_matter`: swapping them for valid twins changes the
/// answer), else "any token". So one cause found through many token kinds
/// is one class, and a cause that needs a kind names it.
pub fn refined(
    pair: &str,
    req: &Req,
    diffs: &[(String, String)],
    kinds_matter: bool,
) -> Vec<String> {
    let Some((status, _)) = diffs.iter().find(|(s, _)| s.starts_with("status ")) else {
        return diffs
            .iter()
            .map(|(part, _)| format!("[{pair}] {part}"))
            .collect();
    };
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let mut parts: Vec<String> = req
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| k != "host")
        .collect();
    parts.extend(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| format!("?{}", p.split('=').next().unwrap_or(""))),
    );
    parts.sort();
    let mut counted: Vec<String> = Vec::new();
    for p in &parts {
        let n = parts.iter().filter(|q| *q == p).count();
        let label = if n > 1 {
            format!("{p} x{n}")
        } else {
            p.clone()
        };
        if !counted.contains(&label) {
            counted.push(label);
        }
    }
    let present = req.present_tokens();
    let tokens = if present.is_empty() {
        String::new()
    } else if kinds_matter {
        let mut kinds: Vec<&str> = present.iter().map(|t| t.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        format!(" | token {}", kinds.join("+"))
    } else {
        " | any token".to_string()
    };
    // The rule a path selects says more than the path (`/PUBLIC/x` and
    // `/data` both need `main`); generators that know it set `route`.
    let path = if !req.route.is_empty() {
        req.route.to_string()
    } else {
        path.chars().take(40).collect()
    };
    vec![format!(
        "[{pair}] {status} | {} {path} | {}{tokens}",
        req.method,
        if counted.is_empty() {
            "no headers".to_string()
        } else {
            counted.join(", ")
        }
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: u16, client: &[(&str, &str)], up: Option<(&str, &[(&str, &str)])>) -> Seen {
        let own = |h: &[(&str, &str)]| {
            h.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Seen {
            status,
            transport_error: None,
            client: sorted(own(client)),
            local_body: if up.is_none() { Some("x".into()) } else { None },
            upstream: up.map(|(path, h)| UpstreamSaw {
                method: "GET".into(),
                path: path.into(),
                headers: sorted(own(h)),
                body_len: 0,
            }),
        }
    }

    #[test]
    fn equal_answers_have_no_differences_and_repeats_count() {
        let a = seen(
            200,
            &[("x", "1")],
            Some(("/p", &[("a", "1"), ("a", "2"), ("b", "0")])),
        );
        assert!(differences(&a, &a.clone()).is_empty());
        let reordered = seen(
            200,
            &[("x", "1")],
            Some(("/p", &[("b", "0"), ("a", "1"), ("a", "2")])),
        );
        assert!(
            differences(&a, &reordered).is_empty(),
            "order across names is not compared"
        );
        let swapped = seen(
            200,
            &[("x", "1")],
            Some(("/p", &[("a", "2"), ("a", "1"), ("b", "0")])),
        );
        assert_eq!(
            differences(&a, &swapped).len(),
            1,
            "order of repeats is compared"
        );
        let fewer = seen(200, &[("x", "1")], Some(("/p", &[("a", "1"), ("b", "0")])));
        assert_eq!(differences(&a, &fewer)[0].0, "upstream header a");
    }

    #[test]
    fn status_and_path_differences_are_named() {
        let a = seen(401, &[], None);
        let b = seen(200, &[], Some(("/p?access_token=t", &[])));
        let d = differences(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "status 401->200");
        let c = seen(200, &[], Some(("/p", &[])));
        assert_eq!(differences(&c, &b)[0].0, "upstream path");
        let mut req = Req::get("/");
        req.note = "query-token: two".into();
        assert_eq!(
            classes("jwt", &req, &differences(&c, &b)),
            ["[jwt] query-token | upstream path"]
        );
        req.note = "one-token/dup-sub: x".into();
        assert_eq!(
            classes("jwt", &req, &differences(&a, &b)),
            ["[jwt] one-token/dup-sub | status 401->200"]
        );
    }

    #[test]
    fn refined_classes_name_what_is_left_of_the_request() {
        use crate::difffuzz::request::Token;
        let a = seen(401, &[], None);
        let b = seen(200, &[], Some(("/p", &[])));
        let mut req = Req::get("/data?access_token=T1&x=1&x=2");
        req.route = "rule main";
        req.header("Authorization", "Bearer T2");
        req.tokens = vec![
            Token {
                text: "T1".into(),
                kind: "dup-sub",
                twin: "G".into(),
            },
            Token {
                text: "T9".into(),
                kind: "expired",
                twin: "G".into(),
            },
        ];
        let d = differences(&a, &b);
        assert_eq!(
            refined("jwt", &req, &d, true),
            ["[jwt] status 401->200 | GET rule main | ?access_token, ?x x2, authorization | token dup-sub"]
        );
        assert_eq!(
            refined("jwt", &req, &d, false),
            ["[jwt] status 401->200 | GET rule main | ?access_token, ?x x2, authorization | any token"]
        );
        assert_eq!(
            req.with_twins().unwrap().path,
            "/data?access_token=G&x=1&x=2"
        );
        let c = seen(200, &[], Some(("/q", &[])));
        assert_eq!(
            refined("jwt", &req, &differences(&c, &b), true),
            ["[jwt] upstream path"]
        );
    }
}
