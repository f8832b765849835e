//! The proxy-wasm encoding of header pairs: a `u32` count, then a `u32` key
//! length and a `u32` value length per pair, then each key and value followed
//! by a NUL byte. All little-endian.
//!
//! Decoding reads data written by the host; it checks every length so a
//! malformed buffer gives an error, not a panic.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

pub(crate) fn encode<V: AsRef<[u8]>>(pairs: &[(&str, V)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(k, v)| 10 + k.len() + v.as_ref().len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len32(k.len()).to_le_bytes());
        out.extend_from_slice(&len32(v.as_ref().len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn read_u32(data: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

pub(crate) fn decode(data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    if data.is_empty() {
        return Some(Vec::new());
    }
    let count = read_u32(data, 0)?;
    // Each pair needs at least 10 bytes; refuse counts the buffer cannot hold.
    if count > data.len() / 10 + 1 {
        return None;
    }
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        let at = 4 + i * 8;
        sizes.push((read_u32(data, at)?, read_u32(data, at + 4)?));
    }
    let mut pos = 4 + count * 8;
    let mut pairs = Vec::with_capacity(count);
    for (klen, vlen) in sizes {
        let key = data.get(pos..pos.checked_add(klen)?)?;
        pos = pos.checked_add(klen)?.checked_add(1)?;
        let value = data.get(pos..pos.checked_add(vlen)?)?;
        pos = pos.checked_add(vlen)?.checked_add(1)?;
        pairs.push((String::from_utf8_lossy(key).into_owned(), value.to_vec()));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let pairs: Vec<(&str, &[u8])> = vec![(":path", b"/x"), ("a", b""), ("b", &[0xff, 1])];
        let decoded = decode(&encode(&pairs)).unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded[0], (":path".to_string(), b"/x".to_vec()));
        assert_eq!(decoded[2].1, vec![0xff, 1]);
        assert_eq!(decode(&[]).unwrap(), vec![]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = encode(&[("key", b"value")]);
        for cut in 0..good.len() - 1 {
            assert!(decode(&good[..cut]).is_none() || cut == 0, "cut at {cut}");
        }
        assert!(decode(&[255, 255, 255, 255]).is_none());
        let mut lying = good.clone();
        lying[4] = 200;
        assert!(decode(&lying).is_none());
    }
}
