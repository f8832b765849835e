//! The one list of deliberate differences from native that the comparison
//! normalises. Each entry names the filter, the phrase of that filter's
//! README ("Differences from native" section) that documents it, and why.
//! `check_readmes` refuses to run when a README no longer says so: a
//! difference is normalised here only while it is documented there.

use super::compare::Seen;
use super::request::Req;
use portico_harness::workspace_root;

pub struct Deliberate {
    pub filter: &'static str,
    pub id: &'static str,
    /// Text the filter's README must contain.
    pub readme: &'static str,
    pub reason: &'static str,
    /// Makes the two answers equal in this respect (native first).
    pub normalise: fn(&Req, &mut Seen, &mut Seen),
}

/// Headers the JWT configuration of `gen_jwt` forwards.
pub const JWT_FORWARDED: [&str; 6] = [
    "x-jwt-payload",
    "x-jwt-sub",
    "x-jwt-tenant",
    "x-jwt-roles",
    "x-jwt-num",
    "x-jwt-obj",
];

pub const LIST: &[Deliberate] = &[
    Deliberate {
        filter: "jwt",
        id: "realm-without-query",
        readme: "The realm in `www-authenticate` leaves out the query string.",
        reason: "the query may hold the refused token; Envoy echoes it in a response header",
        normalise: |_, n, p| {
            for seen in [n, p] {
                for (k, v) in &mut seen.client {
                    if k == "www-authenticate" {
                        *v = realm_without_query(v);
                    }
                }
            }
        },
    },
    Deliberate {
        filter: "jwt",
        id: "body-no-exp",
        readme: "Body for a token without `exp` under `require_expiration`",
        reason: "a more precise message, same status",
        normalise: |_, n, p| {
            same_body_if(n, p, "Jwt verification fails", "Jwt has no expiration, which is required")
        },
    },
    Deliberate {
        filter: "jwt",
        id: "body-subject",
        readme: "Body for a subject that does not match `subjects`",
        reason: "a more precise message, same status",
        normalise: |_, n, p| same_body_if(n, p, "Jwt verification fails", "Jwt subject is not allowed"),
    },
    Deliberate {
        filter: "jwt",
        id: "query-kept-as-sent-on-token-removal",
        readme: "With `forward: false`, Portico removes the token's query parameter (every value) and keeps the other parameters byte for byte, in order",
        reason: "Envoy rebuilds the query from decoded parameters sorted by name, which changes what the others say (and a decoded space makes the request fail with 400)",
        normalise: |req, n, p| {
            if !has_removable_param(&req.path) {
                return;
            }
            let Some(rebuilt) = p.upstream.as_ref().map(|up| envoy_rebuild(&up.path)) else {
                return;
            };
            // A decoded space or control byte in Envoy's rebuilt path
            // makes Envoy refuse its own request (400, empty body), where
            // Portico, which did not decode, forwards it.
            if n.status == 400
                && n.upstream.is_none()
                && n.local_body.as_deref().is_none_or(str::is_empty)
                && rebuild_is_refused(&rebuilt)
            {
                *n = p.clone();
                return;
            }
            if let (Some(nu), Some(pu)) = (&n.upstream, &mut p.upstream) {
                if nu.path != pu.path && nu.path == rebuilt {
                    pu.path = rebuilt;
                }
            }
        },
    },
    Deliberate {
        filter: "jwt",
        id: "body-strict-base64url",
        readme: "Body for a token that strict base64url refuses and Envoy's lenient decoder reads",
        reason: "strict base64url (RFC 7515 §2); same status and challenge, the body names the encoding",
        normalise: |_, n, p| {
            let applies = n.status == p.status
                && p.local_body
                    .as_deref()
                    .is_some_and(|b| b.ends_with("is an invalid Base64url encoded"))
                && n.local_body.as_deref().is_some_and(|b| {
                    b == "Jwt verification fails" || b.ends_with("is an invalid JSON")
                });
            if applies {
                p.local_body = n.local_body.clone();
            }
        },
    },
    Deliberate {
        filter: "jwt",
        id: "client-copies-of-forwarded-headers-removed",
        readme: "Client-sent copies of `forward_payload_header` and `claim_to_headers` headers are removed on every request.",
        reason: "under allow_missing_or_failed a client could otherwise forge them",
        normalise: |req, n, _| {
            if let Some(up) = &mut n.upstream {
                up.headers.retain(|(k, v)| {
                    !(JWT_FORWARDED.contains(&k.as_str())
                        && req
                            .headers
                            .iter()
                            .any(|(rk, rv)| rk.eq_ignore_ascii_case(k) && rv.trim() == v.trim()))
                });
            }
        },
    },
    Deliberate {
        filter: "headers",
        id: "untouched-query-parameters-keep-their-encoding",
        readme: "Query parameters that were not touched keep their encoding.",
        reason: "Envoy decodes untouched parameters, which changes the query (`%26` -> `&`)",
        normalise: |_, n, p| {
            for seen in [n, p] {
                if let Some(up) = &mut seen.upstream {
                    up.path = decoded_query(&up.path);
                }
            }
        },
    },
    Deliberate {
        filter: "headers",
        id: "unsafe-substituted-values-dropped",
        readme: "**Unsafe substituted values are dropped and counted**",
        reason: "a substituted value over 16 KiB (or with CR, LF, NUL) is not set at all, rather than left to the codec",
        normalise: |_, n, p| {
            dropped_long_values(&mut n.client, &p.client);
            if let (Some(nu), Some(pu)) = (&mut n.upstream, &p.upstream) {
                dropped_long_values(&mut nu.headers, &pu.headers);
            }
        },
    },
    Deliberate {
        filter: "headers",
        id: "envoy-refusals-skip-wasm-response-phases",
        readme: "**Envoy's own replies to requests it refused while reading them**",
        reason: "Envoy 1.40 does not run a wasm filter's response phase for a request whose headers never reached it (431, 400)",
        normalise: |_, n, p| {
            let refused_by_envoy = n.status == p.status
                && matches!(n.status, 400 | 431)
                && n.upstream.is_none()
                && p.upstream.is_none();
            if refused_by_envoy {
                n.client = p.client.clone();
            }
        },
    },
    Deliberate {
        filter: "ratelimit",
        id: "retry-after",
        readme: "A `retry-after` header is added on limited responses.",
        reason: "tells clients when to come back",
        normalise: |_, n, p| {
            if !n.client.iter().any(|(k, _)| k == "retry-after") {
                p.client.retain(|(k, _)| k != "retry-after");
            }
        },
    },
];

