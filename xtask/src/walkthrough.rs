//! `cargo xtask walkthrough`: runs `docs/writing-a-filter.md` as a reader
//! would, in a scratch directory under the system's temp directory (removed when
//! it passes, kept for a look when it fails) beside a `portico` link to this checkout.
//! Every fenced block is handled, and an unknown kind of block is an error,
//! so nothing in the page goes unchecked:
//! - ` ```sh ` runs (`cargo new` in the scratch directory, the rest in the
//!   new crate);
//! - ` ```<lang> file=PATH ` writes the crate's file, ` ```<lang> file=PATH append `
//!   adds the block to its end;
//! - ` ```sh envoy ` starts Envoy on the page's `envoy.yaml`, on free ports;
//! - ` ```sh curl ` runs against that Envoy, and its output must equal the
//!   ` ```text output ` block after it.

use portico_harness::{find_envoy, workspace_root, Envoy};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGE: &str = "docs/writing-a-filter.md";

struct Block {
    info: String,
    text: String,
    line: usize,
}

fn blocks(markdown: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    text: String::new(),
                    line: n + 1,
                })
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    match open {
        Some(block) => Err(format!("{PAGE}:{}: unclosed code block", block.line)),
        None => Ok(blocks),
    }
}

pub fn run() -> Result<(), String> {
    let root = workspace_root();
    let markdown =
        std::fs::read_to_string(root.join(PAGE)).map_err(|e| format!("read {PAGE}: {e}"))?;
    // Outside the checkout: inside it, `cargo new` would join Portico's workspace.
    let scratch = std::env::temp_dir().join(format!("portico-walkthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("create {}: {e}", scratch.display()))?;
    // The page assumes the checkout at ../portico from the new crate.
    std::os::unix::fs::symlink(&root, scratch.join("portico"))
        .map_err(|e| format!("link portico: {e}"))?;
    let mut krate: Option<PathBuf> = None;
    let mut envoy: Option<Envoy> = None;
    let mut pending_output: Option<(String, String)> = None;
    let blocks = blocks(&markdown)?;
    for block in &blocks {
        let at = format!("{PAGE}:{}", block.line);
        if let Some((command, output)) = pending_output.take() {
            if block.info != "text output" {
                return Err(format!(
                    "{at}: a ```sh curl block must be followed by its ```text output"
                ));
            }
            if output != block.text {
                return Err(format!(
                    "{at}: `{command}` printed\n{output}\nbut the page says\n{}",
                    block.text
                ));
            }
            continue;
        }
        let info: Vec<&str> = block.info.split_whitespace().collect();
        match info.as_slice() {
            ["sh"] if block.text.starts_with("cargo new") => {
                shell(&block.text, &scratch, &at)?;
                let name = block.text.split_whitespace().last().unwrap_or_default();
                let dir = scratch.join(name);
                // Pin dependencies to the versions Portico's own lock file builds with.
                std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))
                    .map_err(|e| format!("copy Cargo.lock: {e}"))?;
                krate = Some(dir);
            }
            ["sh"] => {
                shell(&block.text, crate_dir(&krate, &at)?, &at)?;
            }
            [_, file] if file.starts_with("file=") => {
                let path = crate_dir(&krate, &at)?.join(&file["file=".len()..]);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{at}: {e}"))?;
                }
                std::fs::write(&path, &block.text)
                    .map_err(|e| format!("{at}: write {}: {e}", path.display()))?;
            }
            [_, file, "append"] if file.starts_with("file=") => {
                let path = crate_dir(&krate, &at)?.join(&file["file=".len()..]);
                let mut text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{at}: append to {}: {e}", path.display()))?;
                text.push('\n');
                text.push_str(&block.text);
                std::fs::write(&path, text)
                    .map_err(|e| format!("{at}: write {}: {e}", path.display()))?;
            }
            ["sh", "envoy"] => {
                let dir = crate_dir(&krate, &at)?;
                let expected = "../portico/.venv/bin/envoy -c envoy.yaml\n";
                if block.text != expected || find_envoy().is_err() {
                    return Err(format!(
                        "{at}: expected exactly `{}` with Envoy installed",
                        expected.trim()
                    ));
                }
                envoy = Some(start_envoy(dir, &at)?);
            }
            ["sh", "curl"] => {
                let running = envoy
                    .as_ref()
                    .ok_or_else(|| format!("{at}: curl before Envoy runs"))?;
                let command = block
                    .text
                    .replace(
                        "localhost:10000",
                        &format!("127.0.0.1:{}", running.port("main")),
                    )
                    .replace("localhost:9901", running.admin_address());
                let output = Command::new("sh")
                    .args(["-e", "-c", &command])
                    .output()
                    .map_err(|e| format!("{at}: run sh: {e}"))?;
                pending_output = Some((
                    block.text.trim().to_string(),
                    String::from_utf8_lossy(&output.stdout).into_owned(),
                ));
            }
            _ => {
                return Err(format!(
                    "{at}: a ```{} block is not something the walkthrough knows how to check",
                    block.info
                ))
            }
        }
    }
    if pending_output.is_some() {
        return Err(format!("{PAGE}: the last curl block has no ```text output"));
    }
    drop(envoy);
    let _ = std::fs::remove_dir_all(&scratch);
    eprintln!(
        "xtask: walkthrough: all {} blocks of {PAGE} ran as written",
        blocks.len()
    );
    Ok(())
}

fn crate_dir<'a>(krate: &'a Option<PathBuf>, at: &str) -> Result<&'a Path, String> {
    krate
        .as_deref()
        .ok_or_else(|| format!("{at}: the page must start with `cargo new`"))
}

fn shell(script: &str, dir: &Path, at: &str) -> Result<(), String> {
    eprintln!(
        "xtask: walkthrough ({}): {}",
        dir.display(),
        script.trim().replace('\n', "; ")
    );
    let status = Command::new("sh")
        .args(["-e", "-c", script])
        .current_dir(dir)
        // The crate builds into its own target/, as it would for a reader.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| format!("{at}: run sh: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{at}: `{}` failed ({status})", script.trim()))
    }
}

/// The page's `envoy.yaml`, as written, but on ports Envoy picks and with the
/// module's path made absolute (the harness runs Envoy from elsewhere).
fn start_envoy(dir: &Path, at: &str) -> Result<Envoy, String> {
    let text = std::fs::read_to_string(dir.join("envoy.yaml")).map_err(|e| format!("{at}: {e}"))?;
    let mut config: Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{at}: envoy.yaml: {e}"))?;
    let zero_port = |v: Option<&mut Value>| -> Result<(), String> {
        let address =
            v.ok_or_else(|| format!("{at}: envoy.yaml has no socket address where expected"))?;
        address["port_value"] = json!(0);
        Ok(())
    };
    zero_port(config.pointer_mut("/admin/address/socket_address"))?;
    zero_port(config.pointer_mut("/static_resources/listeners/0/address/socket_address"))?;
    let filename = config
        .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0/typed_config/config/vm_config/code/local/filename")
        .ok_or_else(|| format!("{at}: envoy.yaml: no wasm filename where expected"))?;
    let relative = filename.as_str().unwrap_or_default().to_string();
    *filename = json!(dir.join(relative).display().to_string());
    Ok(Envoy::start(&config.to_string(), 1))
}
