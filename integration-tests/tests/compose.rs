//! `docker-compose.yml` without a Docker engine: every path it mounts exists,
//! the Envoy configs it can run load their filters from where it mounts
//! them, the build service produces exactly those files, and the Envoy image
//! is the version the tests run; the `native` profile builds libportico.so
//! on the Envoy image's own base and mounts it where `edge-native.yaml`
//! looks for it. (`cargo xtask test` also runs
//! `docker-compose config -q` on the file.)
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use portico_harness::install::ENVOY_VERSION;
use portico_harness::shipped::{self, CONFIG_MOUNT, FILES, MODULE_MOUNT, MODULE_NAME, WASM_MOUNT};
use portico_harness::workspace_root;
use serde_json::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// `(source, target)` of each volume of a service.
fn mounts(service: &Value) -> Vec<(String, String)> {
    service["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let mut parts = v.as_str().unwrap().split(':');
            let source = parts.next().unwrap().to_string();
            let target = parts.next().expect("volume target").to_string();
            (source, target)
        })
        .collect()
}

#[test]
fn every_mount_exists() {
    let compose = compose();
    let declared = compose["volumes"].as_object().unwrap();
    for (name, service) in compose["services"].as_object().unwrap() {
        let Some(volumes) = service.get("volumes") else {
            continue;
        };
        assert!(volumes.is_array(), "{name}: volumes must be a list");
        for (source, target) in mounts(service) {
            if source.starts_with('.') || source.starts_with('/') {
                let path = workspace_root().join(&source);
                assert!(
                    path.exists(),
                    "{name} mounts {source}, which does not exist"
                );
            } else {
                assert!(
                    declared.contains_key(&source),
                    "{name} uses undeclared volume {source}"
                );
            }
            assert!(
                target.starts_with('/'),
                "{name}: target {target} is not absolute"
            );
        }
    }
}

