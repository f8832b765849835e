//! SipHash-2-4 (Aumasson and Bernstein), keyed with 128 secret bits.
//!
//! Bucket keys come from clients, and their slot in the shared table must
//! not be computable by them: with an unkeyed or publicly seeded hash, a
//! client who knows the configuration can aim keys at a victim's slots.
//! SipHash is a PRF built for exactly this (hash-flooding resistance).
//! std's `SipHasher` is deprecated and `RandomState` cannot take a key we
//! share across VMs, so it is written out here (about 40 lines, checked
//! against the reference vectors in the tests).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipKey(pub [u8; 16]);

struct State {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl State {
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    fn absorb(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }
}

fn le64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

impl SipKey {
    /// SipHash-2-4 of the concatenation of `parts`.
    pub fn hash(&self, parts: &[&[u8]]) -> u64 {
        let (k0, k1) = (le64(&self.0[..8]), le64(&self.0[8..]));
        let mut s = State {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
        };
        let mut len = 0usize;
        let mut tail = [0u8; 8];
        let mut ntail = 0usize;
        for part in parts {
            for b in part.iter() {
                if let Some(slot) = tail.get_mut(ntail) {
                    *slot = *b;
                }
                ntail += 1;
                len += 1;
                if ntail == 8 {
                    s.absorb(u64::from_le_bytes(tail));
                    ntail = 0;
                }
            }
        }
        let mut last = (len as u64 & 0xff) << 56;
        last |= le64(tail.get(..ntail).unwrap_or(&[]));
        s.absorb(last);
        s.v2 ^= 0xff;
        for _ in 0..4 {
            s.round();
        }
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_key() -> SipKey {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        SipKey(k)
    }

    #[test]
    fn matches_the_reference_vectors() {
        // From the SipHash paper's vectors: key 00..0f, message 00..(n-1).
        let k = reference_key();
        assert_eq!(k.hash(&[]), 0x726f_db47_dd0e_0e31);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(k.hash(&[&msg]), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn agrees_with_std_siphasher_for_every_length_and_split() {
        use std::hash::{Hasher, SipHasher};
        let k = SipKey(*b"0123456789abcdef");
        let k0 = u64::from_le_bytes(*b"01234567");
        let k1 = u64::from_le_bytes(*b"89abcdef");
        let msg: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37)).collect();
        for n in 0..msg.len() {
            let mut std = SipHasher::new_with_keys(k0, k1);
            std.write(&msg[..n]);
            let want = std.finish();
            assert_eq!(k.hash(&[&msg[..n]]), want, "length {n}");
            let (a, b) = msg[..n].split_at(n / 3);
            assert_eq!(k.hash(&[a, b]), want, "length {n} split");
        }
    }

    #[test]
    fn the_key_changes_everything() {
        let a = SipKey([1; 16]);
        let b = SipKey([2; 16]);
        assert_ne!(a.hash(&[b"victim"]), b.hash(&[b"victim"]));
    }
}
