//! The `slice` condition: a point is in slice `index` of `total` iff
//! `siphash24(zero key, canonical id bytes) % total == index`, where the canonical bytes are the
//! 8 little-endian bytes of a numeric id or the 16 RFC 4122 (big-endian) bytes of a UUID.
//! Qdrant fixes this function forever, so clients can rely on slice membership.

use serde::Deserialize;

use crate::point_id::PointId;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slice {
    pub total: u32,
    pub index: u32,
}

impl Slice {
    pub fn contains(&self, id: PointId) -> bool {
        self.total != 0 && slice_hash(id) % u64::from(self.total) == u64::from(self.index)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.total == 0 {
            return Err("slice total must be at least 1".to_owned());
        }
        if self.index >= self.total {
            return Err(format!(
                "slice index must be in 0..{}, got {}",
                self.total, self.index
            ));
        }
        Ok(())
    }
}

pub fn slice_hash(id: PointId) -> u64 {
    match id {
        PointId::Num(n) => siphash24(0, 0, &n.to_le_bytes()),
        PointId::Uuid(u) => siphash24(0, 0, &u.to_be_bytes()),
    }
}

/// SipHash-2-4 (Aumasson & Bernstein) with key `(k0, k1)`.
pub fn siphash24(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = msg.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = u64::from_le_bytes(word);
        v[3] ^= m;
        sip_round(&mut v);
        sip_round(&mut v);
        v[0] ^= m;
    }
    let tail = chunks.remainder();
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    // The final word carries the message length mod 256 in its top byte.
    last[7] = msg.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_vectors() {
        // Key 00..0f, messages 00, 0001, 000102, ... (from the SipHash paper's reference set).
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let expected = [
            0x726f_db47_dd0e_0e31,
            0x74f8_39c5_93dc_67fd,
            0x0d6c_8009_d9a9_4f5a,
            0x8567_6696_d7fb_7e2d,
            0xcf27_94e0_2771_87b7,
            0x1876_5564_cd99_a68d,
            0xcbc9_466e_58fe_e3ce,
            0xab02_00f5_8b01_d137,
        ];
        let msg: Vec<u8> = (0..16).collect();
        for (len, want) in expected.iter().enumerate() {
            assert_eq!(siphash24(k0, k1, &msg[..len]), *want, "length {len}");
        }
        // The full-block path (8+ bytes), from the same table (length 15).
        assert_eq!(siphash24(k0, k1, &msg[..15]), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn slices_partition_ids() {
        let ids: Vec<PointId> = (0..500u64)
            .map(PointId::Num)
            .chain((0..100u128).map(|i| PointId::Uuid(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c))))
            .collect();
        for total in [1u32, 3, 8] {
            let mut sizes = vec![0usize; total as usize];
            for &id in &ids {
                let hits: Vec<u32> = (0..total)
                    .filter(|&index| Slice { total, index }.contains(id))
                    .collect();
                assert_eq!(hits.len(), 1, "{id} in slices {hits:?} of {total}");
                sizes[hits[0] as usize] += 1;
            }
            assert!(sizes.iter().all(|&s| s > 0), "{sizes:?}");
        }
        // Same hash for every total: slice 0 of 4 lies inside slice 0 of 2.
        for &id in &ids {
            if (Slice { total: 4, index: 0 }).contains(id) {
                assert!((Slice { total: 2, index: 0 }).contains(id));
            }
        }
    }
}
