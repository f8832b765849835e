//! `cargo xtask build | test | demo`: the project's tasks, in Rust so they run
//! wherever cargo does.

use portico_harness::{ensure_envoy, target_dir, workspace_root};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod conformance;
mod demo;
mod difffuzz;
mod package;
mod soak;
mod token;
mod walkthrough;

const WASM_TARGET: &str = "wasm32-wasip1";

const USAGE: &str = "usage: cargo xtask <command>

commands:
  build            build every filter to dist/portico_<name>.wasm, all of them into the
                   dynamic module dist/libportico.so, and print sizes
  test             install what is missing (wasm target, Envoy), build, then fmt check,
                   clippy, unit tests and integration tests against real Envoy
  demo [--smoke]   run the edge chain of envoy/edge.yaml (JWT -> per-user rate limit ->
                   header rewriting) on 127.0.0.1:10000 (admin 9901) before an echo
                   upstream, and print curl lines with fresh tokens; Ctrl-C stops it.
                   --smoke runs the printed lines, checks them and exits.
                   --global runs envoy/edge-global.yaml instead: the per-user limit
                   asked of a Rate Limit Service (Portico's test service on a local
                   redis-server, installed if missing) that several Envoys could share.
                   --native runs envoy/edge-native.yaml: the same chain on the dynamic
                   module dist/libportico.so instead of portico_edge.wasm.
  package          build, then write each filter as an OCI image layout (the Wasm artifact
                   format Istio and Envoy Gateway pull) to dist/oci/portico_<name>/, and
                   dist/libportico.so as an OCI artifact to dist/oci/libportico/
  token --sub NAME [--exp 1h] [--aud AUD]... [--iss ISSUER]
                   print a dev token signed with envoy/keys/dev-private.pem, which
                   the configs in envoy/ accept (--exp -1h mints an expired one)
  bench            Portico against Envoy's native filters, interleaved rounds with wrk;
                   writes BENCHMARKS.md (about 6 minutes)
  soak [--minutes N | --seconds N] [--native]
                   the edge chain under steady valid, invalid and hostile load (default
                   10 minutes): no 5xx, right 4xx, no VM crash, RSS growth under 5%;
                   --native soaks envoy/edge-native.yaml (dist/libportico.so)
  difffuzz [--minutes N | --seconds N | --cases N] [--filter jwt|headers|ratelimit]
           [--seed S] [--case I] [--findings DIR] [--verbose]
                   differential fuzzing: seeded hostile requests to Portico and to Envoy's
                   native filter on the same config in one Envoy; prints every divergence as
                   a reproducible case (target/difffuzz/, and DIR/<filter>.md by class) and
                   fails if any is not a documented deliberate difference (2 minutes per
                   filter by default; see docs/difffuzz.md)
  walkthrough      run docs/writing-a-filter.md block by block, as a reader would
  host-conformance [--only NAME] [--verbose]
                   run every scenario of conformance/ on the SDK's test host and in Envoy
                   and fail on any difference
  keys [--force]   write a new dev key pair to envoy/keys/";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build().map(|_| ()),
        Some("test") => test(),
        Some("demo") => demo(
            args.iter().any(|a| a == "--smoke"),
            args.iter().any(|a| a == "--global"),
            args.iter().any(|a| a == "--native"),
        ),
        Some("package") => {
            build().and_then(|built| package::package(&built, &workspace_root().join("dist")))
        }
        Some("walkthrough") => walkthrough::run(),
        Some("bench") => ensure_wasm_target()
            .and_then(|()| ensure_envoy().map(|_| ()))
            .and_then(|()| build().map(|_| ()))
            .and_then(|()| bench::run()),
        Some("soak") => soak::parse(args.get(1..).unwrap_or_default()).and_then(|(d, native)| {
            ensure_wasm_target()?;
            ensure_envoy()?;
            build()?;
            soak::run(d, native)
        }),
        Some("difffuzz") => {
            return match difffuzz::parse(args.get(1..).unwrap_or_default()).and_then(|o| {
                ensure_wasm_target()?;
                ensure_envoy()?;
                build()?;
                difffuzz::run(&o)
            }) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(message) => {
                    eprintln!("xtask: {message}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("host-conformance") => conformance::run_suite(args.get(1..).unwrap_or_default()),
        Some("token") => token::token(args.get(1..).unwrap_or_default()),
        Some("keys") => token::keys(args.get(1..).unwrap_or_default()),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: {what}");
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !status.success() {
        return Err(format!("{what}: failed ({status})"));
    }
    eprintln!(
        "xtask: {what}: ok in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    run(
        "installing the wasm32-wasip1 target",
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
    )
    .map_err(|e| format!("{e}. Portico needs rustup to add the {WASM_TARGET} target."))
}

/// Makes `tool` available (it can be started with `probe`), installing Debian's
/// `package` with apt when it is missing (CI runs as root); `apt-get update`
/// only if the first try fails.
pub fn ensure_debian_tool(tool: &str, probe: &str, package: &str, why: &str) -> Result<(), String> {
    let present = || {
        // Started at all is enough: `wrk --version` exits with 1.
        Command::new(tool).arg(probe).output().is_ok()
    };
    if present() {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null());
        cmd
    };
    let what = format!("installing {package} (apt)");
    run(&what, &mut apt(&["install", "-y", "-q", package]))
        .or_else(|_| {
            run("apt-get update", &mut apt(&["update", "-q"]))
                .and_then(|()| run(&what, &mut apt(&["install", "-y", "-q", package])))
        })
        .map_err(|e| format!("{e}. {why}; install it (Debian: apt-get install {package})."))
}

/// Debian's docker-compose 1.29: validates the compose file offline, no
/// Docker engine needed.
fn ensure_docker_compose() -> Result<(), String> {
    ensure_debian_tool(
        "docker-compose",
        "version",
        "docker-compose",
        "The test run validates docker-compose.yml with docker-compose",
    )
}

/// Debian's redis-server: the global rate limit's tests (and `demo
/// --global`) count in a real Redis.
pub fn ensure_redis() -> Result<(), String> {
    ensure_debian_tool(
        "redis-server",
        "--version",
        "redis-server",
        "The global rate limit's tests count in a real Redis",
    )
}

fn ensure_components() -> Result<(), String> {
    for (tool, component) in [("rustfmt", "rustfmt"), ("cargo-clippy", "clippy")] {
        let present = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            run(
                &format!("installing {component}"),
                Command::new("rustup").args(["component", "add", component]),
            )?;
        }
    }
    Ok(())
}

