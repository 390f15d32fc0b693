//! Key-to-partition mapping, identical to Kafka's default partitioner, so a key lands on the same
//! partition whether it was produced through Weft or by a Kafka client.

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of `key` among `partitions` (which must be at least 1).
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    ((murmur2(key) & 0x7fff_ffff) as u32) % partitions.max(1)
}

/// The partition of one record of a batch: where its key hashes to, or the batch's `sticky`
/// partition when it has no key (Kafka's default partitioner, KIP-480: keyless records of one batch
/// stay together instead of being spread one by one).
pub fn partition_for(key: Option<&[u8]>, partitions: u32, sticky: u32) -> u32 {
    match key {
        Some(key) => partition_for_key(key, partitions),
        None => sticky % partitions.max(1),
    }
}

/// Hands out the sticky partition of each batch: the next partition round the ring, so keyless
/// load spreads over every partition batch by batch. (Kafka picks the next sticky partition at
/// random, weighted by queue sizes; a ring gives the same spread and is reproducible in tests.)
#[derive(Debug, Default)]
pub struct StickyPartitions {
    next: std::sync::atomic::AtomicU32,
}

impl StickyPartitions {
    pub fn new() -> Self {
        Self::default()
    }

    /// The sticky partition of the next batch among `partitions`.
    pub fn next(&self, partitions: u32) -> u32 {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % partitions.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from Kafka's UtilsTest.testMurmur2.
    #[test]
    fn matches_kafka_murmur2() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input), expected, "murmur2({:?})", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn partition_is_in_range() {
        for n in 1..20 {
            for key in [&b""[..], b"a", b"order-17", b"\xff\xfe"] {
                assert!(partition_for_key(key, n) < n);
            }
        }
    }
}
