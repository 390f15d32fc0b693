//! What the crash writer appends, shared with the crash test that checks it (`tests/crash.rs`).

pub const TOPIC: &str = "crash";
pub const PARTITIONS: u32 = 2;

/// The content every record at `offset` of `partition` must have.
pub fn expected_value(partition: u32, offset: u64) -> Vec<u8> {
    let mut x = (u64::from(partition) << 48) ^ offset.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let len = 16 + (offset % 300) as usize;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
