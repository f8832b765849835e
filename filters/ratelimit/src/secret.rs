//! The hash key that places bucket keys in the table: 128 bits from a
//! CSPRNG, drawn once per Envoy process and shared by every worker's VM
//! through shared data, so all of them place a key in the same slot while
//! no client can compute where that is.
//!
//! In Envoy, `getrandom` on wasm32-wasip1 calls WASI `random_get`, which
//! proxy-wasm-cpp-host serves from BoringSSL's `RAND_bytes`.
//!
//! Creating it once is the delicate part: Envoy creates a missing key
//! whatever CAS the writer passes, so two VMs that both find it missing
//! would both write, and the one that read back first would keep a secret
//! the other has since replaced. Every writer therefore passes a CAS that
//! no existing entry has ([`CREATE_ONLY`]): it creates the key when it is
//! missing and fails against one that exists, so the first value written is
//! never overwritten; every VM then reads back and uses what is stored.

use crate::siphash::SipKey;
use portico::host::HostError;
use portico::Env;

const KEY: &str = "portico.ratelimit|secret";

/// A CAS value that an existing entry carries only if Envoy's global CAS
/// counter stands exactly there (it counts every shared-data write of the
/// process and starts at 1). The secret is created by the first VM that
/// configures, long before that.
pub const CREATE_ONLY: u32 = u32::MAX;

/// The process's secret, creating it if no VM has yet.
pub fn load_or_create(env: &Env<'_>) -> Result<SipKey, String> {
    for _ in 0..4 {
        if let Some((value, _)) = env.shared_get(KEY).map_err(|e| e.to_string())? {
            let bytes: [u8; 16] = value.as_slice().try_into().map_err(|_| {
                format!("shared-data key {KEY} holds {} bytes, not 16", value.len())
            })?;
            return Ok(SipKey(bytes));
        }
        let mut fresh = [0u8; 16];
        getrandom::getrandom(&mut fresh).map_err(|e| format!("no random source: {e}"))?;
        match env.shared_set(KEY, &fresh, Some(CREATE_ONLY)) {
            // Created, or another VM was first: either way, read it back.
            Ok(()) | Err(HostError::CasMismatch) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("shared-data key {KEY} could not be created"))
}
