//! `cargo xtask difffuzz [--minutes N | --seconds N | --cases N] [--filter jwt|headers|ratelimit]
//! [--seed S] [--case I] [--findings DIR]`: differential fuzzing against
//! Envoy's native filters. One Envoy; per filter, listener pairs with the
//! same configuration, native on one, Portico's wasm on the other; seeded
//! hostile requests sent to both; every difference in status, response
//! headers, local reply body or what the echo upstream received is a
//! divergence, unless `deliberate.rs` documents it. See docs/difffuzz.md.

mod compare;
mod deliberate;
mod gen_headers;
mod gen_jwt;
mod gen_ratelimit;
mod report;
mod request;
mod rng;
mod shrink;

use compare::{classes, differences, refined, Divergence, Seen};
use portico_harness::bootstrap::Bootstrap;
use portico_harness::{Envoy, Upstream};
use request::Req;
use rng::Rng;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A native listener and a Portico listener with the same configuration.
pub struct Pair {
    pub name: String,
    pub native: Vec<Value>,
    pub portico: Vec<Value>,
    /// Fields merged into both listeners' HttpConnectionManager.
    pub hcm: Option<Value>,
}

/// One generated case: requests sent in order to both listeners of a pair
/// (several for the rate limiter, whose answers depend on earlier ones).
pub struct Case {
    pub pair: usize,
    pub steps: Vec<Req>,
}

pub trait Generator {
    fn pairs(&self) -> Result<Vec<Pair>, String>;
    fn case(&self, rng: &mut Rng, index: u64) -> Case;
    /// Cases one Envoy serves before a fresh one takes over (state that
    /// outlives a case, such as rate-limit buckets, starts over).
    fn cases_per_envoy(&self) -> u64 {
        u64::MAX
    }
}

pub const FILTERS: [&str; 3] = ["jwt", "headers", "ratelimit"];

pub struct Options {
    pub filters: Vec<String>,
    /// Wall time per filter.
    pub budget: Duration,
    /// At most this many cases per filter.
    pub max_cases: u64,
    pub seed: u64,
    /// Only this case (replay of a finding).
    pub only_case: Option<u64>,
    /// Where `<filter>.md` findings are appended, de-duplicated by class.
    pub findings: Option<PathBuf>,
    /// Print every request's two statuses, agreeing or not.
    pub verbose: bool,
}

pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        filters: Vec::new(),
        budget: Duration::from_secs(120),
        max_cases: u64::MAX,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1),
        only_case: None,
        findings: std::env::var_os("PORTICO_DIFFFUZZ_FINDINGS").map(PathBuf::from),
        verbose: false,
    };
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>| -> Result<u64, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("difffuzz: {flag} takes a whole number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => o.budget = Duration::from_secs(60 * number(a, it.next())?),
            "--seconds" => o.budget = Duration::from_secs(number(a, it.next())?),
            "--cases" => o.max_cases = number(a, it.next())?,
            "--seed" => o.seed = number(a, it.next())?,
            "--case" => o.only_case = Some(number(a, it.next())?),
            "--verbose" => o.verbose = true,
            "--findings" => {
                o.findings = Some(PathBuf::from(
                    it.next().ok_or("difffuzz: --findings takes a directory")?,
                ))
            }
            "--filter" => {
                let f = it
                    .next()
                    .ok_or("difffuzz: --filter takes jwt, headers or ratelimit")?;
                for f in f.split(',') {
                    if !FILTERS.contains(&f) {
                        return Err(format!(
                            "difffuzz: unknown filter {f:?}; known: {FILTERS:?}"
                        ));
                    }
                    o.filters.push(f.to_string());
                }
            }
            other => return Err(format!("difffuzz: unknown argument {other:?}")),
        }
    }
    if o.filters.is_empty() {
        o.filters = FILTERS.iter().map(|s| s.to_string()).collect();
    }
    Ok(o)
}

fn generator(filter: &str) -> Result<Box<dyn Generator>, String> {
    Ok(match filter {
        "jwt" => Box::new(gen_jwt::Jwt::new()?),
        "headers" => Box::new(gen_headers::Headers),
        _ => Box::new(gen_ratelimit::RateLimit),
    })
}

/// Merges `patch` into every HttpConnectionManager of the listeners named.
fn patch_hcm(config: &str, listeners: &[String], patch: &Value) -> Result<String, String> {
    let mut doc: Value = serde_json::from_str(config).map_err(|e| e.to_string())?;
    for l in doc["static_resources"]["listeners"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let name = l["name"].as_str().unwrap_or_default().to_string();
        if !listeners.contains(&name) {
            continue;
        }
        let hcm = &mut l["filter_chains"][0]["filters"][0]["typed_config"];
        if let (Some(hcm), Some(patch)) = (hcm.as_object_mut(), patch.as_object()) {
            hcm.extend(patch.clone());
        }
    }
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}

/// The totals of one filter's run.
pub struct Totals {
    pub filter: String,
    pub requests: u64,
    pub divergences: u64,
    pub classes: usize,
}