/// The headers README's limit for a substituted value.
const SUBSTITUTED_VALUE_LIMIT: usize = 16 * 1024;

/// Leaves out of `native` the values over the limit that Portico did not
/// set (it drops such a value; what the client sent stays on both sides).
fn dropped_long_values(native: &mut Vec<(String, String)>, portico: &[(String, String)]) {
    native.retain(|(k, v)| {
        v.len() <= SUBSTITUTED_VALUE_LIMIT || portico.iter().any(|(pk, pv)| pk == k && pv == v)
    });
}

fn same_body_if(native: &Seen, portico: &mut Seen, native_starts: &str, portico_is: &str) {
    let applies = native.status == portico.status
        && native
            .local_body
            .as_deref()
            .is_some_and(|b| b.starts_with(native_starts))
        && portico.local_body.as_deref() == Some(portico_is);
    if applies {
        portico.local_body = native.local_body.clone();
    }
}

/// `Bearer realm="http://h/p?q", error=…` -> `Bearer realm="http://h/p", error=…`.
fn realm_without_query(value: &str) -> String {
    let Some(start) = value.find("realm=\"") else {
        return value.to_string();
    };
    let from = start + "realm=\"".len();
    let Some(len) = value[from..].find('"') else {
        return value.to_string();
    };
    let realm = &value[from..from + len];
    let cut = realm.split('?').next().unwrap_or(realm);
    format!("{}{}{}", &value[..from], cut, &value[from + len..])
}

fn decoded_query(path: &str) -> String {
    let Some((p, q)) = path.split_once('?') else {
        return path.to_string();
    };
    let bytes = q.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    format!("{p}?{}", String::from_utf8_lossy(&out))
}