#[test]
fn envoy_runs_the_shipped_configs_with_the_built_filters() {
    let compose = compose();
    let envoy = &compose["services"]["envoy"];
    let build = &compose["services"]["build"];

    let image = envoy["image"].as_str().unwrap();
    assert_eq!(
        image,
        format!("envoyproxy/envoy:v{ENVOY_VERSION}"),
        "the image must be the Envoy the tests run"
    );

    let envoy_mounts = mounts(envoy);
    let config_dir = CONFIG_MOUNT.trim_end_matches('/');
    let wasm_dir = WASM_MOUNT.trim_end_matches('/');
    assert!(
        envoy_mounts.contains(&("./envoy".into(), config_dir.into())),
        "{envoy_mounts:?}"
    );
    let wasm_volume = envoy_mounts
        .iter()
        .find(|(_, target)| target == wasm_dir)
        .map(|(source, _)| source.clone())
        .expect("envoy mounts the wasm volume");
    let build_mounts = mounts(build);
    let (_, build_out) = build_mounts
        .iter()
        .find(|(source, _)| *source == wasm_volume)
        .expect("the build service writes the volume envoy reads")
        .clone();

    // The config envoy starts with exists (the default of ${PORTICO_CONFIG}).
    let command: Vec<&str> = envoy["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let config_arg = command.iter().skip_while(|a| **a != "-c").nth(1).unwrap();
    let default = config_arg
        .strip_prefix(CONFIG_MOUNT)
        .and_then(|rest| rest.strip_prefix("${PORTICO_CONFIG:-"))
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or_else(|| {
            panic!("envoy -c {config_arg}: expected {CONFIG_MOUNT}${{PORTICO_CONFIG:-…}}")
        });
    assert!(
        FILES.contains(&default),
        "default config {default} is not one of {FILES:?}"
    );

    // Every shipped config loads its filters from the wasm mount, and the
    // build service copies each of them there.
    let build_command = build["command"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    for name in FILES {
        assert!(workspace_root().join("envoy").join(name).is_file());
        let config = shipped::load(name).unwrap();
        let files = shipped::wasm_files(&config);
        // A config on the dynamic module (edge-native.yaml) runs in the
        // `native` profile, checked below.
        assert!(
            !files.is_empty() || !shipped::module_names(&config).is_empty(),
            "{name} loads no filter"
        );
        for file in files {
            let wasm = file
                .strip_prefix(WASM_MOUNT)
                .unwrap_or_else(|| panic!("{name} loads {file}, outside {WASM_MOUNT}"));
            assert!(
                build_command.contains(&format!("/{wasm} ")) && build_command.contains(&format!(" {build_out}/")),
                "{name} needs {wasm}, which the build service does not copy to {build_out}: {build_command}"
            );
            let crate_name = wasm.trim_end_matches(".wasm").replace('_', "-");
            assert!(
                build_command.contains(&format!("-p {crate_name}")),
                "build does not build {crate_name}"
            );
        }
    }
}

#[test]
fn the_global_profile_wires_envoy_to_the_rate_limit_service() {
    let compose = compose();
    let services = &compose["services"];
    for name in ["redis", "ratelimit", "envoy-global"] {
        assert_eq!(
            services[name]["profiles"],
            serde_json::json!(["global"]),
            "{name} runs only with --profile global"
        );
    }
    let envoy = &services["envoy-global"];
    assert_eq!(
        envoy["image"].as_str(),
        Some(format!("envoyproxy/envoy:v{ENVOY_VERSION}").as_str())
    );
    let command: Vec<&str> = envoy["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(command.contains(&"/etc/portico/envoy/edge-global.yaml"));
    // The service's config is the file the demo gives the test service, at
    // the path envoyproxy/ratelimit reads (RUNTIME_ROOT/SUBDIRECTORY/config).
    let rl = &services["ratelimit"];
    assert!(mounts(rl).contains(&(
        "./envoy/ratelimit/config.yaml".into(),
        "/data/ratelimit/config/config.yaml".into()
    )));
    assert_eq!(rl["environment"]["RUNTIME_ROOT"].as_str(), Some("/data"));
    assert_eq!(
        rl["environment"]["RUNTIME_SUBDIRECTORY"].as_str(),
        Some("ratelimit")
    );
    assert_eq!(rl["environment"]["REDIS_URL"].as_str(), Some("redis:6379"));
    // edge-global.yaml's `rls` cluster points at that service's gRPC port.
    let config = portico_harness::shipped::load("edge-global.yaml").unwrap();
    let rls = config["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rls")
        .unwrap();
    let address = &rls["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        ["socket_address"];
    assert_eq!(address["address"].as_str(), Some("ratelimit"));
    assert_eq!(
        Some(address["port_value"].as_u64().unwrap().to_string()),
        rl["environment"]["GRPC_PORT"].as_str().map(str::to_string)
    );
    // And the test service reads that same file as envoyproxy/ratelimit would.
    let text =
        std::fs::read_to_string(workspace_root().join("envoy/ratelimit/config.yaml")).unwrap();
    let parsed: portico_rls::engine::Config = serde_yaml::from_str(&text).unwrap();
    assert_eq!(parsed.domain, "edge");
}

#[test]
fn the_native_profile_builds_the_module_for_the_envoy_image_and_mounts_it() {
    let compose = compose();
    let services = &compose["services"];
    for name in ["build-native", "envoy-native"] {
        assert_eq!(
            services[name]["profiles"],
            serde_json::json!(["native"]),
            "{name} runs only with --profile native"
        );
    }
    let envoy = &services["envoy-native"];
    assert_eq!(
        envoy["image"].as_str(),
        Some(format!("envoyproxy/envoy:v{ENVOY_VERSION}").as_str())
    );
    let command: Vec<&str> = envoy["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let config_arg = command.iter().skip_while(|a| **a != "-c").nth(1).unwrap();
    let file = config_arg.strip_prefix(CONFIG_MOUNT).unwrap();
    assert!(FILES.contains(&file), "{file} is not a shipped config");
    let config = shipped::load(file).unwrap();
    assert!(shipped::wasm_files(&config).is_empty(), "{file} loads wasm");
    let modules = shipped::module_names(&config);
    assert!(!modules.is_empty(), "{file} loads no dynamic module");
    assert!(
        modules.iter().all(|m| m == MODULE_NAME),
        "{file}: {modules:?}"
    );
    // Envoy looks for lib<name>.so in ENVOY_DYNAMIC_MODULES_SEARCH_PATH,
    // a volume build-native fills.
    let lib_dir = MODULE_MOUNT.trim_end_matches('/');
    assert_eq!(
        envoy["environment"]["ENVOY_DYNAMIC_MODULES_SEARCH_PATH"].as_str(),
        Some(lib_dir)
    );
    let envoy_mounts = mounts(envoy);
    assert!(envoy_mounts.contains(&("./envoy".into(), CONFIG_MOUNT.trim_end_matches('/').into())));
    let volume = envoy_mounts
        .iter()
        .find(|(_, target)| target == lib_dir)
        .map(|(source, _)| source.clone())
        .expect("envoy-native mounts the module volume");
    let build = &services["build-native"];
    let (_, build_out) = mounts(build)
        .into_iter()
        .find(|(source, _)| *source == volume)
        .expect("build-native writes the volume envoy-native reads");
    assert_eq!(
        build["depends_on"],
        Value::Null,
        "build-native needs nothing running"
    );
    assert!(envoy["depends_on"]["build-native"]["condition"] == "service_completed_successfully");

    // The Dockerfile builds on the Envoy image's base (Ubuntu 22.04, glibc
    // 2.35), builds the module and copies it, as Envoy names it, there.
    let dockerfile = build["build"]["dockerfile"].as_str().unwrap();
    assert_eq!(build["build"]["context"].as_str(), Some("."));
    let text = std::fs::read_to_string(workspace_root().join(dockerfile)).unwrap();
    let from: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert_eq!(
        from,
        ["ubuntu:22.04"],
        "{dockerfile}: build on the base of envoyproxy/envoy:v{ENVOY_VERSION}, so its glibc loads the module"
    );
    assert!(text.contains("cargo build --locked --release -p portico-module"));
    assert!(text.contains("/out/libportico.so"));
    assert!(
        text.contains(&format!(
            r#"CMD ["cp", "/out/lib{MODULE_NAME}.so", "{build_out}/"]"#
        )),
        "{dockerfile} does not copy lib{MODULE_NAME}.so to {build_out}"
    );
}
