//! The deployment examples of `docs/deploy/`: Istio `WasmPlugin`s, an Envoy
//! Gateway `EnvoyExtensionPolicy` and a plain Envoy snippet, each also with
//! `libportico.so` (the Envoy Gateway `dynamicModules` registry and
//! `dynamicModule` policy, the plain Envoy dynamic-module snippet). No Kubernetes
//! runs here, so each resource is checked for the fields those APIs define,
//! and every filter configuration in them is loaded into the built filter in
//! Envoy (`--mode validate`), which refuses a config the filter refuses.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use portico_harness::bootstrap::{module_filter, wasm_filter, Bootstrap};
use portico_harness::shipped::WASM_MOUNT;
use portico_harness::{wasm_path, workspace_root, Envoy};
use serde::Deserialize;
use serde_json::{json, Value};

fn documents(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(workspace_root().join("docs/deploy").join(name)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

/// Loads `config` into the filter `filter` in Envoy's validate mode.
fn assert_filter_accepts(filter: &str, config: &Value, context: &str) {
    let wasm = wasm_path(filter).unwrap();
    let bootstrap = Bootstrap::new(9)
        .listener(
            "main",
            vec![wasm_filter(
                &format!("portico.{filter}"),
                &wasm,
                &config.to_string(),
            )],
        )
        .render();
    let (ok, output) = Envoy::validate(&bootstrap);
    assert!(
        ok,
        "{context}: portico_{filter}.wasm refused its config:\n{output}"
    );
}

fn assert_only_fields(object: &Value, allowed: &[&str], context: &str) {
    for key in object.as_object().unwrap().keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{context}: `{key}` is not a field of this API"
        );
    }
}

/// `registry/portico/<filter>:<tag>` → `<filter>`.
fn filter_of(url: &str) -> String {
    let path = url.trim_start_matches("oci://");
    let last = path.rsplit('/').next().unwrap();
    let filter = last.split(':').next().unwrap().to_string();
    assert!(wasm_path(&filter).is_ok(), "{url} names no Portico filter");
    filter
}

#[test]
fn istio_wasm_plugins_are_well_formed_and_their_configs_load() {
    let docs = documents("istio-wasmplugin.yaml");
    assert_eq!(docs.len(), 3);
    for doc in docs {
        assert_eq!(doc["apiVersion"], "extensions.istio.io/v1alpha1");
        assert_eq!(doc["kind"], "WasmPlugin");
        let name = doc["metadata"]["name"].as_str().unwrap();
        let spec = &doc["spec"];
        assert_only_fields(
            spec,
            &[
                "selector",
                "targetRef",
                "targetRefs",
                "url",
                "sha256",
                "imagePullPolicy",
                "imagePullSecret",
                "pluginConfig",
                "pluginName",
                "phase",
                "priority",
                "failStrategy",
                "vmConfig",
                "match",
                "type",
            ],
            name,
        );
        let url = spec["url"].as_str().unwrap();
        assert!(url.starts_with("oci://"), "{name}: url {url}");
        assert!(["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"]
            .contains(&spec["phase"].as_str().unwrap()));
        assert!(spec["priority"].is_i64(), "{name}: priority");
        assert_eq!(
            spec["failStrategy"], "FAIL_CLOSE",
            "{name}: shipped examples fail closed"
        );
        let filter = filter_of(url);
        assert_eq!(spec["pluginName"], format!("portico.{filter}"));
        assert_filter_accepts(&filter, &spec["pluginConfig"], name);
    }
}

