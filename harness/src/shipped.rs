//! The configs of `envoy/`, as users get them, rendered for a local run.
//!
//! The files are written for `docker compose` (addresses `0.0.0.0`, admin on
//! 9901, the listener on 10000, the upstream at `upstream:8080`, filters under
//! [`WASM_MOUNT`], or, for `edge-native.yaml`, the dynamic module `portico`
//! that Envoy finds in `$ENVOY_DYNAMIC_MODULES_SEARCH_PATH`, which
//! [`crate::Envoy`] sets to `dist/`). Rendering parses the file and changes only those values, so
//! the demo and the tests run exactly the filters and filter configurations
//! users get. A file that stops fitting that shape is an error, not a
//! silently different run.

use crate::install::workspace_root;
use serde_json::{json, Value};
use std::path::Path;

/// Where docker-compose.yml mounts the built filters in the Envoy container.
pub const WASM_MOUNT: &str = "/opt/portico/wasm/";
/// Where docker-compose.yml mounts `envoy/` in the Envoy container.
pub const CONFIG_MOUNT: &str = "/etc/portico/envoy/";
/// Where docker-compose.yml mounts `libportico.so` in the Envoy container
/// (its `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`).
pub const MODULE_MOUNT: &str = "/opt/portico/lib/";
/// The dynamic module every shipped native config loads: `libportico.so`.
pub const MODULE_NAME: &str = "portico";
/// Every Envoy config `envoy/` ships.
pub const FILES: [&str; 8] = [
    "edge.yaml",
    "edge-native.yaml",
    "edge-three-modules.yaml",
    "edge-global.yaml",
    "jwt.yaml",
    "headers.yaml",
    "ratelimit.yaml",
    "hello.yaml",
];

/// Loopback ports for a local run; 0 lets Envoy pick (the harness reads them back).
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub listen: u16,
    pub admin: u16,
    pub upstream: u16,
    /// The Rate Limit Service (cluster `rls`, in `edge-global.yaml`); 0
    /// leaves the cluster as shipped.
    pub rls: u16,
}

/// Reads and parses `envoy/<name>`.
pub fn load(name: &str) -> Result<Value, String> {
    let path = workspace_root().join("envoy").join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every wasm file a config loads (`vm_config.code.local.filename`).
pub fn wasm_files(config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    visit(config, &mut |v| {
        if let Some(f) = v
            .pointer("/vm_config/code/local/filename")
            .and_then(Value::as_str)
        {
            found.push(f.to_string());
        }
    });
    found
}

/// Every dynamic module a config loads (`dynamic_module_config.name`).
pub fn module_names(config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    visit(config, &mut |v| {
        if let Some(name) = v
            .pointer("/dynamic_module_config/name")
            .and_then(Value::as_str)
        {
            found.push(name.to_string());
        }
    });
    found
}

fn visit(value: &Value, f: &mut impl FnMut(&Value)) {
    f(value);
    match value {
        Value::Object(map) => map.values().for_each(|v| visit(v, f)),
        Value::Array(items) => items.iter().for_each(|v| visit(v, f)),
        _ => {}
    }
}

fn visit_mut(
    value: &mut Value,
    f: &mut impl FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    f(value)?;
    match value {
        Value::Object(map) => map.values_mut().try_for_each(|v| visit_mut(v, f)),
        Value::Array(items) => items.iter_mut().try_for_each(|v| visit_mut(v, f)),
        _ => Ok(()),
    }
}

/// `envoy/<name>` with the filters taken from `wasm_dir` and, given `ports`,
/// every address on loopback. Without `ports` the addresses stay as shipped
/// (for `envoy --mode validate`, which binds and resolves nothing).
pub fn render(name: &str, wasm_dir: &Path, ports: Option<Ports>) -> Result<String, String> {
    render_config(name, load(name)?, wasm_dir, ports)
}

/// [`render`] of a config already loaded (and perhaps combined with another:
/// listeners other than `main` get ports Envoy picks); `name` is for errors.
pub fn render_config(
    name: &str,
    mut config: Value,
    wasm_dir: &Path,
    ports: Option<Ports>,
) -> Result<String, String> {
    let dir = wasm_dir.display().to_string();
    visit_mut(&mut config, &mut |v| {
        if let Some(module) = v
            .pointer("/dynamic_module_config/name")
            .and_then(Value::as_str)
        {
            // Found through ENVOY_DYNAMIC_MODULES_SEARCH_PATH (dist/ here),
            // where only libportico.so is.
            if module != MODULE_NAME {
                return Err(format!(
                    "{name}: dynamic module {module}: only {MODULE_NAME} (lib{MODULE_NAME}.so) is built"
                ));
            }
            return Ok(());
        }
        let Some(file) = v.pointer_mut("/vm_config/code/local/filename") else {
            return Ok(());
        };
        let shipped = file.as_str().unwrap_or_default().to_string();
        let wasm = shipped.strip_prefix(WASM_MOUNT).ok_or_else(|| {
            format!("{name}: wasm file {shipped} is not under {WASM_MOUNT}, where docker-compose.yml mounts the filters")
        })?;
        *file = json!(format!("{dir}/{wasm}"));
        Ok(())
    })?;
    if let Some(ports) = ports {
        set_address(
            &mut config,
            "/admin/address/socket_address",
            ports.admin,
            name,
        )?;
        let listeners = config
            .pointer_mut("/static_resources/listeners")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| format!("{name}: no static_resources.listeners"))?;
        if !listeners
            .iter()
            .any(|l| l.get("name").and_then(Value::as_str) == Some("main"))
        {
            return Err(format!("{name}: no listener `main`"));
        }
        for listener in listeners {
            // `main` on `ports.listen`; any other (a test's side-by-side
            // listener) on a port Envoy picks.
            let port = match listener.get("name").and_then(Value::as_str) {
                Some("main") => ports.listen,
                _ => 0,
            };
            set_address(listener, "/address/socket_address", port, name)?;
        }
        let clusters = config
            .pointer_mut("/static_resources/clusters")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| format!("{name}: no static_resources.clusters"))?;
        let upstream = clusters
            .iter_mut()
            .find(|c| c.get("name").and_then(Value::as_str) == Some("upstream"))
            .ok_or_else(|| format!("{name}: no cluster `upstream`"))?;
        upstream["type"] = json!("STATIC");
        set_address(
            upstream,
            "/load_assignment/endpoints/0/lb_endpoints/0/endpoint/address/socket_address",
            ports.upstream,
            name,
        )?;
        if ports.rls != 0 {
            let rls = clusters
                .iter_mut()
                .find(|c| c.get("name").and_then(Value::as_str) == Some("rls"))
                .ok_or_else(|| format!("{name}: no cluster `rls`"))?;
            rls["type"] = json!("STATIC");
            set_address(
                rls,
                "/load_assignment/endpoints/0/lb_endpoints/0/endpoint/address/socket_address",
                ports.rls,
                name,
            )?;
        }
    }
    serde_json::to_string_pretty(&config).map_err(|e| e.to_string())
}

