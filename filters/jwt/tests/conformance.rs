//! Public JOSE/JWT vectors (`../shared/corpora/`, beside the checkout) run
//! through the filter's verifier (`portico-jose`) and the filter itself. Each corpus must agree case for case,
//! except the deviations listed here and explained in `filters/jwt/README.md`.
//! With `CI` set, a missing corpus folder is a failure; otherwise the test
//! says loudly that it did not run.

#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use portico::testing::TestHost;
use portico_jose::jwks::{self, Limits};
use portico_jose::verify::Engine;
use portico_jose::{token, verify};
use portico_jwt::JwtAuthn;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn corpora() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "conformance corpora missing at {}: CI must run them",
            dir.display()
        );
    }
    eprintln!(
        "NOTE: {} not found; the conformance test did NOT run",
        dir.display()
    );
    None
}

fn load(dir: &std::path::Path, file: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

const LIMITS: Limits = Limits {
    max_bytes: 1 << 20,
    max_keys: 64,
};

/// A public JWKS from a JWK or JWKS that may hold private members.
fn public_jwks(key: &Value) -> String {
    const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];
    let strip = |k: &Value| {
        let mut k = k.clone();
        if let Some(obj) = k.as_object_mut() {
            for m in PRIVATE {
                obj.remove(*m);
            }
        }
        k
    };
    let keys: Vec<Value> = match key.get("keys").and_then(Value::as_array) {
        Some(list) => list.iter().map(strip).collect(),
        None => vec![strip(key)],
    };
    json!({ "keys": keys }).to_string()
}

/// The verifier's verdict on a compact JWS (anything else is refused).
fn verifies(jws: &Value, key: &Value) -> bool {
    let Some(text) = jws.as_str() else {
        return false;
    };
    let Ok(keys) = jwks::parse(&public_jwks(key), LIMITS) else {
        return false;
    };
    let Ok(token) = token::parse_jws(text) else {
        return false;
    };
    // Both verifiers, the .wasm's and the .so's, on every vector.
    let portable = verify::verify_with(&token, &keys, Engine::Portable).is_ok();
    let native = verify::verify_with(&token, &keys, Engine::Native).is_ok();
    COMPARED.fetch_add(1, Ordering::Relaxed);
    if portable != native {
        let head: String = text.chars().take(48).collect();
        ENGINES_DIFFER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(format!(
                "{} ({head}…): portable {portable}, native {native}",
                token.alg
            ));
    }
    portable
}

static COMPARED: AtomicUsize = AtomicUsize::new(0);
static ENGINES_DIFFER: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Tally {
    corpus: &'static str,
    cases: usize,
    deviations: Vec<String>,
}

impl Tally {
    fn record(&mut self, id: String, expected: bool, got: bool) {
        self.cases += 1;
        if expected != got {
            self.deviations.push(format!(
                "{id} (expected {}, got {})",
                verdict(expected),
                verdict(got)
            ));
        }
    }
}

fn verdict(valid: bool) -> &'static str {
    if valid {
        "valid"
    } else {
        "invalid"
    }
}

fn wycheproof(dir: &std::path::Path, file: &str, corpus: &'static str) -> Tally {
    let doc = load(dir, file);
    let mut tally = Tally {
        corpus,
        cases: 0,
        deviations: Vec::new(),
    };
    for group in doc["testGroups"].as_array().expect("groups") {
        let key = group.get("public").unwrap_or(&group["private"]);
        for t in group["tests"].as_array().expect("tests") {
            let id = format!("tc{} {}", t["tcId"], t["comment"].as_str().unwrap_or(""));
            tally.record(id, t["result"] == "valid", verifies(&t["jws"], key));
        }
    }
    tally
}

