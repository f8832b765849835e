//! `cargo xtask package`: each filter of `dist/` as an OCI image layout
//! (`dist/oci/portico_<name>/`) in the Wasm artifact format Istio and Envoy
//! Gateway pull: a manifest whose config is
//! `application/vnd.module.wasm.config.v1+json` and whose one layer is the
//! module, `application/vnd.module.wasm.content.layer.v1+wasm`.
//! No Docker needed; push with `oras cp --from-oci-layout` or `skopeo copy`.
//!
//! `dist/libportico.so`, the dynamic module, goes to `dist/oci/libportico/`
//! as an OCI artifact (see [`module_layout`]).

use serde_json::json;
#[cfg(test)]
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.module.wasm.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

// Envoy dynamic modules have no registered artifact format (Envoy loads a
// local file; Envoy Gateway's `Remote` source is an HTTP URL with a sha256,
// not an OCI reference). So the module is packaged as the OCI image spec
// (1.1) says for artifacts of their own kind: a manifest whose
// `artifactType` names the kind, the empty config, and the file as the one
// layer, titled `libportico.so` so that `oras pull` writes it under the name
// Envoy looks up (`dynamic_module_config: { name: portico }`). The media
// types are Portico's own vendor types; annotations record what a loader
// must match: the CPU architecture and OS it was built for (also in the
// index's `platform`), the libc, and the Envoy version whose ABI it was
// built against (Envoy checks the ABI version at load).
pub const MODULE_ARTIFACT_TYPE: &str = "application/vnd.portico.envoy.dynamic-module.v1";
pub const MODULE_LAYER_MEDIA_TYPE: &str =
    "application/vnd.portico.envoy.dynamic-module.layer.v1.so";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The file name the module layer carries and Envoy loads.
pub const MODULE_FILE: &str = "libportico.so";

/// The files of one image layout: `(relative path, contents)`.
pub fn layout(name: &str, version: &str, wasm: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut blob = |bytes: Vec<u8>| -> (String, usize) {
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        let size = bytes.len();
        files.push((
            format!("blobs/sha256/{}", &digest["sha256:".len()..]),
            bytes,
        ));
        (digest, size)
    };
    let root_id = format!("portico.{name}");
    let config = json!({
        "type": "envoy_proxy",
        "abi_versions": ["v0.2.1"],
        "config": {"root_ids": [root_id]}
    });
    let (config_digest, config_size) = blob(config.to_string().into_bytes());
    let (layer_digest, layer_size) = blob(wasm.to_vec());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": config_digest,
            "size": config_size,
            "annotations": {"org.opencontainers.image.title": "runtime-config.json"}
        },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": layer_size,
            "annotations": {"org.opencontainers.image.title": "plugin.wasm"}
        }],
        "annotations": {
            "org.opencontainers.image.title": format!("portico-{name}"),
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.licenses": "Apache-2.0"
        }
    });
    let (manifest_digest, manifest_size) = blob(manifest.to_string().into_bytes());
    finish(
        files,
        json!({
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": version}
        }),
    )
}

/// Adds `index.json` (naming the one manifest) and `oci-layout`.
fn finish(
    mut files: Vec<(String, Vec<u8>)>,
    manifest: serde_json::Value,
) -> Vec<(String, Vec<u8>)> {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [manifest]
    });
    files.push(("index.json".into(), index.to_string().into_bytes()));
    files.push((
        "oci-layout".into(),
        json!({"imageLayoutVersion": "1.0.0"})
            .to_string()
            .into_bytes(),
    ));
    files
}

/// The OCI architecture name of the machine `cargo xtask build` ran on, for
/// which it built the module.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The files of the image layout of the dynamic module `so`, built for
/// `arch` (OCI name) against Envoy `envoy`: an artifact of type
/// [`MODULE_ARTIFACT_TYPE`] whose one layer is the module.
pub fn module_layout(version: &str, so: &[u8], arch: &str, envoy: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut blob = |bytes: Vec<u8>| -> (String, usize) {
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        let size = bytes.len();
        files.push((
            format!("blobs/sha256/{}", &digest["sha256:".len()..]),
            bytes,
        ));
        (digest, size)
    };
    let (config_digest, config_size) = blob(b"{}".to_vec());
    let (layer_digest, layer_size) = blob(so.to_vec());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": MODULE_ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": config_digest,
            "size": config_size
        },
        "layers": [{
            "mediaType": MODULE_LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": layer_size,
            "annotations": {"org.opencontainers.image.title": MODULE_FILE}
        }],
        "annotations": {
            "org.opencontainers.image.title": "portico-dynamic-module",
            "org.opencontainers.image.description": "Portico's filters (jwt, headers, ratelimit, hello, edge by filter_name) as one Envoy dynamic module",
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.licenses": "Apache-2.0",
            "io.portico.dynamic-module.name": "portico",
            "io.portico.dynamic-module.platform": format!("linux/{arch}"),
            "io.portico.dynamic-module.libc": "glibc",
            "io.portico.dynamic-module.envoy-version": envoy
        }
    });
    let (manifest_digest, manifest_size) = blob(manifest.to_string().into_bytes());
    finish(
        files,
        json!({
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": MODULE_ARTIFACT_TYPE,
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": version}
        }),
    )
}