#[test]
fn envoy_gateway_policy_is_well_formed_and_its_config_loads() {
    let docs = documents("envoy-gateway.yaml");
    assert_eq!(docs.len(), 2);
    let paths = &docs[1];
    assert_eq!(paths["kind"], "ClientTrafficPolicy");
    assert_eq!(
        paths["spec"]["path"]["escapedSlashesAction"],
        "UnescapeAndRedirect"
    );
    assert_eq!(paths["spec"]["path"]["disableMergeSlashes"], false);
    let doc = &docs[0];
    assert_eq!(doc["apiVersion"], "gateway.envoyproxy.io/v1alpha1");
    assert_eq!(doc["kind"], "EnvoyExtensionPolicy");
    assert_only_fields(
        &doc["spec"],
        &[
            "targetRef",
            "targetRefs",
            "targetSelectors",
            "wasm",
            "extProc",
            "lua",
        ],
        "spec",
    );
    for target in doc["spec"]["targetRefs"].as_array().unwrap() {
        assert_eq!(target["group"], "gateway.networking.k8s.io");
        assert!(["HTTPRoute", "GRPCRoute", "Gateway"].contains(&target["kind"].as_str().unwrap()));
    }
    for wasm in doc["spec"]["wasm"].as_array().unwrap() {
        assert_only_fields(
            wasm,
            &["name", "rootID", "code", "config", "failOpen", "env"],
            "wasm",
        );
        assert_eq!(wasm["code"]["type"], "Image");
        assert_eq!(wasm["failOpen"], false);
        let filter = filter_of(wasm["code"]["image"]["url"].as_str().unwrap());
        assert_eq!(wasm["rootID"], format!("portico.{filter}"));
        assert_filter_accepts(&filter, &wasm["config"], "EnvoyExtensionPolicy");
    }
}

#[test]
fn plain_envoy_snippet_validates_in_a_bootstrap() {
    let docs = documents("envoy-snippet.yaml");
    let snippet = &docs[0];
    let dist = wasm_path("jwt")
        .unwrap()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let filters: Vec<Value> = snippet["http_filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = f.to_string().replace(WASM_MOUNT, &format!("{dist}/"));
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    // The path settings the snippet's rules rely on (issue 15's path tricks).
    let hcm = &snippet["http_connection_manager"];
    assert_eq!(hcm["normalize_path"], true);
    assert_eq!(hcm["merge_slashes"], true);
    assert_eq!(
        hcm["path_with_escaped_slashes_action"],
        "UNESCAPE_AND_REDIRECT"
    );
    let mut bootstrap = Bootstrap::new(9)
        .hcm_settings(hcm.clone())
        .listener("main", filters);
    for cluster in snippet["clusters"].as_array().unwrap() {
        bootstrap = bootstrap.raw_cluster(cluster.clone());
    }
    let (ok, output) = Envoy::validate(&bootstrap.render());
    assert!(ok, "{output}");
    // A broken snippet must fail the same check.
    let broken = bootstrap_with_bad_provider(&dist);
    let (ok, output) = Envoy::validate(&broken);
    assert!(!ok && output.contains("rules[0].requires"), "{output}");
}

/// RFC 8037's example Ed25519 public key.
const ED25519_JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn bootstrap_with_bad_provider(dist: &str) -> String {
    let config = json!({"providers": {"idp": {"issuer": "x", "local_jwks": {"inline_string": ED25519_JWKS}}},
                        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "nope"}}]});
    let wasm = std::path::PathBuf::from(format!("{dist}/portico_jwt.wasm"));
    Bootstrap::new(9)
        .listener(
            "main",
            vec![wasm_filter("portico.jwt", &wasm, &config.to_string())],
        )
        .render()
}

/// Loads `config` into the filter `filter` of `libportico.so` in Envoy's
/// validate mode, whatever the backend of the run.
fn assert_module_filter_accepts(filter: &str, config: &Value, context: &str) {
    let bootstrap = Bootstrap::new(9)
        .listener(
            "main",
            vec![module_filter(
                &format!("portico.{filter}"),
                filter,
                &config.to_string(),
            )],
        )
        .render();
    let (ok, output) = Envoy::validate(&bootstrap);
    assert!(
        ok,
        "{context}: libportico.so's {filter} refused its config:\n{output}"
    );
}