fn cookbook(dir: &std::path::Path) -> Tally {
    let mut tally = Tally {
        corpus: "RFC 7520 cookbook (jose_cookbook)",
        cases: 0,
        deviations: Vec::new(),
    };
    let mut files: Vec<_> = std::fs::read_dir(dir.join("jose_cookbook/jws"))
        .expect("cookbook")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files.push(dir.join("jose_cookbook/curve25519/jws.json"));
    for path in files {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let examples: Vec<Value> = match doc.as_array() {
            Some(list) => list.clone(),
            None => vec![doc],
        };
        for (i, ex) in examples.iter().enumerate() {
            let name = format!(
                "{} #{i}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
            );
            let key = &ex["input"]["key"];
            let compact = &ex["output"]["compact"];
            // Examples that exist only in the JSON serialization are refused
            // by a compact-only verifier; they are counted as such.
            tally.record(name, !compact.is_null(), verifies(compact, key));
        }
    }
    tally
}

fn rfc7515(dir: &std::path::Path) -> Tally {
    let doc = load(dir, "rfc7515/rfc7515_appendix_a.json");
    let mut tally = Tally {
        corpus: "RFC 7515 appendix A",
        cases: 0,
        deviations: Vec::new(),
    };
    for v in doc["vectors"].as_array().expect("vectors") {
        let key = v
            .get("jwk")
            .cloned()
            .unwrap_or(json!({"kty": "oct", "k": "AA"}));
        tally.record(
            v["name"].as_str().unwrap_or("?").to_string(),
            v["signature_valid"] == true,
            verifies(&v["jws"], &key),
        );
    }
    tally
}

/// jwt_verify_lib's vectors name their keys (`PublicKeyRSA`, ...) but the
/// corpora do not include those keys, so none can be run; counted, not faked.
fn jwt_verify_lib(dir: &std::path::Path) -> usize {
    let vectors = load(dir, "jwt_verify_lib/vectors.json");
    vectors.as_array().map_or(0, Vec::len)
}

fn envoy_jwt_authn(dir: &std::path::Path) -> Tally {
    let doc = load(dir, "envoy_jwt_authn/envoy_jwt_authn_vectors.json");
    let example = &doc["provider_config_ExampleConfig"];
    let config = json!({
        "providers": {"example_provider": {
            "issuer": example["issuer"],
            "audiences": example["audiences"],
            "local_jwks": {"inline_string": doc["jwks"]["PublicKey"].to_string()},
            "forward_payload_header": example["forward_payload_header"]
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "example_provider"}}]
    });
    let host = TestHost::new();
    let vm = host
        .vm::<JwtAuthn>(&config.to_string())
        .expect("ExampleConfig");
    let mut tally = Tally {
        corpus: "Envoy jwt_authn (ExampleConfig)",
        cases: 0,
        deviations: Vec::new(),
    };
    let tokens: std::collections::HashMap<String, String> = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["jwt"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut check = |name: String, path: &str, auth: Option<String>, expected: u64| {
        let mut req = vm.get(path);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let got = u64::from(req.send().status());
        tally.cases += 1;
        if got != expected {
            tally
                .deviations
                .push(format!("{name}: expected HTTP {expected}, got {got}"));
        }
    };
    for c in doc["cases"].as_array().expect("cases") {
        let jwt = c["jwt"].as_str().unwrap_or("");
        check(
            c["name"].as_str().unwrap_or("?").to_string(),
            "/",
            Some(format!("Bearer {jwt}")),
            c["expected_http"].as_u64().unwrap_or(0),
        );
    }
    for (i, c) in doc["extra_cases_from_authenticator_test"]
        .as_array()
        .expect("extra")
        .iter()
        .enumerate()
    {
        let Some(expected) = c["expected_http"].as_u64() else {
            continue;
        };
        // Token names in these cases refer to the tokens above.
        let expand = |s: &str| {
            tokens.iter().fold(s.to_string(), |acc, (name, jwt)| {
                acc.replace(name.as_str(), jwt)
            })
        };
        let auth = c["authorization"].as_str().map(expand);
        let path = c["path"].as_str().map_or("/".to_string(), expand);
        check(
            format!("extra #{i} ({})", c["expected_status"]),
            &path,
            auth,
            expected,
        );
    }
    tally
}