fn write_layout(dir: &Path, files: Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    for (path, contents) in files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        std::fs::write(&file, contents).map_err(|e| format!("write {}: {e}", file.display()))?;
    }
    Ok(())
}

/// Writes the layouts of the built filters under `dist/oci/`.
pub fn package(built: &[(String, std::path::PathBuf)], dist: &Path) -> Result<(), String> {
    let version = env!("CARGO_PKG_VERSION");
    for (name, wasm) in built {
        let bytes = std::fs::read(wasm).map_err(|e| format!("read {}: {e}", wasm.display()))?;
        let dir = dist.join("oci").join(format!("portico_{name}"));
        write_layout(&dir, layout(name, version, &bytes))?;
        println!("{}:{version}", dir.display());
    }
    let so = dist.join(MODULE_FILE);
    let bytes = std::fs::read(&so).map_err(|e| format!("read {}: {e}", so.display()))?;
    let dir = dist.join("oci").join("libportico");
    write_layout(
        &dir,
        module_layout(
            version,
            &bytes,
            oci_arch(),
            portico_harness::install::ENVOY_VERSION,
        ),
    )?;
    println!(
        "{}:{version} (the dynamic module, linux/{})",
        dir.display(),
        oci_arch()
    );
    println!(
        "\npush one with: oras cp --from-oci-layout dist/oci/portico_jwt:{version} registry.example.com/portico/jwt:{version}"
    );
    Ok(())
}

/// Reads a blob of a layout back by digest.
#[cfg(test)]
fn read_blob(dir: &Path, digest: &Value) -> Option<Vec<u8>> {
    let hex = digest.as_str()?.strip_prefix("sha256:")?;
    std::fs::read(dir.join("blobs/sha256").join(hex)).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// Every descriptor's digest and size match its blob, from index.json down to the module.
    #[test]
    fn layout_is_content_addressed_and_follows_the_wasm_artifact_format() {
        let wasm = b"\0asm\x01\0\0\0 pretend module".to_vec();
        let dir = std::env::temp_dir().join(format!("portico-oci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, contents) in layout("jwt", "0.1.0", &wasm) {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, contents).unwrap();
        }
        let read = |p: &str| {
            serde_json::from_slice::<Value>(&std::fs::read(dir.join(p)).unwrap()).unwrap()
        };
        assert_eq!(read("oci-layout")["imageLayoutVersion"], "1.0.0");
        let index = read("index.json");
        let descriptor = &index["manifests"][0];
        assert_eq!(
            descriptor["annotations"]["org.opencontainers.image.ref.name"],
            "0.1.0"
        );
        let check = |d: &Value| -> Vec<u8> {
            let blob = read_blob(&dir, &d["digest"]).unwrap();
            assert_eq!(d["size"].as_u64().unwrap() as usize, blob.len());
            assert_eq!(
                d["digest"].as_str().unwrap(),
                format!("sha256:{:x}", Sha256::digest(&blob))
            );
            blob
        };
        let manifest: Value = serde_json::from_slice(&check(descriptor)).unwrap();
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        let config: Value = serde_json::from_slice(&check(&manifest["config"])).unwrap();
        assert_eq!(config["config"]["root_ids"][0], "portico.jwt");
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "Istio wants exactly one layer");
        assert_eq!(layers[0]["mediaType"], LAYER_MEDIA_TYPE);
        assert_eq!(check(&layers[0]), wasm);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The module's artifact: content-addressed like the wasm images, its
    /// kind, platform and file name where a puller and Envoy look for them.
    #[test]
    fn module_layout_is_an_oci_artifact_holding_libportico_so() {
        let so = b"\x7fELF pretend module".to_vec();
        let dir = std::env::temp_dir().join(format!("portico-oci-so-{}", std::process::id()));
        write_layout(&dir, module_layout("0.1.0", &so, "amd64", "1.40.0")).unwrap();
        let read = |p: &str| {
            serde_json::from_slice::<Value>(&std::fs::read(dir.join(p)).unwrap()).unwrap()
        };
        assert_eq!(read("oci-layout")["imageLayoutVersion"], "1.0.0");
        let index = read("index.json");
        let descriptor = &index["manifests"][0];
        assert_eq!(descriptor["artifactType"], MODULE_ARTIFACT_TYPE);
        assert_eq!(descriptor["platform"]["architecture"], "amd64");
        assert_eq!(descriptor["platform"]["os"], "linux");
        let check = |d: &Value| -> Vec<u8> {
            let blob = read_blob(&dir, &d["digest"]).unwrap();
            assert_eq!(d["size"].as_u64().unwrap() as usize, blob.len());
            assert_eq!(
                d["digest"].as_str().unwrap(),
                format!("sha256:{:x}", Sha256::digest(&blob))
            );
            blob
        };
        let manifest: Value = serde_json::from_slice(&check(descriptor)).unwrap();
        assert_eq!(manifest["artifactType"], MODULE_ARTIFACT_TYPE);
        assert_eq!(manifest["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(check(&manifest["config"]), b"{}");
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], MODULE_LAYER_MEDIA_TYPE);
        assert_eq!(
            layers[0]["annotations"]["org.opencontainers.image.title"],
            "libportico.so"
        );
        assert_eq!(check(&layers[0]), so);
        assert_eq!(
            manifest["annotations"]["io.portico.dynamic-module.envoy-version"],
            "1.40.0"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
