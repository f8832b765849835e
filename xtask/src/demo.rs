//! `cargo xtask demo`: the edge chain of `envoy/edge.yaml` (JWT → per-user
//! rate limit → header rewriting) on the pip Envoy and a Rust echo upstream,
//! with curl lines to try. `--smoke` runs those very lines through `sh` and
//! checks each against what the demo says it does. `--global` runs
//! `envoy/edge-global.yaml`, whose per-user limit a Rate Limit Service
//! holds: Portico's test service (`rls/`) with `envoy/ratelimit/config.yaml`,
//! counting in a local redis-server. `--native` runs `envoy/edge-native.yaml`:
//! the same chain on the dynamic module `dist/libportico.so`.

use portico_harness::dev::{self, Claims};
use portico_harness::{shipped, workspace_root, Envoy, Upstream};
use portico_rls::{Redis, Rls};

/// What a printed line must produce.
enum Expect {
    /// `curl -i` output: this status, these headers, a body containing this.
    Response {
        status: u16,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
    },
    /// This exact standard output.
    Output(&'static str),
    /// Standard output containing this.
    Contains(&'static str),
}

struct Line {
    comment: &'static str,
    command: String,
    expect: Expect,
}

fn lines(base: &str, admin: &str, global: bool, native: bool) -> Vec<Line> {
    // Envoy prefixes a wasm filter's metrics `wasmcustom.`, a dynamic module's
    // `dynamicmodulescustom.`.
    let (filter, enforced): (&str, &str) = if native {
        (
            "dynamicmodulescustom",
            "dynamicmodulescustom.per_user.http_local_rate_limit.enforced: 1",
        )
    } else if global {
        (
            "wasmcustom",
            "wasmcustom.cluster.upstream.ratelimit.per_user.over_limit: 1",
        )
    } else {
        (
            "wasmcustom",
            "wasmcustom.per_user.http_local_rate_limit.enforced: 1",
        )
    };
    let auth = |who: &str| format!("-H \"authorization: Bearer ${who}\"");
    vec![
        Line {
            comment: "no token needed for the health check",
            command: format!("curl -i {base}/healthz"),
            expect: Expect::Response { status: 200, headers: &[("x-frame-options", "DENY")], body: "\"/healthz\"" },
        },
        Line {
            comment: "no token: 401 from the JWT filter, with a Bearer challenge",
            command: format!("curl -i {base}/api/orders"),
            expect: Expect::Response { status: 401, headers: &[], body: "Jwt is missing" },
        },
        Line {
            comment: "alice: 200; the upstream echoes x-user-id: alice; 4 of 5 requests a minute left",
            command: format!("curl -i {} {base}/api/orders", auth("ALICE")),
            expect: Expect::Response {
                status: 200,
                headers: &[("x-ratelimit-remaining", "4"), ("x-content-type-options", "nosniff")],
                body: "[\"x-user-id\",\"alice\"]",
            },
        },
        Line {
            comment: "an expired token: 401",
            command: format!("curl -i {} {base}/api/orders", auth("EXPIRED")),
            expect: Expect::Response { status: 401, headers: &[], body: "Jwt is expired" },
        },
        Line {
            comment: "bob, a second user with a bucket of his own: 200",
            command: format!("curl -i {} {base}/api/orders", auth("BOB")),
            expect: Expect::Response { status: 200, headers: &[], body: "[\"x-user-id\",\"bob\"]" },
        },
        Line {
            comment: "carol's sixth request within a minute is refused: 200 200 200 200 200 429",
            command: format!(
                "for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{{http_code}} ' {} {base}/api/orders; done; echo",
                auth("CAROL")
            ),
            expect: Expect::Output("200 200 200 200 200 429 \n"),
        },
        Line {
            comment: "the filters' metrics",
            command: format!("curl -s '{admin}/stats?filter={filter}'"),
            expect: Expect::Contains(enforced),
        },
    ]
}

/// The Rate Limit Service of `--global` and the Redis it counts in.
struct Service {
    _redis: Redis,
    rls: Rls,
}

fn start_service() -> Result<Service, String> {
    let path = workspace_root().join("envoy/ratelimit/config.yaml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let config = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let redis = Redis::start()?;
    let rls = Rls::start(0, &redis.url(), vec![config])?;
    Ok(Service { _redis: redis, rls })
}

pub fn run(smoke: bool, global: bool, native: bool) -> Result<(), String> {
    let upstream = Upstream::start();
    let service = global.then(start_service).transpose()?;
    let (listen, admin) = if smoke { (0, 0) } else { (10000, 9901) };
    let ports = shipped::Ports {
        listen,
        admin,
        upstream: upstream.port(),
        rls: service.as_ref().map_or(0, |s| s.rls.port()),
    };
    let file = if global {
        "edge-global.yaml"
    } else if native {
        "edge-native.yaml"
    } else {
        "edge.yaml"
    };
    let config = shipped::render(file, &workspace_root().join("dist"), Some(ports))?;
    let envoy = Envoy::start(&config, 2);
    let base = format!("http://127.0.0.1:{}", envoy.port("main"));
    let admin = format!("http://{}", envoy.admin_address());
    let mut expired = Claims::new("alice");
    expired.expires_in = -3600;
    let exports = [
        ("ALICE", dev::token(&Claims::new("alice"))?),
        ("BOB", dev::token(&Claims::new("bob"))?),
        ("CAROL", dev::token(&Claims::new("carol"))?),
        ("EXPIRED", dev::token(&expired)?),
    ]
    .iter()
    .map(|(name, token)| format!("export {name}={token}"))
    .collect::<Vec<_>>()
    .join("\n");
    let lines = lines(&base, &admin, global, native);
    if smoke {
        if global {
            // The service counts in fixed minutes: keep the run inside one.
            wait_clear_of_minute_boundary();
        }
        for line in &lines {
            check(&exports, line)?;
        }
        eprintln!(
            "xtask: demo smoke run: {} printed lines behaved as printed",
            lines.len()
        );
        return Ok(());
    }
    println!("\nPortico demo: the edge chain of envoy/{file} on {base} (admin {admin}):");
    if global {
        println!(
            "JWT validation -> 5 requests per user per minute, held by a Rate Limit Service on 127.0.0.1:{} \
             (envoy/ratelimit/config.yaml, counted in redis-server) -> header rewriting, in front of an echo upstream.",
            service.as_ref().map_or(0, |s| s.rls.port())
        );
    } else {
        println!("JWT validation -> 5 requests per user per minute -> header rewriting, in front of an echo upstream.");
    }
    if native {
        println!(
            "The chain runs in dist/libportico.so, a dynamic module, instead of portico_edge.wasm."
        );
    }
    println!("Tokens minted just now with envoy/keys/dev-private.pem (`cargo xtask token --sub NAME` mints more):\n");
    println!("{exports}\n");
    for line in &lines {
        println!("# {}\n{}\n", line.comment, line.command);
    }
    println!("Ctrl-C stops Envoy and the upstream.");
    envoy.wait();
    drop(upstream);
    drop(service);
    Ok(())
}

/// Sleeps past the next minute when fewer than 5 seconds of this one are left.
fn wait_clear_of_minute_boundary() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let into = now.as_secs() % 60;
    if into >= 55 {
        std::thread::sleep(std::time::Duration::from_secs(61 - into));
    }
}

fn check(exports: &str, line: &Line) -> Result<(), String> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{exports}\n{}", line.command))
        .output()
        .map_err(|e| format!("run sh: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    let fail = |why: String| {
        Err(format!(
            "demo line `{}` ({}): {why}\n{stdout}",
            line.command, line.comment
        ))
    };
    if !output.status.success() {
        return fail(format!("exited with {}", output.status));
    }
    match &line.expect {
        Expect::Output(expected) if stdout != *expected => {
            fail(format!("expected output {expected:?}"))
        }
        Expect::Contains(needle) if !stdout.contains(needle) => {
            fail(format!("no {needle:?} in the output"))
        }
        Expect::Response {
            status,
            headers,
            body,
        } => {
            let (head, content) = stdout.split_once("\n\n").unwrap_or((&stdout, ""));
            let mut head_lines = head.lines();
            let got = head_lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse::<u16>().ok());
            if got != Some(*status) {
                return fail(format!("expected status {status}"));
            }
            let fields: Vec<(String, String)> = head_lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            for (name, value) in *headers {
                if !fields.iter().any(|(k, v)| k == name && v == value) {
                    return fail(format!("expected header {name}: {value}"));
                }
            }
            if !content.contains(body) {
                return fail(format!("expected {body:?} in the body"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
