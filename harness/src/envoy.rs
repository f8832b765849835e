//! A real Envoy process per test: started from a rendered config, ready when
//! its admin says so, killed by PID when dropped (also when a test panics,
//! in which case its log is printed).

use crate::client::RequestBuilder;
use crate::install::{find_envoy, workspace_root};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

const START_TIMEOUT: Duration = Duration::from_secs(60);

fn scratch_dir() -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::SeqCst);
    let dir = workspace_root()
        .join("target/portico-envoy")
        .join(format!("{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory under target/");
    dir
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    dir: PathBuf,
    admin: String,
    listeners: HashMap<String, u16>,
}

/// How an Envoy that was expected to refuse its config ended.
pub struct Refusal {
    pub status: Option<ExitStatus>,
    pub log: String,
}

fn envoy_command(config: &Path, dir: &Path, concurrency: usize) -> Command {
    let envoy = find_envoy().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(envoy);
    cmd.arg("-c")
        .arg(config)
        .args(["--concurrency", &concurrency.to_string()])
        .arg("--disable-hot-restart")
        .args(["--log-level", "info"])
        .arg("--log-path")
        .arg(dir.join("envoy.log"))
        // Tests read the log of a running Envoy; the default flush is every 10 s.
        .args(["--file-flush-interval-msec", "100"])
        .arg("--admin-address-path")
        .arg(dir.join("admin.txt"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Where `dynamic_module_config: { name: portico }` finds libportico.so.
        .env(
            "ENVOY_DYNAMIC_MODULES_SEARCH_PATH",
            crate::install::workspace_root().join("dist"),
        );
    cmd
}

impl Envoy {
    /// Starts Envoy with `config` (YAML or JSON text) and `concurrency`
    /// workers, and waits until it is ready. Panics, with Envoy's log, if it
    /// does not get there.
    pub fn start(config: &str, concurrency: usize) -> Envoy {
        let dir = scratch_dir();
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config).expect("write the Envoy config");
        let child = envoy_command(&config_path, &dir, concurrency)
            .spawn()
            .expect("spawn envoy");
        let mut envoy = Envoy {
            child,
            dir,
            admin: String::new(),
            listeners: HashMap::new(),
        };
        if let Err(why) = envoy.wait_ready() {
            let log = envoy.log();
            panic!("Envoy did not become ready: {why}\n----- envoy log -----\n{log}");
        }
        envoy
    }

    /// Starts Envoy with a config it should refuse, and returns how it ended.
    /// Panics if Envoy becomes ready instead.
    pub fn start_expecting_refusal(config: &str) -> Refusal {
        let dir = scratch_dir();
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config).expect("write the Envoy config");
        let mut child = envoy_command(&config_path, &dir, 1)
            .spawn()
            .expect("spawn envoy");
        let deadline = Instant::now() + START_TIMEOUT;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = std::fs::read_to_string(dir.join("envoy.log")).unwrap_or_default();
        if status.is_none() {
            panic!("Envoy kept running with a config it should refuse\n{log}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        Refusal { status, log }
    }

    /// Runs `envoy --mode validate` on a config: loads every filter (the wasm
    /// too) without binding ports. Returns success and the output.
    pub fn validate(config: &str) -> (bool, String) {
        let dir = scratch_dir();
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config).expect("write the Envoy config");
        let envoy = find_envoy().unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new(envoy)
            .args(["--mode", "validate", "-c"])
            .arg(&config_path)
            .arg("--disable-hot-restart")
            .args(["--log-level", "info"])
            .env(
                "ENVOY_DYNAMIC_MODULES_SEARCH_PATH",
                crate::install::workspace_root().join("dist"),
            )
            .output()
            .expect("run envoy --mode validate");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let _ = std::fs::remove_dir_all(&dir);
        (out.status.success(), text)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("envoy exited with {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {START_TIMEOUT:?}"));
            }
            if self.admin.is_empty() {
                if let Ok(addr) = std::fs::read_to_string(self.dir.join("admin.txt")) {
                    self.admin = addr.trim().to_string();
                }
            }
            if !self.admin.is_empty() {
                if let Ok(reply) = crate::client::get_url(&self.admin, "/ready") {
                    if reply.status == 200 {
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let listeners = self.admin_get("/listeners?format=json")?;
        let doc: serde_json::Value =
            serde_json::from_str(&listeners).map_err(|e| format!("bad /listeners JSON: {e}"))?;
        for status in doc["listener_statuses"].as_array().into_iter().flatten() {
            let name = status["name"].as_str().unwrap_or_default().to_string();
            if let Some(port) = status["local_address"]["socket_address"]["port_value"].as_u64() {
                self.listeners.insert(name, port as u16);
            }
        }
        Ok(())
    }

    /// Blocks until Envoy exits (Ctrl-C in a terminal stops it).
    pub fn wait(mut self) {
        let _ = self.child.wait();
    }

    /// The port a listener is bound to.
    pub fn port(&self, listener: &str) -> u16 {
        *self
            .listeners
            .get(listener)
            .unwrap_or_else(|| panic!("no listener {listener:?}; have {:?}", self.listeners))
    }

    /// The admin address, `127.0.0.1:PORT`.
    pub fn admin_address(&self) -> &str {
        &self.admin
    }

    /// A request to a listener.
    pub fn request(&self, listener: &str, method: &str, path: &str) -> RequestBuilder {
        RequestBuilder::new(format!("127.0.0.1:{}", self.port(listener)), method, path)
    }

    /// A GET to a listener.
    pub fn get(&self, listener: &str, path: &str) -> RequestBuilder {
        self.request(listener, "GET", path)
    }

    /// The body of an admin endpoint.
    pub fn admin_get(&self, path: &str) -> Result<String, String> {
        let reply = crate::client::get_url(&self.admin, path)?;
        Ok(reply.text())
    }

    /// A counter or gauge from Envoy's stats (for wasm metrics, the name
    /// includes Envoy's `wasmcustom.` prefix). A `wasmcustom.` name not found
    /// is looked up as a dynamic module names it (`dynamicmodulescustom.`),
    /// so tests read a filter's metrics on either backend.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.exact_stat(name).or_else(|| {
            let rest = name.strip_prefix("wasmcustom.")?;
            self.exact_stat(&format!("dynamicmodulescustom.{rest}"))
        })
    }

    fn exact_stat(&self, name: &str) -> Option<u64> {
        let text = self
            .admin_get(&format!("/stats?filter=^{}$", regex_escape(name)))
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// The Envoy process id (for CPU and memory readings in benchmarks).
    /// Whether Envoy's log shows `text` within two seconds (the log is
    /// flushed every 100 ms, so a line just written may not be there yet).
    pub fn log_shows(&self, text: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            if self.log().contains(text) {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Envoy's resident memory, from /proc (Linux only).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

fn regex_escape(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "----- envoy log ({}) -----\n{}\n----- end of envoy log -----",
                self.dir.display(),
                self.log()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
