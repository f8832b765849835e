//! `cargo xtask host-conformance`: every scenario of [`scenarios`] runs on
//! the SDK's test host and in a real Envoy with the built script filter; any
//! difference in what the client, the upstream, the callout target, the
//! metrics or the filter's own reports saw is a disagreement.
//!
//! A host is one [`Host`] adapter; another backend (dynamic modules) is one
//! more adapter.
//!
//! Usage: `portico-conformance [--wasm PATH] [--only SUBSTRING] [--test-host-only]`.

// A conformance run is a test: a panic is a failed run, never a failed request.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

mod envoy_host;
mod scenario;
mod scenarios;
mod test_host;
mod upstream;

use scenario::{Observed, Scenario};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

/// One place scenarios run.
pub trait Host {
    fn name(&self) -> &'static str;
    /// Runs one scenario (scenarios run one after the other, in order).
    fn run(&mut self, s: &Scenario) -> Observed;
    /// The filter's log lines, by scenario, once every scenario ran.
    fn logs(&mut self) -> HashMap<String, Vec<String>>;
}

/// Envoy's level names as the test host's.
pub fn level_name(envoy: &str) -> &str {
    envoy
}

fn run_all(host: &mut dyn Host, scenarios: &[Scenario]) -> HashMap<String, Observed> {
    let mut out: HashMap<String, Observed> = scenarios
        .iter()
        .map(|s| (s.name.clone(), host.run(s)))
        .collect();
    let mut logs = host.logs();
    for s in scenarios {
        let lines = out.entry(s.name.clone()).or_default();
        lines.extend(scenario::order_logs(
            s,
            logs.remove(&s.name).unwrap_or_default(),
        ));
    }
    out
}

fn diff(a: &[String], b: &[String]) -> Vec<String> {
    // A plain LCS diff: scenarios are short.
    let (n, m) = (a.len(), b.len());
    let mut l = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if a[i] == b[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("    {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || l[i][j + 1] >= l[i + 1][j]) {
            out.push(format!("  + {}", b[j]));
            j += 1;
        } else {
            out.push(format!("  - {}", a[i]));
            i += 1;
        }
    }
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let started = Instant::now();
    let mut all = scenarios::all();
    if let Some(only) = arg("--only") {
        all.retain(|s| s.name.contains(&only));
    }
    let mut names = std::collections::HashSet::new();
    for s in &all {
        assert!(
            names.insert(s.name.clone()),
            "duplicate scenario {}",
            s.name
        );
    }
    let wasm = arg("--wasm")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let root = portico_harness::workspace_root();
            portico_harness::target_dir(&root)
                .unwrap_or_else(|_| root.join("target"))
                .join("wasm32-wasip1/release/portico_script.wasm")
        });
    let mut test_host = test_host::TestHostAdapter::default();
    let expected = run_all(&mut test_host, &all);
    if args.iter().any(|a| a == "--test-host-only") {
        for s in &all {
            println!("== {}", s.name);
            for line in &expected[&s.name] {
                println!("    {line}");
            }
        }
        return ExitCode::SUCCESS;
    }
    if !wasm.is_file() {
        eprintln!(
            "{} is missing: build it with `cargo build --release --target wasm32-wasip1 -p portico-script-filter` (cargo xtask host-conformance does)",
            wasm.display()
        );
        return ExitCode::FAILURE;
    }
    let mut envoy = envoy_host::EnvoyHost::start(&wasm, &all);
    let actual = run_all(&mut envoy, &all);
    let mut disagreements = 0;
    for s in &all {
        let a = &expected[&s.name];
        let b = &actual[&s.name];
        if a == b {
            if args.iter().any(|x| x == "--verbose") {
                println!("ok {}", s.name);
            }
            continue;
        }
        disagreements += 1;
        println!(
            "DISAGREEMENT {} (- {}, + {}):",
            s.name,
            test_host.name(),
            envoy.name()
        );
        for line in diff(a, b) {
            println!("{line}");
        }
    }
    eprintln!(
        "host conformance: ran in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "host conformance: {} scenarios, {disagreements} disagreements",
        all.len()
    );
    if disagreements == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
