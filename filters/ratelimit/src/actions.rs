//! Descriptor actions (the names of Envoy's `RateLimit.Action`) and the
//! bucket key they build from a request.

use portico::config::route_match::HeaderMatcher;
use portico::config::{AnyHeaderName, ConfigError, NonEmptyString, Unsupported};
use portico::{Env, Headers};
use serde::Deserialize;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Values longer than this are replaced by a digest in the key, so a client
/// cannot make shared-data entries arbitrarily large.
pub const MAX_VALUE_BYTES: usize = 96;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    RequestHeaders(RequestHeaders),
    RemoteAddress(RemoteAddress),
    MaskedRemoteAddress(MaskedRemoteAddress),
    GenericKey(GenericKey),
    HeaderValueMatch(HeaderValueMatch),
    /// Portico's: a query parameter of the request.
    QueryParameter(QueryParameter),
    // Envoy actions that depend on what a wasm filter cannot see.
    SourceCluster(Unsupported<UnsupportedAction>),
    DestinationCluster(Unsupported<UnsupportedAction>),
    DynamicMetadata(Unsupported<UnsupportedAction>),
    Metadata(Unsupported<UnsupportedAction>),
    QueryParameterValueMatch(Unsupported<UnsupportedAction>),
    Extension(Unsupported<UnsupportedAction>),
}

