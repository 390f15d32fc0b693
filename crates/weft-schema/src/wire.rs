//! The Confluent wire format: magic byte `0`, the schema id as a 4-byte big-endian integer, the payload
//! (Avro binary, or JSON text for JSON Schema). Every framed key and value in Weft is read and written here.

/// The first byte of a framed message.
pub const MAGIC_BYTE: u8 = 0;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 5;

/// Why bytes are not a Confluent-framed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("a schema-registry framed message has at least {HEADER_LEN} bytes, found {len}")]
    TooShort { len: usize },
    #[error("unknown magic byte {0:#04x}; the Confluent wire format starts with 0x00")]
    BadMagicByte(u8),
}

/// Appends the 5-byte header for `schema_id` to `out`.
#[inline]
pub fn write_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Frames a payload: header then payload.
pub fn frame(schema_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    write_header(schema_id, &mut out);
    out.extend_from_slice(payload);
    out
}

/// Splits a framed message into its schema id and payload, without copying.
#[inline]
pub fn split(message: &[u8]) -> Result<(u32, &[u8]), WireError> {
    match message {
        [MAGIC_BYTE, a, b, c, d, payload @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), payload)),
        [magic, _, _, _, _, ..] => Err(WireError::BadMagicByte(*magic)),
        _ => Err(WireError::TooShort { len: message.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let framed = frame(0x0102_0304, b"payload");
        assert_eq!(&framed[..5], &[0, 1, 2, 3, 4]);
        assert_eq!(split(&framed).unwrap(), (0x0102_0304, &b"payload"[..]));
        assert_eq!(split(&frame(7, b"")).unwrap(), (7, &b""[..]));
        let mut out = vec![9];
        write_header(7, &mut out);
        assert_eq!(out, [9, 0, 0, 0, 0, 7]);
    }

    #[test]
    fn refuses_bad_frames() {
        assert_eq!(split(&[0, 0, 1]), Err(WireError::TooShort { len: 3 }));
        assert_eq!(split(&[]), Err(WireError::TooShort { len: 0 }));
        assert_eq!(split(&[1, 0, 0, 0, 1, 9]), Err(WireError::BadMagicByte(1)));
        assert_eq!(split(&[7]), Err(WireError::TooShort { len: 1 }));
        assert!(WireError::BadMagicByte(1).to_string().contains("0x01"));
    }
}