/// Directory names under `filters/`, each a crate `portico-<name>` building `portico_<name>.wasm`.
fn filters() -> Result<Vec<String>, String> {
    let dir = workspace_root().join("filters");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Wasm modules built beside the filters but never shipped in dist/: the
/// integration tests' probe, the benchmark's two floors and the
/// host-conformance suite's script filter.
const HELPER_MODULES: [&str; 4] = [
    "portico-probe",
    "portico-rawfloor",
    "portico-emptyfloor",
    "portico-script-filter",
];

/// Filters under `filters/` that link other filters as members of a
/// `portico::Chain` (without their `module` feature), built on their own.
const CHAINS: [&str; 1] = ["edge"];

fn build() -> Result<Vec<(String, PathBuf)>, String> {
    ensure_wasm_target()?;
    let names = filters()?;
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", WASM_TARGET]);
    for name in names.iter().filter(|n| !CHAINS.contains(&n.as_str())) {
        cmd.args(["-p", &format!("portico-{name}")]);
    }
    for helper in HELPER_MODULES {
        cmd.args(["-p", helper]);
    }
    run("building the filters (release, wasm32-wasip1)", &mut cmd)?;
    for chain in CHAINS.iter().filter(|c| names.iter().any(|n| n == *c)) {
        // On its own: built with the others, its members' `module` feature
        // (their own entry point) would be unified on and clash with its.
        run(
            &format!("building portico_{chain}.wasm (release, wasm32-wasip1)"),
            cargo().args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "-p",
                &format!("portico-{chain}"),
            ]),
        )?;
    }
    let root = workspace_root();
    let release = target_dir(&root)?.join(WASM_TARGET).join("release");
    let dist = root.join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("create dist/: {e}"))?;
    let mut built = Vec::new();
    let optimizer = wasm_opt_present();
    if !optimizer {
        eprintln!("xtask: wasm-opt (binaryen) not found: dist/ gets the modules as rustc wrote them, about 15% larger");
    }
    println!("{:<32} {:>10}", "filter", "size");
    for name in names {
        let file = format!("portico_{name}.wasm");
        let from = release.join(&file);
        let to = dist.join(&file);
        std::fs::copy(&from, &to).map_err(|e| format!("copy {}: {e}", from.display()))?;
        if optimizer {
            wasm_opt(&to)?;
        }
        let size = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
        println!(
            "{:<32} {:>7} KB",
            format!("dist/{file}"),
            size.div_ceil(1024)
        );
        built.push((name, to));
    }
    build_module(&root, &dist)?;
    Ok(built)
}

