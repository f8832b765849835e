//! `cargo xtask soak [--minutes N | --seconds N]`: the edge chain of
//! `envoy/edge.yaml` (two workers) under steady load from a mix of valid,
//! invalid and hostile requests. It passes when there is no 5xx, every
//! request gets a status its kind allows, no wasm VM crashed or was
//! reloaded, and Envoy's RSS grew by less than 5% after warm-up.
//! `cargo xtask test` runs it for 60 seconds.

use portico_harness::client::Connection;
use portico_harness::dev::{self, Claims};
use portico_harness::{shipped, workspace_root, Envoy, Upstream};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 6;
/// Distinct users, so the per-user limiter holds many keys.
const USERS: usize = 2000;

/// A kind of request and the statuses it may get.
struct Kind {
    name: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    allowed: &'static [u16],
    /// Envoy closes the connection after answering these.
    own_connection: bool,
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".into(), format!("Bearer {token}"))]
}

fn hostile_kinds() -> Result<Vec<Kind>, String> {
    let alice = dev::token(&Claims::new("alice"))?;
    let mut expired = Claims::new("alice");
    // Beyond the default 60 s clock skew.
    expired.expires_in = -3600;
    let mut foreign = Claims::new("alice");
    foreign.audience = vec!["elsewhere".into()];
    // A signature byte in the middle changed: never one of base64's spare bits.
    let mut forged = alice.clone().into_bytes();
    let mid = alice.rfind('.').unwrap_or(0) + 20;
    if let Some(b) = forged.get_mut(mid) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let forged = String::from_utf8(forged).map_err(|e| e.to_string())?;
    let huge = format!(
        "{}.{}.{}",
        "e".repeat(7000),
        "e".repeat(7000),
        "e".repeat(7000)
    );
    Ok(vec![
        Kind {
            name: "health check",
            path: "/healthz",
            headers: vec![],
            allowed: &[200, 429],
            own_connection: false,
        },
        Kind {
            name: "no token",
            path: "/api",
            headers: vec![],
            allowed: &[401],
            own_connection: false,
        },
        Kind {
            name: "forged signature",
            path: "/api",
            headers: bearer(&forged),
            allowed: &[401],
            own_connection: false,
        },
        Kind {
            name: "expired",
            path: "/api",
            headers: bearer(&dev::token(&expired)?),
            allowed: &[401],
            own_connection: false,
        },
        Kind {
            name: "wrong audience",
            path: "/api",
            headers: bearer(&dev::token(&foreign)?),
            allowed: &[403],
            own_connection: false,
        },
        Kind {
            name: "huge token (21 KB)",
            path: "/api",
            headers: bearer(&huge),
            allowed: &[401],
            own_connection: false,
        },
        Kind {
            name: "oversized headers (70 KB)",
            path: "/api",
            headers: vec![("x-junk".into(), "j".repeat(70 * 1024))],
            allowed: &[431],
            own_connection: true,
        },
    ])
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<(&'static str, u16), u64>,
    unexpected: Vec<String>,
    transport_errors: Vec<String>,
}

/// `native`: the edge chain from `dist/libportico.so` (`envoy/edge-native.yaml`).
pub fn run(duration: Duration, native: bool) -> Result<(), String> {
    let upstream = Upstream::start();
    let ports = shipped::Ports {
        listen: 0,
        admin: 0,
        upstream: upstream.port(),
        rls: 0,
    };
    let file = if native {
        "edge-native.yaml"
    } else {
        "edge.yaml"
    };
    eprintln!("xtask: soak: envoy/{file}");
    let config = shipped::render(file, &workspace_root().join("dist"), Some(ports))?;
    let envoy = Envoy::start(&config, 2);
    let address = format!("127.0.0.1:{}", envoy.port("main"));
    eprintln!("xtask: soak: minting {USERS} user tokens");
    let users: Vec<Vec<(String, String)>> = (0..USERS)
        .map(|i| dev::token(&Claims::new(&format!("user-{i}"))).map(|t| bearer(&t)))
        .collect::<Result<_, _>>()?;
    let users = Arc::new(users);
    let hostile = Arc::new(hostile_kinds()?);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let warm_up = (duration / 10)
        .max(Duration::from_secs(5))
        .min(duration / 2);
    eprintln!(
        "xtask: soak: {CONNECTIONS} connections for {}s on the edge chain",
        duration.as_secs()
    );

    let load = {
        let (users, hostile, tally, address) = (
            users.clone(),
            hostile.clone(),
            tally.clone(),
            address.clone(),
        );
        std::thread::spawn(move || {
            portico_harness::runtime().block_on(async move {
                let mut tasks = Vec::new();
                for c in 0..CONNECTIONS {
                    let (users, hostile, tally, address) = (
                        users.clone(),
                        hostile.clone(),
                        tally.clone(),
                        address.clone(),
                    );
                    tasks.push(tokio::spawn(async move {
                        drive(c, &address, &users, &hostile, &tally, started + duration).await
                    }));
                }
                for task in tasks {
                    let _ = task.await;
                }
            })
        })
    };

    std::thread::sleep(warm_up);
    let rss_warm = envoy.rss_kib().unwrap_or(0);
    let vms_warm = envoy.stat("wasm.envoy.wasm.runtime.v8.created");
    let _ = load.join();
    let elapsed = started.elapsed();
    let rss_end = envoy.rss_kib().unwrap_or(0);
    let vms_end = envoy.stat("wasm.envoy.wasm.runtime.v8.created");
    let stats = envoy.admin_get("/stats").unwrap_or_default();
    let reloads: Vec<&str> = stats
        .lines()
        .filter(|l| l.contains("vm_reload") && !l.ends_with(": 0"))
        .collect();
    let log = envoy.log();
    let traps = log
        .lines()
        .filter(|l| l.contains("RuntimeError") || l.contains("unreachable"))
        .count();

    let tally = tally.lock().map_err(|_| "tally lock".to_string())?;
    let total: u64 = tally.statuses.values().sum();
    println!("\nsoak: {total} requests in {:.0}s ({:.0}/s) over {CONNECTIONS} connections, {USERS} users", elapsed.as_secs_f64(), total as f64 / elapsed.as_secs_f64());
    println!("{:<28} {:>6} {:>9}", "kind", "status", "count");
    for ((kind, status), count) in &tally.statuses {
        println!("{kind:<28} {status:>6} {count:>9}");
    }
    let growth = if rss_warm > 0 {
        (rss_end as f64 - rss_warm as f64) / rss_warm as f64
    } else {
        0.0
    };
    println!(
        "Envoy RSS after warm-up {rss_warm} KiB, at the end {rss_end} KiB: {:+.2}%",
        growth * 100.0
    );
    println!("wasm VMs created: {vms_warm:?} after warm-up, {vms_end:?} at the end; reloads: {reloads:?}; traps logged: {traps}");

    let mut failures = Vec::new();
    let five_xx: u64 = tally
        .statuses
        .iter()
        .filter(|((_, s), _)| *s >= 500)
        .map(|(_, n)| n)
        .sum();
    if five_xx > 0 {
        failures.push(format!("{five_xx} responses were 5xx"));
    }
    if !tally.unexpected.is_empty() {
        failures.push(format!(
            "unexpected statuses, e.g. {:?}",
            &tally.unexpected[..tally.unexpected.len().min(5)]
        ));
    }
    if !tally.transport_errors.is_empty() {
        failures.push(format!(
            "{} transport errors, e.g. {:?}",
            tally.transport_errors.len(),
            tally.transport_errors.first()
        ));
    }
    if tally
        .statuses
        .get(&("valid token", 200))
        .copied()
        .unwrap_or(0)
        == 0
    {
        failures.push("no valid request got through".into());
    }
    if vms_warm != vms_end || !reloads.is_empty() || traps > 0 {
        failures.push("a wasm VM crashed or was reloaded".into());
    }
    if growth >= 0.05 {
        failures.push(format!("RSS grew {:.1}% after warm-up", growth * 100.0));
    }
    if failures.is_empty() {
        eprintln!("xtask: soak passed");
        Ok(())
    } else {
        Err(format!("soak failed: {}", failures.join("; ")))
    }
}

async fn drive(
    connection: usize,
    address: &str,
    users: &[Vec<(String, String)>],
    hostile: &[Kind],
    tally: &Mutex<Tally>,
    until: Instant,
) {
    let mut conn: Option<Connection> = None;
    let mut i = connection;
    while Instant::now() < until {
        i += CONNECTIONS;
        // Two requests in three are valid users' requests; the rest cycle through the hostile kinds.
        let (name, path, headers, allowed, own) = if i % 3 != 0 {
            let user = users
                .get((i * 7919) % users.len())
                .map(Vec::as_slice)
                .unwrap_or_default();
            ("valid token", "/api", user, &[200u16, 429][..], false)
        } else {
            match hostile.get((i / 3) % hostile.len()) {
                Some(k) => (
                    k.name,
                    k.path,
                    k.headers.as_slice(),
                    k.allowed,
                    k.own_connection,
                ),
                None => continue,
            }
        };
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let result = if own {
            match Connection::open(address).await {
                Ok(mut c) => c.get_status(path, &refs).await,
                Err(e) => Err(e),
            }
        } else {
            if conn.is_none() {
                conn = Connection::open(address).await.ok();
            }
            match conn.as_mut() {
                Some(c) => c.get_status(path, &refs).await,
                None => Err("cannot connect".into()),
            }
        };
        let Ok(mut tally) = tally.lock() else { return };
        match result {
            Ok(status) => {
                *tally.statuses.entry((name, status)).or_default() += 1;
                if !allowed.contains(&status) && tally.unexpected.len() < 100 {
                    tally.unexpected.push(format!("{name}: {status}"));
                }
            }
            Err(e) => {
                conn = None;
                if tally.transport_errors.len() < 100 {
                    tally.transport_errors.push(format!("{name}: {e}"));
                }
            }
        }
    }
}

/// `--minutes N` or `--seconds N`; 10 minutes by default.
/// The soak's duration, and whether `--native` was given.
pub fn parse(args: &[String]) -> Result<(Duration, bool), String> {
    let native = args.iter().any(|a| a == "--native");
    let rest: Vec<String> = args.iter().filter(|a| *a != "--native").cloned().collect();
    parse_duration(&rest).map(|d| (d, native))
}

pub fn parse_duration(args: &[String]) -> Result<Duration, String> {
    match args {
        [] => Ok(Duration::from_secs(600)),
        [flag, n] if flag == "--minutes" || flag == "--seconds" => {
            let n: u64 = n
                .parse()
                .map_err(|_| format!("{flag} takes a whole number"))?;
            Ok(Duration::from_secs(if flag == "--minutes" {
                n * 60
            } else {
                n
            }))
        }
        _ => Err("usage: cargo xtask soak [--minutes N | --seconds N] [--native]".into()),
    }
}
