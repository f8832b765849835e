//! A unary gRPC reply read from an HTTP/2 stream, as Envoy's gRPC client
//! would report it: the ABI has HTTP streams, not gRPC calls.

use super::shared::{Call, Reply};

const OK: u32 = 0;
const UNKNOWN: u32 = 2;
const INTERNAL: u32 = 13;
const UNAVAILABLE: u32 = 14;
const RESOURCE_EXHAUSTED: u32 = 8;

/// gRPC's mapping of an HTTP status to a gRPC status (the one Envoy uses
/// for a reply without `grpc-status`).
fn from_http(status: u16) -> u32 {
    match status {
        400 => INTERNAL,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

fn find<'a>(pairs: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Fills `grpc_status`, `grpc_message` and `body` (the message without its
/// frame) of a finished call; returns the status and the message's size.
pub(super) fn finish(call: &mut Call) -> (u32, usize) {
    let reply: &mut Reply = &mut call.reply;
    let http = find(&reply.headers, ":status")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u16>().ok());
    let (status, message) = match http {
        None => (
            UNAVAILABLE,
            Some("portico: no response headers".to_string()),
        ),
        Some(200) => {
            // Trailers, or the headers of a trailers-only reply.
            let source = if find(&reply.trailers, "grpc-status").is_some() {
                &reply.trailers
            } else {
                &reply.headers
            };
            let status = find(source, "grpc-status")
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(UNKNOWN);
            let message =
                find(source, "grpc-message").map(|m| String::from_utf8_lossy(m).into_owned());
            (status, message)
        }
        Some(code) => (
            from_http(code),
            Some(format!("upstream answered HTTP {code}")),
        ),
    };
    reply.grpc_status = status;
    reply.grpc_message = message;
    if status != OK {
        reply.body.clear();
        return (status, 0);
    }
    if call.dropped > 0 {
        let size = reply.body.len() + call.dropped;
        reply.body.clear();
        reply.grpc_status = RESOURCE_EXHAUSTED;
        reply.grpc_message = Some(format!("portico: a reply of {size} bytes"));
        return (RESOURCE_EXHAUSTED, 0);
    }
    let body = std::mem::take(&mut reply.body);
    match body.split_first_chunk::<5>() {
        // `OK` without a message: Envoy's gRPC client fails a unary call
        // that closes without one.
        None if body.is_empty() => fail(reply, "no message"),
        Some(([0, a, b, c, d], rest)) => {
            let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            match rest.get(..len) {
                Some(message) => {
                    reply.body = message.to_vec();
                    (OK, len)
                }
                None => fail(reply, "a truncated message"),
            }
        }
        Some(_) => fail(reply, "a compressed message"),
        None => fail(reply, "a truncated frame"),
    }
}

fn fail(reply: &mut Reply, why: &str) -> (u32, usize) {
    reply.grpc_status = INTERNAL;
    reply.grpc_message = Some(format!("portico: the reply held {why}"));
    (INTERNAL, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(headers: &[(&str, &str)], body: &[u8], trailers: &[(&str, &str)]) -> Call {
        let pairs = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        Call {
            token: 1,
            grpc: true,
            reply: Reply {
                headers: pairs(headers),
                body: body.to_vec(),
                trailers: pairs(trailers),
                grpc_status: 0,
                grpc_message: None,
            },
            dropped: 0,
        }
    }

    #[test]
    fn reads_status_and_message_as_a_grpc_client_does() {
        let mut ok = call(
            &[(":status", "200")],
            &[0, 0, 0, 0, 2, 8, 1],
            &[("grpc-status", "0")],
        );
        assert_eq!(finish(&mut ok), (0, 2));
        assert_eq!(ok.reply.body, vec![8, 1]);

        let mut only = call(
            &[
                (":status", "200"),
                ("grpc-status", "14"),
                ("grpc-message", "down"),
            ],
            b"",
            &[],
        );
        assert_eq!(finish(&mut only), (14, 0));
        assert_eq!(only.reply.grpc_message.as_deref(), Some("down"));

        let mut http = call(&[(":status", "503")], b"", &[]);
        assert_eq!(finish(&mut http).0, UNAVAILABLE);
        let mut missing = call(&[(":status", "200")], &[0, 0, 0, 0, 0], &[]);
        assert_eq!(finish(&mut missing).0, UNKNOWN);
        let mut empty = call(
            &[(":status", "200")],
            &[0, 0, 0, 0, 0],
            &[("grpc-status", "0")],
        );
        assert_eq!(finish(&mut empty), (0, 0), "an empty message is a message");
        let mut none = call(&[(":status", "200")], b"", &[("grpc-status", "0")]);
        assert_eq!(finish(&mut none).0, INTERNAL, "no message at all");
        let mut short = call(
            &[(":status", "200")],
            &[0, 0, 0, 0, 9, 1],
            &[("grpc-status", "0")],
        );
        assert_eq!(finish(&mut short).0, INTERNAL);
        let mut compressed = call(
            &[(":status", "200")],
            &[1, 0, 0, 0, 0],
            &[("grpc-status", "0")],
        );
        assert_eq!(finish(&mut compressed).0, INTERNAL);
    }
}