fn run_filter(filter: &str, o: &Options) -> Result<Totals, String> {
    let gen = generator(filter)?;
    let pairs = gen.pairs()?;
    let upstream = Upstream::start();
    let mut boot = Bootstrap::new(upstream.port());
    for p in &pairs {
        boot = boot
            .listener(&format!("{}-native", p.name), p.native.clone())
            .listener(&format!("{}-portico", p.name), p.portico.clone());
    }
    let mut config = boot.render();
    for p in &pairs {
        if let Some(patch) = &p.hcm {
            let names = [format!("{}-native", p.name), format!("{}-portico", p.name)];
            config = patch_hcm(&config, &names, patch)?;
        }
    }
    // One worker: the rate limiter's answers then depend only on the order of requests.
    let mut envoy = Envoy::start(&config, 1);
    let per_envoy = gen.cases_per_envoy().max(1);
    let started = Instant::now();
    let mut report = report::Report::new(filter, o.seed);
    let mut requests = 0u64;
    let cases: Box<dyn Iterator<Item = u64>> = match o.only_case {
        Some(i) => Box::new(std::iter::once(i)),
        None => Box::new(0..o.max_cases),
    };
    for index in cases {
        if o.only_case.is_none() && started.elapsed() >= o.budget {
            break;
        }
        if index > 0 && index % per_envoy == 0 && o.only_case.is_none() {
            drop(envoy);
            envoy = Envoy::start(&config, 1);
        }
        let mut rng = Rng::for_case(o.seed, index);
        let case = gen.case(&mut rng, index);
        let Some(pair) = pairs.get(case.pair) else {
            continue;
        };
        let native_at = format!("127.0.0.1:{}", envoy.port(&format!("{}-native", pair.name)));
        let portico_at = format!(
            "127.0.0.1:{}",
            envoy.port(&format!("{}-portico", pair.name))
        );
        let compare = |req: &Req| {
            let mut native = Seen::from(req.send(&native_at));
            let mut portico = Seen::from(req.send(&portico_at));
            deliberate::normalise(filter, req, &mut native, &mut portico);
            let diffs = differences(&native, &portico);
            (native, portico, diffs)
        };
        for (step, req) in case.steps.iter().enumerate() {
            let (native, portico, diffs) = compare(req);
            requests += 1;
            if o.verbose {
                println!(
                    "difffuzz: case {index} step {step}: {} {} -> native {}, portico {} ({})",
                    req.method,
                    request::short(&req.path),
                    native.status,
                    portico.status,
                    req.note
                );
            }
            if diffs.is_empty() {
                continue;
            }
            let raw = classes(&pair.name, req, &diffs);
            let (mut req, mut native, mut portico, mut diffs) =
                (req.clone(), native, portico, diffs);
            let known: Option<Vec<String>> = if raw.iter().all(|c| report.refined_of(c).is_some()) {
                Some(
                    raw.iter()
                        .flat_map(|c| report.refined_of(c).cloned().unwrap_or_default())
                        .collect(),
                )
            } else {
                None
            };
            let found = match known {
                Some(mut k) => {
                    k.sort();
                    k.dedup();
                    k
                }
                // Only one-request cases shrink: the rate limiter's depend on earlier requests.
                None if case.steps.len() == 1 => {
                    let (r, n, p, d, tries) = shrink::shrink(&req, &raw, |r| {
                        let (n, p, d) = compare(r);
                        let c = classes(&pair.name, r, &d);
                        (n, p, d, c)
                    });
                    requests += tries;
                    if let Some(mut r) = r {
                        r.note.push_str(" (shrunk)");
                        (req, native, portico, diffs) = (r, n, p, d);
                    }
                    // Do the hostile tokens matter? Swap in valid twins and see.
                    let kinds_matter = match req.with_twins() {
                        Some(twins) => {
                            requests += 1;
                            let (_, _, d) = compare(&twins);
                            classes(&pair.name, &twins, &d) != raw
                        }
                        None => false,
                    };
                    let found = refined(&pair.name, &req, &diffs, kinds_matter);
                    report.remember(&raw, &found);
                    found
                }
                None => refined(&pair.name, &req, &diffs, false),
            };
            let d = Divergence {
                classes: found,
                case: index,
                step,
                pair: pair.name.clone(),
                req,
                lines: diffs.into_iter().map(|(_, l)| l).collect(),
                native,
                portico,
            };
            report.add(d, &case.steps[..step]);
        }
    }
    let elapsed = started.elapsed();
    drop(envoy);
    report.write(o.findings.as_deref(), requests, elapsed)?;
    Ok(Totals {
        filter: filter.to_string(),
        requests,
        divergences: report.total(),
        classes: report.classes(),
    })
}

/// Runs the filters of `o`; `Ok(false)` when undocumented divergences were
/// found. The last lines printed are the totals, one per filter.
pub fn run(o: &Options) -> Result<bool, String> {
    deliberate::check_readmes()?;
    eprintln!(
        "difffuzz: seed {} (replay a case: cargo xtask difffuzz --filter F --seed {} --case I)",
        o.seed, o.seed
    );
    for d in deliberate::LIST
        .iter()
        .filter(|d| o.filters.iter().any(|f| f == d.filter))
    {
        eprintln!(
            "difffuzz: normalised, deliberate ({}): {}: {}",
            d.filter, d.id, d.reason
        );
    }
    let mut totals = Vec::new();
    for f in &o.filters {
        totals.push(run_filter(f, o)?);
    }
    let clean = totals.iter().all(|t| t.divergences == 0);
    if !clean {
        println!("difffuzz: undocumented divergences from native; details in target/difffuzz/");
    }
    for t in &totals {
        println!(
            "difffuzz: {} {} requests, {} divergences ({} classes)",
            t.filter, t.requests, t.divergences, t.classes
        );
    }
    Ok(clean)
}

/// The run of `cargo xtask test`: every filter, 14 s each (under 60 s with
/// Envoy's starts), a fixed seed so that a failure replays.
pub fn short_run() -> Result<(), String> {
    let o = Options {
        filters: FILTERS.iter().map(|s| s.to_string()).collect(),
        budget: Duration::from_secs(14),
        max_cases: u64::MAX,
        seed: 15,
        only_case: None,
        findings: std::env::var_os("PORTICO_DIFFFUZZ_FINDINGS").map(PathBuf::from),
        verbose: false,
    };
    if run(&o)? {
        Ok(())
    } else {
        Err("difffuzz: undocumented divergences from native (see above)".into())
    }
}