#[test]
fn public_vectors_agree_except_documented_deviations() {
    let Some(dir) = corpora() else { return };
    let skipped = jwt_verify_lib(&dir);
    let tallies = [
        wycheproof(
            &dir,
            "wycheproof/json_web_signature_test.json",
            "Wycheproof JWS",
        ),
        wycheproof(
            &dir,
            "wycheproof/json_web_key_test.json",
            "Wycheproof JWK sets",
        ),
        cookbook(&dir),
        rfc7515(&dir),
        envoy_jwt_authn(&dir),
    ];
    println!("| corpus | cases | agreed | deviations |");
    println!("|---|---:|---:|---|");
    for t in &tallies {
        println!(
            "| {} | {} | {} | {} |",
            t.corpus,
            t.cases,
            t.cases - t.deviations.len(),
            t.deviations.join("; ")
        );
    }
    println!("(jwt_verify_lib: {skipped} vectors not run: the corpora do not include their keys)");
    let compared = COMPARED.load(Ordering::Relaxed);
    let differ = ENGINES_DIFFER.lock().unwrap().clone();
    println!(
        "portable and ring verifiers compared on {compared} vectors, {} disagreements",
        differ.len()
    );
    assert!(
        compared > 100,
        "only {compared} vectors reached both verifiers"
    );
    assert!(
        differ.is_empty(),
        "the verifiers disagree:\n{}",
        differ.join("\n")
    );
    let deviations: Vec<String> = tallies
        .iter()
        .flat_map(|t| {
            t.deviations
                .iter()
                .map(move |d| format!("{}: {d}", t.corpus))
        })
        .collect();
    let documented = documented_deviations();
    let undocumented: Vec<&String> = deviations
        .iter()
        .filter(|d| !documented.iter().any(|prefix| d.starts_with(prefix)))
        .collect();
    assert!(
        undocumented.is_empty(),
        "deviations not in README:\n{}",
        undocumented
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        deviations.len(),
        documented.len(),
        "a documented deviation no longer occurs:\n{}",
        deviations.join("\n")
    );
}

/// Each with its reason in `filters/jwt/README.md` ("Conformance").
fn documented_deviations() -> Vec<&'static str> {
    vec![
        // The JWK's `alg` differs from the token's: not used, as in Envoy.
        "Wycheproof JWS: tc346 Figure20",
        "Wycheproof JWS: tc347 Figure27",
        "Wycheproof JWS: tc350 Figure20",
        "Wycheproof JWS: tc351 Figure27",
        // Empty sections are skipped, as Envoy splits tokens (proven in
        // Envoy by the hostile side-by-side test): `h..p.s` reads as
        // `h.p.s`, and an empty payload leaves two sections.
        "Wycheproof JWS: tc14 rejectsExtraEmptyComponent",
        "Wycheproof JWS: tc259 emptyPayload",
        "Wycheproof JWS: tc264 emptyPayload",
        "Wycheproof JWS: tc268 emptyPayload",
        "Wycheproof JWS: tc272 emptyPayload",
        "Wycheproof JWS: tc320 emptyPayload",
        "Wycheproof JWS: tc325 emptyPayload",
        // Decoder-dependent base64 cases: strict base64url decides.
        "Wycheproof JWS: tc367 invalidBase64Padding",
        "Wycheproof JWS: tc370 invalidBase64PaddingInPayload",
        "Wycheproof JWS: tc372 InvalidCharacterInsertedInHeader",
        "Wycheproof JWS: tc373 InvalidCharacterInsertedInPayload",
        // Key sets Envoy accepts: mixed symmetric/asymmetric, repeated kid.
        "Wycheproof JWK sets: tc1 rejectsValid",
        "Wycheproof JWK sets: tc4 rejectsDuplicateKid",
        // A valid signature by a ROCA-weak key: no fingerprinting, as in Envoy.
        "Wycheproof JWK sets: tc7 rejectsKeyWithRocaVulnerability",
        // A detached payload is not a JWT.
        "RFC 7520 cookbook (jose_cookbook): 4_5.signature_with_detached_content.json #0",
    ]
}