#[test]
fn envoy_gateway_dynamic_module_is_well_formed_and_its_config_loads() {
    let docs = documents("envoy-gateway-native.yaml");
    assert_eq!(docs.len(), 2);
    let proxy = &docs[0];
    assert_eq!(proxy["apiVersion"], "gateway.envoyproxy.io/v1alpha1");
    assert_eq!(proxy["kind"], "EnvoyProxy");
    let registry = proxy["spec"]["dynamicModules"].as_array().unwrap();
    assert_eq!(registry.len(), 1);
    let entry = &registry[0];
    assert_only_fields(
        entry,
        &["name", "source", "doNotClose", "loadGlobally"],
        "dynamicModules[]",
    );
    assert_eq!(entry["name"], "portico");
    assert_only_fields(&entry["source"], &["type", "local", "remote"], "source");
    assert_eq!(entry["source"]["type"], "Local");
    let path = entry["source"]["local"]["path"].as_str().unwrap();
    assert!(path.ends_with("/libportico.so"), "{path}");
    // The file is in a volume the proxy container mounts.
    let mounts = proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"]
        ["volumeMounts"]
        .as_array()
        .unwrap();
    assert!(
        mounts.iter().any(|m| path
            .strip_prefix(m["mountPath"].as_str().unwrap())
            .is_some_and(|rest| rest.starts_with('/'))),
        "{path} is in no mounted volume"
    );

    let policy = &docs[1];
    assert_eq!(policy["kind"], "EnvoyExtensionPolicy");
    assert_only_fields(
        &policy["spec"],
        &[
            "targetRef",
            "targetRefs",
            "targetSelectors",
            "wasm",
            "extProc",
            "lua",
            "dynamicModule",
        ],
        "spec",
    );
    for module in policy["spec"]["dynamicModule"].as_array().unwrap() {
        assert_only_fields(
            module,
            &["name", "filterName", "config", "terminalFilter", "backends"],
            "dynamicModule[]",
        );
        assert_eq!(
            module["name"], entry["name"],
            "the policy names a module the EnvoyProxy registers"
        );
        let filter = module["filterName"].as_str().unwrap();
        assert!(
            portico_harness::backend::MODULE_FILTERS.contains(&filter),
            "{filter} is not a filter of libportico.so"
        );
        assert_module_filter_accepts(filter, &module["config"], "EnvoyExtensionPolicy");
    }
}

#[test]
fn plain_envoy_dynamic_module_snippet_validates_in_a_bootstrap() {
    let docs = documents("envoy-native-snippet.yaml");
    let snippet = &docs[0];
    let filters = snippet["http_filters"].as_array().unwrap().clone();
    for filter in &filters {
        let typed = &filter["typed_config"];
        assert_eq!(typed["dynamic_module_config"]["name"], "portico");
        assert_eq!(
            typed["filter_config"]["@type"],
            "type.googleapis.com/google.protobuf.StringValue"
        );
    }
    let hcm = &snippet["http_connection_manager"];
    assert_eq!(hcm["normalize_path"], true);
    assert_eq!(hcm["merge_slashes"], true);
    assert_eq!(
        hcm["path_with_escaped_slashes_action"],
        "UNESCAPE_AND_REDIRECT"
    );
    let bootstrap = Bootstrap::new(9)
        .hcm_settings(hcm.clone())
        .listener("main", filters.clone());
    let (ok, output) = Envoy::validate(&bootstrap.render());
    assert!(ok, "{output}");
    // A broken config must fail the same check, with the module's message.
    let mut broken = filters;
    let text = broken[0]["typed_config"]["filter_config"]["value"]
        .as_str()
        .unwrap()
        .replace(r#""provider_name": "idp""#, r#""provider_name": "nope""#);
    broken[0]["typed_config"]["filter_config"]["value"] = text.into();
    let bootstrap = Bootstrap::new(9)
        .hcm_settings(hcm.clone())
        .listener("main", broken);
    let (ok, output) = Envoy::validate(&bootstrap.render());
    assert!(!ok && output.contains("rules[1].requires"), "{output}");
}