portico::unsupported_reasons! {
    pub UnsupportedAction = "this action is not supported by Portico; supported: request_headers, \
        remote_address, masked_remote_address, generic_key, header_value_match, query_parameter";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestHeaders {
    pub header_name: AnyHeaderName,
    pub descriptor_key: NonEmptyString,
    #[serde(default)]
    pub skip_if_absent: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteAddress {}

/// Envoy's `RateLimit.Action.MaskedRemoteAddress`: the client address
/// reduced to its first `v4_prefix_mask_len` / `v6_prefix_mask_len` bits
/// (defaults 32 and 128: the whole address).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskedRemoteAddress {
    #[serde(default)]
    pub v4_prefix_mask_len: Option<PrefixLen<32>>,
    #[serde(default)]
    pub v6_prefix_mask_len: Option<PrefixLen<128>>,
}

/// A prefix length of at most `MAX` bits, refused at load otherwise (as
/// Envoy's `lte` validation does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixLen<const MAX: u8>(pub u8);

impl<'de, const MAX: u8> Deserialize<'de> for PrefixLen<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= MAX)
            .map(PrefixLen)
            .ok_or_else(|| {
                ConfigError::here(format!(
                    "prefix length {n} is out of range: 0 to {MAX} bits"
                ))
                .into_de()
            })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericKey {
    pub descriptor_value: NonEmptyString,
    #[serde(default)]
    pub descriptor_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderValueMatch {
    pub descriptor_value: NonEmptyString,
    #[serde(default)]
    pub descriptor_key: Option<String>,
    #[serde(default = "yes")]
    pub expect_match: bool,
    #[serde(deserialize_with = "at_least_one")]
    pub headers: Vec<HeaderMatcher>,
}

/// Envoy's `min_items: 1`: a match with no headers is refused at load.
fn at_least_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<HeaderMatcher>, D::Error> {
    let headers = Vec::<HeaderMatcher>::deserialize(d)?;
    if headers.is_empty() {
        return Err(ConfigError::here("needs at least one header matcher (as in Envoy)").into_de());
    }
    Ok(headers)
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryParameter {
    pub name: NonEmptyString,
    #[serde(default)]
    pub descriptor_key: Option<String>,
    #[serde(default)]
    pub skip_if_absent: bool,
}

/// What the key builder reads from a request.
pub struct RequestView<'a> {
    pub headers: &'a Headers<'a>,
    pub path: &'a str,
    /// For the downstream address (`source.address`), read only when needed.
    pub env: &'a Env<'a>,
    pub xff_num_trusted_hops: u32,
}

/// Appends this rule's descriptor to `key` (the local mode's bucket key).
/// `false` when an action has no value and is not allowed to skip: the rule
/// then does not apply, as an Envoy descriptor that cannot be produced is
/// not sent.
pub fn build_key(actions: &[Action], request: &RequestView<'_>, key: &mut String) -> bool {
    for_each_entry(actions, request, |k, v| push_entry(key, k, v))
}

/// The descriptor's entries as Envoy's ratelimit filter sends them to a
/// Rate Limit Service (the global mode); `None` when it cannot be produced.
pub fn descriptor(actions: &[Action], request: &RequestView<'_>) -> Option<Vec<(String, String)>> {
    let mut entries = Vec::with_capacity(actions.len());
    for_each_entry(actions, request, |k, v| {
        entries.push((k.to_string(), v.to_string()));
    })
    .then_some(entries)
}

/// Calls `entry` with each action's (key, value) in order, as native's
/// `populateDescriptors` composes them; `false` as soon as an action can
/// produce no entry and may not skip.
fn for_each_entry(
    actions: &[Action],
    request: &RequestView<'_>,
    mut entry: impl FnMut(&str, &str),
) -> bool {
    for action in actions {
        let ok = match action {
            Action::RequestHeaders(r) => match request.headers.get(&r.header_name) {
                Some(v) => {
                    entry(&r.descriptor_key, &v);
                    true
                }
                None => r.skip_if_absent,
            },
            Action::RemoteAddress(_) => match client_ip(request) {
                Some(ip) => {
                    entry("remote_address", &ip_string(ip));
                    true
                }
                None => false,
            },
            Action::MaskedRemoteAddress(m) => match masked_client(m, request) {
                Some(cidr) => {
                    entry("masked_remote_address", &cidr);
                    true
                }
                None => false,
            },
            Action::GenericKey(g) => {
                entry(
                    // Native takes an empty key for the default too.
                    g.descriptor_key
                        .as_deref()
                        .filter(|k| !k.is_empty())
                        .unwrap_or("generic_key"),
                    &g.descriptor_value,
                );
                true
            }
            Action::HeaderValueMatch(h) => {
                let matched = h.headers.iter().all(|m| m.matches(request.headers));
                if matched == h.expect_match {
                    entry(
                        h.descriptor_key
                            .as_deref()
                            .filter(|k| !k.is_empty())
                            .unwrap_or("header_match"),
                        &h.descriptor_value,
                    );
                    true
                } else {
                    false
                }
            }
            Action::QueryParameter(q) => match portico::query::query_param(request.path, &q.name) {
                Some(v) => {
                    entry(q.descriptor_key.as_deref().unwrap_or(&q.name), &v);
                    true
                }
                None => q.skip_if_absent,
            },
            // Refused at load.
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The client: Envoy's downstream address, or with `xff_num_trusted_hops`
/// = N, the N-th address from the right of `x-forwarded-for`. An entry that
/// is not an IP address falls back to the downstream address, as Envoy's
/// XFF handling does, and addresses are written canonically
/// (`2001:0db8::0001` is `2001:db8::1`), so spellings of one address cannot
/// make several keys.
fn client_ip(request: &RequestView<'_>) -> Option<IpAddr> {
    let n = request.xff_num_trusted_hops as usize;
    if n > 0 {
        if let Some(xff) = request.headers.get("x-forwarded-for") {
            // Empty entries count, as in Envoy's `getLastAddressFromXFF`:
            // `1.2.3.4,` ends in an empty entry, which is no address.
            let hops: Vec<&str> = xff.split(',').map(str::trim).collect();
            let hop = hops.len().checked_sub(n).and_then(|i| hops.get(i));
            if let Some(ip) = hop.and_then(|h| parse_ip(h)) {
                return Some(ip);
            }
        }
    }
    let peer = request.env.source_ip()?;
    parse_ip(&peer)
}

/// An address without its IPv6 zone (`fe80::1%eth0` is `fe80::1`): a wasm
/// filter cannot resolve interface names as native does, and an address
/// it could not read would drop the client's descriptors; without the zone
/// a client cannot split itself into many keys by varying it either.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let unzoned = match text.split_once('%') {
        Some((address, _)) if address.contains(':') => address,
        _ => text,
    };
    unzoned.parse().ok()
}

/// The client's network as Envoy writes it (`2001:db8:1:2::/64`,
/// `192.0.2.0/24`).
fn masked_client(m: &MaskedRemoteAddress, request: &RequestView<'_>) -> Option<String> {
    Some(match client_ip(request)? {
        IpAddr::V4(v4) => {
            let len = m.v4_prefix_mask_len.map_or(32, |l| l.0);
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            format!("{}/{len}", Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let len = m.v6_prefix_mask_len.map_or(128, |l| l.0);
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            let masked = Ipv6Addr::from(u128::from(v6) & mask);
            format!("{}/{len}", ip_string(IpAddr::V6(masked)))
        }
    })
}

/// An address as Envoy writes it (`inet_ntop`): Rust's form, except that
/// an IPv4-compatible address (96 zero bits, then a non-zero seventh
/// group) ends in dotted IPv4, `::1.2.3.4` rather than `::102:304`.
fn ip_string(ip: IpAddr) -> String {
    if let IpAddr::V6(v6) = ip {
        let s = v6.segments();
        if s[..6].iter().all(|g| *g == 0) && s[6] != 0 {
            let [.., a, b, c, d] = v6.octets();
            return format!("::{}", Ipv4Addr::new(a, b, c, d));
        }
    }
    ip.to_string()
}

/// `|key=len:value`, length-prefixed so no value can forge another key.
fn push_entry(out: &mut String, key: &str, value: &str) {
    out.push('|');
    out.push_str(key);
    if value.len() <= MAX_VALUE_BYTES {
        let _ = write!(out, "={}:{value}", value.len());
    } else {
        let _ = write!(out, "#{}:{:016x}", value.len(), digest(value.as_bytes()));
    }
}

/// FNV-1a, 64 bits: a compact stand-in for values too long to keep.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_envoy_writes_them() {
        let w = |s: &str| ip_string(s.parse().unwrap());
        assert_eq!(w("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(w("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(w("::102"), "::102");
        assert_eq!(w("::1"), "::1");
        assert_eq!(w("::"), "::");
        assert_eq!(w("2001:db8::1"), "2001:db8::1");
        assert_eq!(w("1.2.3.4"), "1.2.3.4");
    }

    #[test]
    fn an_ipv6_zone_is_dropped_not_the_address() {
        assert_eq!(parse_ip("fe80::1%eth0"), "fe80::1".parse().ok());
        assert_eq!(parse_ip("fe80::1%1"), "fe80::1".parse().ok());
        assert_eq!(parse_ip("192.0.2.1%1"), None);
        assert_eq!(parse_ip("2001:db8::1"), "2001:db8::1".parse().ok());
    }

    #[test]
    fn entries_are_unambiguous() {
        let mut a = String::new();
        push_entry(&mut a, "k", "x|k=1:y");
        let mut b = String::new();
        push_entry(&mut b, "k", "x");
        push_entry(&mut b, "k", "y");
        assert_ne!(a, b);
        let mut long = String::new();
        push_entry(&mut long, "k", &"v".repeat(1000));
        assert!(long.len() < 40, "{long}");
    }
}