/// Query parameter names the generator's `forward: false` providers read
/// their token from.
const REMOVABLE_PARAMS: &[&str] = &["access_token"];

fn has_removable_param(path: &str) -> bool {
    let Some((_, query)) = path.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or(pair);
        REMOVABLE_PARAMS.contains(&percent_decoded(name).as_str())
    })
}

/// Portico's upstream path as Envoy rebuilds the query when it removes a
/// token: every pair decoded, sorted by name (repeats in order), `w` as
/// `w=`, empty pairs left out, nothing encoded again.
fn envoy_rebuild(path: &str) -> String {
    let Some((p, q)) = path.split_once('?') else {
        return path.to_string();
    };
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decoded(k), percent_decoded(v))
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if query.is_empty() {
        p.to_string()
    } else {
        format!("{p}?{}", query.join("&"))
    }
}

/// Bytes that Envoy does not accept in a request path.
fn rebuild_is_refused(path: &str) -> bool {
    path.bytes().any(|b| b <= b' ' || b == 0x7f)
}

fn percent_decoded(text: &str) -> String {
    decoded_query(&format!("?{text}"))
        .strip_prefix('?')
        .unwrap_or_default()
        .to_string()
}

/// Applies every entry of `filter` to a pair of answers.
pub fn normalise(filter: &str, req: &Req, native: &mut Seen, portico: &mut Seen) {
    for d in LIST.iter().filter(|d| d.filter == filter) {
        (d.normalise)(req, native, portico);
    }
}

/// Every entry's phrase must be in its filter's README.
pub fn check_readmes() -> Result<(), String> {
    let mut missing = Vec::new();
    for d in LIST {
        let path = workspace_root()
            .join("filters")
            .join(d.filter)
            .join("README.md");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        if !text.contains(d.readme) {
            missing.push(format!(
                "filters/{}/README.md no longer documents `{}` (expected the text {:?}); \
                 document it there or remove it from xtask/src/difffuzz/deliberate.rs",
                d.filter, d.id, d.readme
            ));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_loses_only_its_query() {
        assert_eq!(
            realm_without_query(
                r#"Bearer realm="http://h/p?access_token=x", error="invalid_token""#
            ),
            r#"Bearer realm="http://h/p", error="invalid_token""#
        );
        assert_eq!(
            realm_without_query("Bearer realm=\"http://h/p\""),
            "Bearer realm=\"http://h/p\""
        );
    }

    #[test]
    fn queries_are_decoded_for_comparison_only_after_the_question_mark() {
        assert_eq!(decoded_query("/a%2Fb?x=a%26b&y=%2"), "/a%2Fb?x=a&b&y=%2");
        assert_eq!(decoded_query("/a%2Fb"), "/a%2Fb");
    }

    #[test]
    fn only_long_values_portico_lacks_are_left_out() {
        let long = "o".repeat(SUBSTITUTED_VALUE_LIMIT + 1);
        let own = |h: &[(&str, &str)]| -> Vec<(String, String)> {
            h.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut native = own(&[("x-copy", "short"), ("x-copy", &long), ("x-ua", &long)]);
        dropped_long_values(&mut native, &own(&[("x-copy", "short"), ("x-ua", &long)]));
        assert_eq!(native, own(&[("x-copy", "short"), ("x-ua", &long)]));
    }

    #[test]
    fn a_removed_token_leaves_the_query_as_envoy_rebuilds_it() {
        assert!(has_removable_param("/p?x=1&access%5Ftoken=t"));
        assert!(!has_removable_param("/p?jwt=t&x=access_token"));
        assert_eq!(
            envoy_rebuild("/p?x=1&jwt=a%2Fb&&w&x=0&z=%26"),
            "/p?jwt=a/b&w=&x=1&x=0&z=&"
        );
        assert_eq!(envoy_rebuild("/p?"), "/p");
        assert!(rebuild_is_refused(&envoy_rebuild("/p?a=%20b")));
        assert!(!rebuild_is_refused(&envoy_rebuild("/p?a=%2Fb")));
    }

    #[test]
    fn every_entry_is_documented_in_its_readme() {
        check_readmes().unwrap();
    }
}
