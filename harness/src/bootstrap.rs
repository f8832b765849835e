//! Envoy bootstraps for tests, built as JSON (which Envoy reads as YAML),
//! so filter configurations embed without quoting pitfalls.
//!
//! Every listener and the admin bind `127.0.0.1:0`; [`crate::Envoy`] reads
//! the ports Envoy picked from its admin API, so tests never race for ports.

use serde_json::{json, Value};
use std::path::Path;

/// The entry that runs Portico filter `wasm` with `config`: the
/// `envoy.filters.http.wasm` filter loading that `.wasm`, or, when the tests
/// run on the dynamic-module backend ([`crate::Backend::Native`]) and the
/// file is one of `libportico.so`'s filters (`portico_<name>.wasm`), the
/// `envoy.filters.http.dynamic_modules` filter selecting `<name>` with the
/// same JSON.
pub fn wasm_filter(name: &str, wasm: &Path, config: &str) -> Value {
    if crate::Backend::current() == crate::Backend::Native {
        if let Some(filter) = crate::backend::module_filter(wasm) {
            return module_filter(name, filter, config);
        }
    }
    wasm_only_filter(name, wasm, config)
}

/// The `envoy.filters.http.dynamic_modules` entry that runs `filter_name`
/// of `libportico.so` (found through `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`,
/// which [`crate::Envoy`] sets to `dist/`) with `config`.
pub fn module_filter(name: &str, filter_name: &str, config: &str) -> Value {
    json!({
        "name": name,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": { "name": "portico" },
            "filter_name": filter_name,
            "filter_config": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": config
            }
        }
    })
}

/// The `envoy.filters.http.dynamic_modules` entry that runs `filter_name`
/// of the dynamic module at `so` (a path, as [`crate::built_module`] finds
/// a crate's) with `config`: for filter authors' own modules.
pub fn so_filter(name: &str, so: &Path, filter_name: &str, config: &str) -> Value {
    let mut filter = module_filter(name, filter_name, config);
    filter["typed_config"]["dynamic_module_config"] =
        json!({ "module": { "local": { "filename": so.display().to_string() } } });
    filter
}

/// The `envoy.filters.http.wasm` entry that loads `wasm` with `config`,
/// whatever the backend (tests of wasm-only behaviour: `failure_policy`,
/// VM crashes).
pub fn wasm_only_filter(name: &str, wasm: &Path, config: &str) -> Value {
    json!({
        "name": name,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "root_id": name,
                "vm_config": {
                    "vm_id": name,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": { "local": { "filename": wasm.display().to_string() } }
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": config
                },
                "failure_policy": "FAIL_CLOSED"
            }
        }
    })
}

fn router() -> Value {
    json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
    })
}

fn static_cluster(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": {
                "socket_address": { "address": "127.0.0.1", "port_value": port }
            }}}]}]
        }
    })
}

/// A static cluster on a loopback port that speaks HTTP/2 (h2c): what a
/// gRPC service (`grpc_call`, a Rate Limit Service) needs.
pub fn h2_cluster(name: &str, port: u16) -> Value {
    let mut cluster = static_cluster(name, port);
    cluster["typed_extension_protocol_options"] = json!({
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": { "http2_protocol_options": {} }
        }
    });
    cluster
}

/// A bootstrap under construction: listeners, each with its HTTP filters in
/// front of the router, all routed to the test upstream (cluster `upstream`).
#[derive(Clone, Debug)]
pub struct Bootstrap {
    upstream_port: u16,
    listeners: Vec<(String, Vec<Value>)>,
    clusters: Vec<Value>,
    hcm: Value,
}

impl Bootstrap {
    pub fn new(upstream_port: u16) -> Self {
        Bootstrap {
            upstream_port,
            listeners: Vec::new(),
            clusters: Vec::new(),
            hcm: json!({}),
        }
    }

    /// Adds a listener whose filter chain is `filters` then the router.
    pub fn listener(mut self, name: &str, filters: Vec<Value>) -> Self {
        self.listeners.push((name.to_string(), filters));
        self
    }

    /// Extra `HttpConnectionManager` fields for every listener (an object,
    /// such as a user's path-normalisation settings), merged over the defaults.
    pub fn hcm_settings(mut self, settings: Value) -> Self {
        self.hcm = settings;
        self
    }

    /// Adds a static cluster pointing at a loopback port (for callouts).
    pub fn cluster(mut self, name: &str, port: u16) -> Self {
        self.clusters.push(static_cluster(name, port));
        self
    }

    /// Adds a cluster as given (a user's snippet, for instance).
    pub fn raw_cluster(mut self, cluster: Value) -> Self {
        self.clusters.push(cluster);
        self
    }

    pub fn render(&self) -> String {
        let listeners: Vec<Value> = self
            .listeners
            .iter()
            .map(|(name, filters)| {
                let mut chain = filters.clone();
                chain.push(router());
                let mut hcm = json!({
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": name,
                    "route_config": {
                        "name": "local",
                        "virtual_hosts": [{
                            "name": "all",
                            "domains": ["*"],
                            "routes": [{ "name": "default", "match": { "prefix": "/" }, "route": { "cluster": "upstream" } }]
                        }]
                    },
                    "http_filters": chain
                });
                if let (Some(hcm), Some(extra)) = (hcm.as_object_mut(), self.hcm.as_object()) {
                    for (k, v) in extra {
                        hcm.insert(k.clone(), v.clone());
                    }
                }
                json!({
                    "name": name,
                    "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } },
                    "filter_chains": [{ "filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": hcm
                    }]}]
                })
            })
            .collect();
        let mut clusters = vec![static_cluster("upstream", self.upstream_port)];
        clusters.extend(self.clusters.iter().cloned());
        let doc = json!({
            "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
            "static_resources": { "listeners": listeners, "clusters": clusters }
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}