fn set_address(value: &mut Value, pointer: &str, port: u16, name: &str) -> Result<(), String> {
    let address = value
        .pointer_mut(pointer)
        .ok_or_else(|| format!("{name}: no {pointer}"))?;
    *address = json!({"address": "127.0.0.1", "port_value": port});
    Ok(())
}

/// The JSON configuration a filter gets in a shipped file: the
/// `StringValue` of the filter `portico.<filter>` (wasm or dynamic module), or else the
/// `config` of the member `filter` of the one-module edge chain
/// (`portico.edge`, whose configuration is `{"filters": [{"name", "config"}]}`).
pub fn filter_config(config: &Value, filter: &str) -> Option<Value> {
    module_config(config, filter).or_else(|| {
        let edge = module_config(config, "edge")?;
        edge.get("filters")?
            .as_array()?
            .iter()
            .find(|m| m.get("name").and_then(Value::as_str) == Some(filter))?
            .get("config")
            .cloned()
    })
}

/// Where a Portico filter's JSON configuration sits in its filter entry:
/// the wasm filter's `configuration` or the dynamic module's `filter_config`.
const CONFIG_AT: [&str; 2] = [
    "/typed_config/config/configuration/value",
    "/typed_config/filter_config/value",
];

/// Rewrites, with `edit`, the JSON configuration of `filter` wherever `config`
/// carries it: the filter `portico.<filter>` (wasm `configuration` or dynamic
/// module `filter_config`) and the member `filter` of every `portico.edge`.
/// For tests that must change a shipped file the same way in two chains.
pub fn edit_filter_config(
    config: &mut Value,
    filter: &str,
    edit: &dyn Fn(&mut Value),
) -> Result<usize, String> {
    let mut edited = 0;
    visit_mut(config, &mut |v| {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let is_module = name == format!("portico.{filter}");
        let is_edge = name == "portico.edge";
        if !(is_module || is_edge) {
            return Ok(());
        }
        let pointer = CONFIG_AT.into_iter().find(|p| v.pointer(p).is_some());
        let Some(text) = pointer.and_then(|p| v.pointer_mut(p)) else {
            return Ok(());
        };
        let Some(raw) = text.as_str() else {
            return Ok(());
        };
        let mut parsed: Value =
            serde_json::from_str(raw).map_err(|e| format!("{name}: configuration: {e}"))?;
        if is_module {
            edit(&mut parsed);
            edited += 1;
        } else if let Some(members) = parsed.get_mut("filters").and_then(Value::as_array_mut) {
            for member in members {
                if member.get("name").and_then(Value::as_str) == Some(filter) {
                    if let Some(inner) = member.get_mut("config") {
                        edit(inner);
                        edited += 1;
                    }
                }
            }
        }
        *text = Value::String(parsed.to_string());
        Ok(())
    })?;
    Ok(edited)
}

/// The configuration of the filter `portico.<module>` in a shipped file: the
/// wasm filter's `configuration` or the dynamic module filter's `filter_config`.
pub fn module_config(config: &Value, module: &str) -> Option<Value> {
    let wanted = format!("portico.{module}");
    let mut found = None;
    visit(config, &mut |v| {
        if found.is_none() && v.get("name").and_then(Value::as_str) == Some(wanted.as_str()) {
            found = CONFIG_AT
                .into_iter()
                .find_map(|p| v.pointer(p))
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str(text).ok());
        }
    });
    found
}

/// Starts Envoy on `envoy/<name>` with the filters of `dist/`, its listener
/// and admin on ports Envoy picks, in front of `upstream_port`.
pub fn start(name: &str, upstream_port: u16, concurrency: usize) -> crate::Envoy {
    let dist = workspace_root().join("dist");
    let ports = Ports {
        listen: 0,
        admin: 0,
        upstream: upstream_port,
        rls: 0,
    };
    match render(name, &dist, Some(ports)) {
        Ok(config) => crate::Envoy::start(&config, concurrency),
        Err(e) => panic!("render envoy/{name}: {e}"),
    }
}
