//! Hostile requests for `jwt_authn`: tokens whose JSON has duplicate keys,
//! odd numbers, unicode escapes and deep nesting (signed with the test keys,
//! so only the JSON is odd), several tokens in several locations at once,
//! query strings with repeats and encodings, path tricks, CORS preflights
//! and client-forged forwarded headers.

use super::rng::Rng;
use super::{Case, Generator, Pair};
use portico_harness::bootstrap::wasm_filter;
use portico_harness::wasm_path;
use portico_jose::mint::{encode, Keys};
use serde_json::{json, Value};

use super::request::{Req, Token};

pub struct Jwt {
    keys: Keys,
    now: i64,
}

const ISSUER: &str = "https://issuer.example";

pub fn config(keys: &Keys) -> Value {
    let jwks = keys.jwks().to_string();
    // The same keys without `kid`, as some IdPs publish them.
    let mut bare = keys.jwks();
    for key in bare["keys"].as_array_mut().into_iter().flatten() {
        if let Some(k) = key.as_object_mut() {
            k.remove("kid");
        }
    }
    json!({
        "providers": {
            "main": {
                "issuer": ISSUER,
                "audiences": ["api"],
                "local_jwks": {"inline_string": jwks},
                "forward_payload_header": "x-jwt-payload",
                "claim_to_headers": [
                    {"header_name": "x-jwt-sub", "claim_name": "sub"},
                    {"header_name": "x-jwt-tenant", "claim_name": "org.tenant"},
                    {"header_name": "x-jwt-roles", "claim_name": "roles"},
                    {"header_name": "x-jwt-num", "claim_name": "num"},
                    {"header_name": "x-jwt-obj", "claim_name": "obj"}
                ]
            },
            "custom": {
                "issuer": "https://custom.example",
                "local_jwks": {"inline_string": jwks},
                "from_headers": [{"name": "x-token", "value_prefix": "Token "}],
                "from_params": ["jwt"],
                "from_cookies": ["session"],
                "forward": true,
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            },
            "nokid": {
                "issuer": "https://nokid.example",
                "local_jwks": {"inline_string": bare.to_string()},
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            },
            "fwd": {
                "issuer": "https://fwd.example",
                "local_jwks": {"inline_string": jwks},
                "forward": true,
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            }
        },
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/custom"}, "requires": {"provider_name": "custom"}},
            {"match": {"prefix": "/fwd"}, "requires": {"provider_name": "fwd"}},
            {"match": {"prefix": "/nokid"}, "requires": {"provider_name": "nokid"}},
            {"match": {"prefix": "/optional"}, "requires": {"requires_any": {"requirements": [{"provider_name": "main"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/lenient"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
        ],
        "bypass_cors_preflight": true
    })
}

impl Jwt {
    pub fn new() -> Result<Jwt, String> {
        Ok(Jwt {
            keys: Keys::generate(15)?,
            now: portico_harness::dev::now(),
        })
    }

    /// A token from raw header and payload JSON text, signed for `alg`.
    fn raw(&self, alg: &str, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            encode(header.as_bytes()),
            encode(payload.as_bytes())
        );
        let sig = self.keys.signature(alg, input.as_bytes());
        format!("{input}.{}", encode(&sig))
    }

    fn header(alg: &str) -> String {
        format!(
            r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#,
            Keys::kid_for(alg)
        )
    }

    /// The usual claims as JSON members (no braces), for `iss`.
    fn members(&self, rng: &mut Rng, iss: &str) -> Vec<String> {
        let roles = rng.pick(&[
            r#"["user","admin"]"#,
            r#"["user,admin"]"#,
            r#"[]"#,
            r#"[1,true]"#,
            r#""solo""#,
        ]);
        let num = rng.pick(&["1", "1.0", "1.5", "-3", "1e3", "12345678901234567890", "0"]);
        let obj = rng.pick(&[r#"{"a":1}"#, r#"{"a":{"b":[1,2]}}"#, r#"{}"#, r#""plain""#]);
        let sub = rng.pick(&[
            r#""alice""#,
            r#""\u0061lice""#,
            r#""al\"ice""#,
            r#""ünï""#,
            r#""a,b""#,
        ]);
        let mut m = vec![
            format!(r#""iss":"{iss}""#),
            format!(r#""sub":{sub}"#),
            r#""aud":"api""#.to_string(),
            format!(r#""iat":{}"#, self.now - 10),
            format!(r#""exp":{}"#, self.now + 3600),
            r#""org":{"tenant":"acme"}"#.to_string(),
        ];
        if rng.chance(70) {
            m.push(format!(r#""roles":{roles}"#));
        }
        if rng.chance(50) {
            m.push(format!(r#""num":{num}"#));
        }
        if rng.chance(40) {
            m.push(format!(r#""obj":{obj}"#));
        }
        m
    }

    /// A token of some kind for `iss`, and the kind's name.
    pub fn token(&self, rng: &mut Rng, iss: &str) -> (String, &'static str) {
        let alg = rng.pick(&["RS256", "ES256", "HS256", "EdDSA", "ES384", "PS256"]);
        let mut m = self.members(rng, iss);
        let now = self.now;
        let set = |m: &mut Vec<String>, name: &str, value: String| {
            m.retain(|x| !x.starts_with(&format!("\"{name}\":")));
            m.push(format!(r#""{name}":{value}"#));
        };
        let kinds = [
            "good",
            "good",
            "good",
            "dup-sub",
            "dup-exp",
            "dup-iss",
            "dup-alg",
            "dup-kid",
            "exp-float",
            "exp-huge",
            "exp-negative",
            "nbf-negative",
            "nbf-float",
            "nbf-future",
            "expired",
            "iss-escaped",
            "deep-nesting",
            "wrong-iss",
            "aud-list",
            "aud-case",
            "no-exp",
            "forged-sig",
            "alg-none",
            "garbage",
            "empty",
            "exp-string",
            "exp-exponent",
            "unicode-key",
        ];
        let kind = rng.pick(&kinds);
        let mut header = Self::header(alg);
        match kind {
            "dup-sub" => m.push(r#""sub":"admin""#.into()),
            "dup-exp" => m.push(format!(r#""exp":{}"#, now - 7200)),
            "dup-iss" => m.push(r#""iss":"https://evil.example""#.into()),
            "dup-alg" => {
                header = format!(
                    r#"{{"alg":"{alg}","typ":"JWT","kid":"{}","alg":"none"}}"#,
                    Keys::kid_for(alg)
                )
            }
            "dup-kid" => {
                header = format!(
                    r#"{{"alg":"{alg}","typ":"JWT","kid":"nope","kid":"{}"}}"#,
                    Keys::kid_for(alg)
                )
            }
            "exp-float" => set(&mut m, "exp", format!("{}.5", now + 3600)),
            "exp-huge" => set(
                &mut m,
                "exp",
                rng.pick(&["9223372036854775808", "18446744073709551616", "1e300"])
                    .to_string(),
            ),
            "exp-negative" => set(&mut m, "exp", "-1".into()),
            "exp-string" => set(&mut m, "exp", format!("\"{}\"", now + 3600)),
            "exp-exponent" => set(&mut m, "exp", format!("{}e0", now + 3600)),
            "nbf-negative" => set(&mut m, "nbf", "-100".into()),
            "nbf-float" => set(&mut m, "nbf", format!("{}.25", now - 100)),
            "nbf-future" => set(&mut m, "nbf", format!("{}", now + 600)),
            "expired" => set(&mut m, "exp", format!("{}", now - 600)),
            "iss-escaped" => set(
                &mut m,
                "iss",
                rng.pick(&[
                    r#""https:\/\/issuer.example""#,
                    r#""https://\u0069ssuer.example""#,
                ])
                .to_string(),
            ),
            "deep-nesting" => {
                let depth = rng.pick(&[20usize, 100, 200]);
                set(
                    &mut m,
                    "deep",
                    format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
                );
            }
            "wrong-iss" => set(&mut m, "iss", r#""https://evil.example""#.into()),
            "aud-list" => set(&mut m, "aud", r#"["x","api"]"#.into()),
            "aud-case" => set(&mut m, "aud", r#""API""#.into()),
            "no-exp" => m.retain(|x| !x.starts_with("\"exp\":")),
            "unicode-key" => m.push(r#""\u0073ub":"mallory""#.into()),
            _ => {}
        }
        let payload = format!("{{{}}}", m.join(","));
        let token = match kind {
            "forged-sig" => {
                let t = self.raw(alg, &header, &payload);
                let (input, _) = t.rsplit_once('.').unwrap_or((&t, ""));
                format!("{input}.{}", encode(&[7u8; 64]))
            }
            "alg-none" => format!(
                "{}.{}.",
                encode(br#"{"alg":"none","typ":"JWT"}"#),
                encode(payload.as_bytes())
            ),
            "garbage" => rng
                .pick(&[
                    "abc",
                    "a.b.c",
                    "..",
                    "e30.e30.e30",
                    "x".repeat(3000).as_str(),
                ])
                .to_string(),
            "empty" => String::new(),
            _ => self.raw(alg, &header, &payload),
        };
        (token, kind)
    }
}

const PATHS: [&str; 13] = [
    "/data",
    "/data",
    "/public/x",
    "/custom/x",
    "/fwd/x",
    "/optional",
    "/lenient",
    "/PUBLIC/x",
    "/public/../data",
    "//public/x",
    "/public%2F..%2Fdata",
    "/optional/",
    "/nokid/x",
];

/// The rule of `config()` a path selects (prefix match, case-sensitive, no normalisation).
fn route(path: &str) -> &'static str {
    if path.starts_with("/public") {
        "rule public"
    } else if path.starts_with("/custom") {
        "rule custom"
    } else if path.starts_with("/fwd") {
        "rule fwd"
    } else if path.starts_with("/nokid") {
        "rule nokid"
    } else if path.starts_with("/optional") {
        "rule optional"
    } else if path.starts_with("/lenient") {
        "rule lenient"
    } else {
        "rule main"
    }
}

fn path_for(rng: &mut Rng, issuer_for: &mut &'static str) -> String {
    let p = rng.pick(&PATHS);
    *issuer_for = if p.starts_with("/custom") {
        "https://custom.example"
    } else if p.starts_with("/fwd") {
        "https://fwd.example"
    } else if p.starts_with("/nokid") {
        "https://nokid.example"
    } else {
        ISSUER
    };
    p.to_string()
}

impl Generator for Jwt {
    fn pairs(&self) -> Result<Vec<Pair>, String> {
        let config = config(&self.keys);
        let mut native = config.clone();
        native["@type"] = json!(
            "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
        );
        let wasm = wasm_path("jwt")?;
        Ok(vec![Pair {
            name: "jwt".into(),
            native: vec![json!({"name": "envoy.filters.http.jwt_authn", "typed_config": native})],
            portico: vec![wasm_filter("portico.jwt", &wasm, &config.to_string())],
            hcm: None,
        }])
    }

    fn case(&self, rng: &mut Rng, _index: u64) -> Case {
        let mut issuer: &'static str = ISSUER;
        let path = path_for(rng, &mut issuer);
        let mut req = Req::get(path.clone());
        req.route = route(&path);
        let shape = rng.pick(&[
            "one-token",
            "one-token",
            "several-tokens",
            "query-token",
            "cors",
            "forged-headers",
            "header-noise",
        ]);
        let mut kinds = Vec::new();
        let req_tokens = std::cell::RefCell::new(Vec::new());
        let tok = |rng: &mut Rng, kinds: &mut Vec<&'static str>| {
            let (t, k) = self.token(rng, issuer);
            kinds.push(k);
            if k != "good" && !t.is_empty() {
                req_tokens.borrow_mut().push(Token {
                    text: t.clone(),
                    kind: k,
                    twin: self.twin(issuer),
                });
            }
            t
        };
        let mut query: Vec<String> = Vec::new();
        let put =
            |rng: &mut Rng, req: &mut Req, query: &mut Vec<String>, t: String| match rng.below(6) {
                0 | 1 => req.header(
                    rng.pick(&["authorization", "Authorization"]),
                    format!(
                        "{}{t}",
                        rng.pick(&["Bearer ", "Bearer ", "bearer ", "Bearer  ", ""])
                    ),
                ),
                2 => query.push(format!(
                    "{}={t}",
                    rng.pick(&["access_token", "jwt", "access%5Ftoken", "ACCESS_TOKEN"])
                )),
                3 => req.header(
                    "x-token",
                    format!("{}{t}", rng.pick(&["Token ", "token ", "Token  "])),
                ),
                4 => req.header(
                    "cookie",
                    format!("{}session={t}", rng.pick(&["", "a=1; ", "session=; "])),
                ),
                _ => req.header("authorization", format!("Bearer {t}")),
            };
        match shape {
            "one-token" => {
                let t = tok(rng, &mut kinds);
                put(rng, &mut req, &mut query, t);
            }
            "several-tokens" => {
                for _ in 0..2 + rng.below(2) {
                    let t = if rng.chance(50) {
                        self.token_good(rng, issuer, &mut kinds)
                    } else {
                        tok(rng, &mut kinds)
                    };
                    put(rng, &mut req, &mut query, t);
                }
                if rng.chance(30) {
                    req.header(
                        "authorization",
                        rng.pick(&["Basic dXNlcjpwYXNz", "Bearer", "Digest x"]),
                    );
                }
            }
            "query-token" => {
                query.push("x=1".into());
                let t = self.token_good(rng, issuer, &mut kinds);
                query.push(format!("{}={t}", rng.pick(&["access_token", "jwt"])));
                for _ in 0..rng.below(3) {
                    query.push(
                        rng.pick(&[
                            "y=2",
                            "access_token=",
                            "access_token",
                            "a=%20b",
                            "x=1",
                            "z=%26",
                            "access_token=forged.x.y",
                        ])
                        .to_string(),
                    );
                }
                if rng.chance(40) {
                    let t = tok(rng, &mut kinds);
                    query.push(format!("access_token={t}"));
                }
                if rng.chance(30) {
                    query.push("access_token".into());
                }
            }
            "cors" => {
                req.method = "OPTIONS".into();
                match rng.below(3) {
                    0 => {}
                    1 => req.header("origin", ""),
                    _ => req.header("origin", "https://app.example"),
                }
                match rng.below(3) {
                    0 => {}
                    1 => req.header("access-control-request-method", ""),
                    _ => req.header(
                        "access-control-request-method",
                        rng.pick(&["GET", "POST", "get"]),
                    ),
                }
                if rng.chance(30) {
                    let t = tok(rng, &mut kinds);
                    put(rng, &mut req, &mut query, t);
                }
            }
            "forged-headers" => {
                req.header(
                    rng.pick(&["x-jwt-sub", "X-Jwt-Sub", "x-jwt-payload", "x-jwt-roles"]),
                    "admin",
                );
                if rng.chance(60) {
                    let t = tok(rng, &mut kinds);
                    put(rng, &mut req, &mut query, t);
                }
            }
            _ => {
                let t = self.token_good(rng, issuer, &mut kinds);
                put(rng, &mut req, &mut query, t);
                match rng.below(4) {
                    0 => req.header("x-big", "b".repeat(8000 + rng.below(4000))),
                    1 => req.header("x-empty", ""),
                    2 => {
                        req.header("x-rep", "1");
                        req.header("x-rep", "2");
                    }
                    _ => req.header("cookie", "a=1"),
                }
            }
        }
        if rng.chance(10) {
            req.method = "POST".into();
            req.body = vec![b'p'; rng.below(2000)];
        }
        if !query.is_empty() {
            req.path = format!("{path}?{}", query.join("&"));
        }
        req.note = format!(
            "{shape}/{}: tokens {}",
            kinds.first().copied().unwrap_or("none"),
            kinds.join(",")
        );
        req.tokens = req_tokens.into_inner();
        Case {
            pair: 0,
            steps: vec![req],
        }
    }
}

impl Jwt {
    /// A valid token for `iss` with plain claims: what a hostile token is
    /// swapped for to learn whether its oddity matters to a divergence.
    fn twin(&self, iss: &str) -> String {
        let payload = format!(
            r#"{{"iss":"{iss}","sub":"alice","aud":"api","iat":{},"exp":{},"org":{{"tenant":"acme"}}}}"#,
            self.now - 10,
            self.now + 3600
        );
        self.raw("HS256", &Self::header("HS256"), &payload)
    }

    fn token_good(&self, rng: &mut Rng, iss: &str, kinds: &mut Vec<&'static str>) -> String {
        let m = self.members(rng, iss);
        kinds.push("good");
        let alg = rng.pick(&["RS256", "ES256", "HS256", "EdDSA"]);
        self.raw(alg, &Self::header(alg), &format!("{{{}}}", m.join(",")))
    }
}
