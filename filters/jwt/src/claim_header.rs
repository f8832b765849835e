//! `claim_to_headers`: a claim's value as Envoy writes it into a header.
//!
//! - a string as it is (an empty one adds no header);
//! - a number as an integer when it is a whole number from 0 to below
//!   2^64, otherwise as C's `%f` (`1.500000`, `-3.000000`);
//! - a boolean as `true` / `false`;
//! - a list or an object as standard base64 (padded) of its JSON text, so
//!   `["user,admin"]` can never be confused with two roles;
//! - `null` adds no header.
//!
//! The JSON text follows protobuf's printer, which Envoy uses: compact,
//! numbers as doubles in their shortest `%.15g`/`%.17g` form, `<`, `>`,
//! U+2028 and U+2029 escaped. Object keys come in sorted order; Envoy's
//! come in its hash map's order (README, "Differences").

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt::Write;

/// 2^64, the first value Envoy's `uint64_t` cannot hold.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A claim by dotted path (`realm.roles`), rendered for a header.
pub fn claim_value(claims: &Map<String, Value>, path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => number(n.as_f64()?),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => {
            let mut json = String::new();
            write_json(v, &mut json);
            STANDARD.encode(json.as_bytes())
        }
        Value::Null => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// A number claim as a header value (Envoy's `convertClaimDoubleToString`).
fn number(f: f64) -> String {
    if (0.0..TWO_POW_64).contains(&f) && f.fract() == 0.0 {
        // Whole and in range: the cast is exact.
        (f as u64).to_string()
    } else {
        format!("{f:.6}")
    }
}

/// C's `%.{precision}g` for a finite double.
fn g_format(f: f64, precision: usize) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    let p = i32::try_from(precision).unwrap_or(17);
    if exp < -4 || exp >= p {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(p - 1 - exp).unwrap_or(0);
        strip(&format!("{f:.decimals$}"))
    }
}

/// A double in JSON as protobuf prints it: `%.15g` when that reads back
/// as the same double, else `%.17g`.
fn json_number(f: f64) -> String {
    let short = g_format(f, 15);
    if short.parse::<f64>().ok() == Some(f) {
        short
    } else {
        g_format(f, 17)
    }
}

/// Characters protobuf's JSON printer writes as `\uXXXX`: controls, `<`,
/// `>`, DEL, and the invisible format characters (soft hyphen, zero-width
/// and direction marks, separators, byte order mark, tags).
fn escaped(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00..=0x1f
            | 0x3c
            | 0x3e
            | 0x7f
            | 0xad
            | 0x0600..=0x0603
            | 0x06dd
            | 0x070f
            | 0x17b4
            | 0x17b5
            | 0x200b..=0x200f
            | 0x2028..=0x202e
            | 0x2060..=0x2064
            | 0x206a..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    )
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escaped(c) => {
                // As UTF-16 code units: a surrogate pair beyond U+FFFF.
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.as_f64().map(json_number).unwrap_or_default()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(v: Value) -> Option<String> {
        let mut m = Map::new();
        m.insert("c".into(), v);
        claim_value(&m, "c")
    }

    #[test]
    fn scalars_are_written_as_envoy_writes_them() {
        assert_eq!(render(json!(5)).as_deref(), Some("5"));
        assert_eq!(render(json!(1000.0)).as_deref(), Some("1000"));
        assert_eq!(render(json!(1.5)).as_deref(), Some("1.500000"));
        assert_eq!(render(json!(-3)).as_deref(), Some("-3.000000"));
        assert_eq!(render(json!(1e-7)).as_deref(), Some("0.000000"));
        assert_eq!(
            render(json!(u64::MAX)).as_deref(),
            Some("18446744073709551616.000000")
        );
        assert_eq!(render(json!(true)).as_deref(), Some("true"));
        assert_eq!(render(json!("")), None);
        assert_eq!(render(Value::Null), None);
    }

    #[test]
    fn lists_and_objects_are_base64_of_their_json() {
        assert_eq!(
            render(json!(["user,admin"])).as_deref(),
            Some("WyJ1c2VyLGFkbWluIl0=")
        );
        assert_eq!(render(json!([])).as_deref(), Some("W10="));
        assert_eq!(render(json!({})).as_deref(), Some("e30="));
        let nums = json!([u64::MAX, 1e300, 0.1, -0.0, 123456789012u64, 1.5e-9]);
        let mut text = String::new();
        write_json(&nums, &mut text);
        assert_eq!(
            text,
            "[1.8446744073709552e+19,1e+300,0.1,-0,123456789012,1.5e-09]"
        );
    }
}
