//! The Confluent wire format: magic byte `0`, the schema id as a 4-byte big-endian integer, the payload.

use std::fmt;

use crate::SchemaId;

pub const MAGIC_BYTE: u8 = 0;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 5;

/// Why bytes are not a Confluent-framed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    TooShort { len: usize },
    BadMagicByte(u8),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::TooShort { len } => {
                write!(f, "a schema-registry framed message has at least {HEADER_LEN} bytes, found {len}")
            }
            WireError::BadMagicByte(b) => {
                write!(f, "unknown magic byte {b:#04x}; the Confluent wire format starts with 0x00")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// Appends the 5-byte header for `schema_id` to `out`.
pub fn write_header(schema_id: SchemaId, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Frames a payload: header then payload.
pub fn frame(schema_id: SchemaId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    write_header(schema_id, &mut out);
    out.extend_from_slice(payload);
    out
}

/// Splits a framed message into its schema id and payload, without copying.
pub fn split(message: &[u8]) -> Result<(SchemaId, &[u8]), WireError> {
    if message.len() < HEADER_LEN {
        return Err(WireError::TooShort { len: message.len() });
    }
    if message[0] != MAGIC_BYTE {
        return Err(WireError::BadMagicByte(message[0]));
    }
    let id = SchemaId::from_be_bytes([message[1], message[2], message[3], message[4]]);
    Ok((id, &message[HEADER_LEN..]))
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
    }

    #[test]
    fn refuses_bad_frames() {
        assert_eq!(split(&[0, 0, 1]), Err(WireError::TooShort { len: 3 }));
        assert_eq!(split(&[1, 0, 0, 0, 1, 9]), Err(WireError::BadMagicByte(1)));
        assert!(WireError::BadMagicByte(1).to_string().contains("0x01"));
    }
}
