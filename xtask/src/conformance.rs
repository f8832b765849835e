//! `cargo xtask host-conformance`: builds the script filter to wasm, then
//! runs `conformance/runner`, which plays every scenario on the SDK's test
//! host and in Envoy and fails on any difference. Its last line is
//! `host conformance: N scenarios, M disagreements`.

use crate::{cargo, ensure_wasm_target, run, WASM_TARGET};
use portico_harness::{ensure_envoy, target_dir, workspace_root};
use std::process::Command;

pub fn run_suite(args: &[String]) -> Result<(), String> {
    ensure_wasm_target()?;
    ensure_envoy()?;
    run(
        "building the script filter (release, wasm32-wasip1)",
        cargo().args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "-p",
            "portico-script-filter",
        ]),
    )?;
    run(
        "building the conformance runner",
        cargo().args(["build", "-p", "portico-conformance"]),
    )?;
    // Run directly, so the runner's summary stays the last line.
    let runner = target_dir(workspace_root())?.join("debug/portico-conformance");
    let status = Command::new(&runner)
        .args(args)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", runner.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err("host conformance: the test host and Envoy disagree (see above)".into())
    }
}