/// Builds every filter into one Envoy dynamic module for this machine
/// (release, host target) and writes it to `dist/libportico.so`.
fn build_module(root: &std::path::Path, dist: &std::path::Path) -> Result<(), String> {
    run(
        "building dist/libportico.so (release, dynamic module for this machine)",
        cargo().args(["build", "--release", "-p", "portico-module"]),
    )?;
    let from = target_dir(root)?.join("release/libportico_module.so");
    let to = dist.join("libportico.so");
    // A fresh file, not an overwrite: an Envoy that has the old one mapped
    // keeps its copy instead of crashing on changed pages.
    let _ = std::fs::remove_file(&to);
    std::fs::copy(&from, &to).map_err(|e| format!("copy {}: {e}", from.display()))?;
    let size = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
    println!("{:<32} {:>7} KB", "dist/libportico.so", size.div_ceil(1024));
    Ok(())
}

/// The wasm features rustc emits for wasm32-wasip1 and Envoy's V8 runs;
/// a stripped module carries no `target_features` section to detect them from.
/// SIMD: `jose/src/rsa_verify.rs` enables it on its hot functions.
const WASM_OPT_FEATURES: [&str; 7] = [
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
    "--enable-multivalue",
    "--enable-reference-types",
    "--enable-simd",
];

fn wasm_opt_present() -> bool {
    Command::new("wasm-opt")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Debian's binaryen, for `wasm-opt` in [`build`].
fn ensure_binaryen() -> Result<(), String> {
    ensure_debian_tool(
        "wasm-opt",
        "--version",
        "binaryen",
        "The build shrinks each module with binaryen's wasm-opt",
    )
}

/// Rewrites `file` with `wasm-opt -O3`: measured on the four filters, 12-14%
/// smaller than rustc's output; -Oz saves 2-3% more but its quick-bench rows
/// (EdDSA, the chain) came out slower, and -O3 keeps V8's speed.
fn wasm_opt(file: &std::path::Path) -> Result<(), String> {
    let out = Command::new("wasm-opt")
        .arg("-O3")
        .args(WASM_OPT_FEATURES)
        .arg(file)
        .arg("-o")
        .arg(file)
        .output()
        .map_err(|e| format!("wasm-opt {}: cannot start: {e}", file.display()))?;
    if !out.status.success() {
        return Err(format!(
            "wasm-opt {}: failed ({}): {}",
            file.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn test() -> Result<(), String> {
    let started = Instant::now();
    ensure_wasm_target()?;
    ensure_components()?;
    ensure_envoy()?;
    ensure_docker_compose()?;
    ensure_redis()?;
    ensure_binaryen()?;
    build()?;
    run(
        "docker-compose.yml is valid (docker-compose config -q)",
        Command::new("docker-compose")
            .current_dir(workspace_root())
            .args(["-f", "docker-compose.yml", "config", "-q"]),
    )?;
    run(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    run(
        "clippy (native, all targets)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut wasm_clippy = cargo();
    wasm_clippy.args([
        "clippy",
        "--target",
        WASM_TARGET,
        "-p",
        "portico",
        "-p",
        "portico-jose",
    ]);
    for helper in HELPER_MODULES {
        wasm_clippy.args(["-p", helper]);
    }
    for name in filters()? {
        wasm_clippy.args(["-p", &format!("portico-{name}")]);
    }
    wasm_clippy.args(["--", "-D", "warnings"]);
    run(
        "clippy (wasm32-wasip1: the code only the .wasm compiles)",
        &mut wasm_clippy,
    )?;
    run(
        "unit and integration tests (filters as .wasm)",
        cargo().args(["test", "--workspace"]),
    )?;
    run(
        "integration tests again, filters as dist/libportico.so (PORTICO_BACKEND=native)",
        // `--workspace`, as the first run: the same feature set, so
        // nothing is compiled again; the test-host suites just run twice.
        cargo()
            .args(["test", "--workspace", "--test", "*"])
            .env("PORTICO_BACKEND", "native"),
    )?;
    demo::run(true, false, false)?;
    demo::run(true, true, false)?;
    demo::run(true, false, true)?;
    walkthrough::run()?;
    difffuzz::short_run()?;
    conformance::run_suite(&[])?;
    soak::run(std::time::Duration::from_secs(60), false)?;
    soak::run(std::time::Duration::from_secs(30), true)?;
    eprintln!(
        "xtask: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn demo(smoke: bool, global: bool, native: bool) -> Result<(), String> {
    if global && native {
        return Err("demo: --global and --native are two different configs; pick one".into());
    }
    ensure_wasm_target()?;
    ensure_envoy()?;
    if global {
        ensure_redis()?;
    }
    build()?;
    demo::run(smoke, global, native)
}
