//! The ABI of `dist/libportico.so` against the Envoy binary the tests run:
//! every callback the adapter declares is exported by Envoy, every hook
//! Envoy requires is exported by the module, and the module leaves no
//! callback to the dynamic linker (they are resolved at load, so a missing
//! one refuses the module by name instead of crashing a request).

use portico::dynmod::abi::NAMES;
use portico_harness::{find_envoy, workspace_root};
use std::collections::BTreeSet;
use std::process::Command;

/// `nm -D` of a binary: (defined, undefined) dynamic symbols.
fn dynamic_symbols(path: &std::path::Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new("nm")
        .arg("-D")
        .arg(path)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm -D {} failed", path.display());
    let (mut defined, mut undefined) = (BTreeSet::new(), BTreeSet::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["U", name] => {
                undefined.insert(name.to_string());
            }
            [_, kind, name] if *kind != "U" => {
                defined.insert(name.to_string());
            }
            _ => {}
        }
    }
    (defined, undefined)
}

#[test]
fn every_declared_callback_is_exported_by_envoy() {
    let (envoy, _) = dynamic_symbols(&find_envoy().unwrap());
    assert!(NAMES.len() > 30, "{} callbacks declared", NAMES.len());
    let missing: Vec<&&str> = NAMES.iter().filter(|n| !envoy.contains(**n)).collect();
    assert!(missing.is_empty(), "Envoy does not export {missing:?}");
}

#[test]
fn the_module_exports_every_required_hook_and_links_no_callback() {
    let so = workspace_root().join("dist/libportico.so");
    let (defined, undefined) = dynamic_symbols(&so);
    // The hooks Envoy 1.40 refuses a module without (../shared/notes), and
    // the optional ones Portico uses.
    let hooks = [
        "program_init",
        "http_filter_config_new",
        "http_filter_config_destroy",
        "http_filter_new",
        "http_filter_destroy",
        "http_filter_request_headers",
        "http_filter_request_body",
        "http_filter_request_trailers",
        "http_filter_response_headers",
        "http_filter_response_body",
        "http_filter_response_trailers",
        "http_filter_stream_complete",
        "http_filter_http_callout_done",
        "http_filter_http_stream_headers",
        "http_filter_http_stream_data",
        "http_filter_http_stream_trailers",
        "http_filter_http_stream_complete",
        "http_filter_http_stream_reset",
        "http_filter_scheduled",
        "http_filter_downstream_above_write_buffer_high_watermark",
        "http_filter_downstream_below_write_buffer_low_watermark",
        "http_filter_config_scheduled",
        "http_filter_config_http_callout_done",
        "http_filter_config_http_stream_headers",
        "http_filter_config_http_stream_complete",
        "http_filter_config_http_stream_reset",
    ];
    let missing: Vec<String> = hooks
        .iter()
        .map(|h| format!("envoy_dynamic_module_on_{h}"))
        .filter(|h| !defined.contains(h))
        .collect();
    assert!(missing.is_empty(), "libportico.so lacks {missing:?}");
    let linked: Vec<&String> = undefined
        .iter()
        .filter(|s| s.starts_with("envoy_dynamic_module_callback_"))
        .collect();
    assert!(linked.is_empty(), "left to the dynamic linker: {linked:?}");
}
