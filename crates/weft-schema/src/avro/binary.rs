//! Avro binary encoding (Avro spec 1.11, "Binary Encoding"): the one reader and writer of its primitives,
//! which the generic decoder of this crate and typed decoders elsewhere (the SQL engine's, straight into
//! row slots) are built on.
//!
//! int and long are zig-zag varints; float and double are little-endian IEEE 754; bytes and string are a
//! long length then the bytes; arrays and maps are blocks (a long count, negative when followed by the
//! block's byte size, then the items), ended by a zero count; a union is the branch index then the value;
//! an enum is the symbol index; fixed is its bytes; a record is its fields in order. A `decimal` is the
//! two's-complement big-endian bytes of its unscaled value (spec: "Logical Types").
//!
//! The [`Reader`] never trusts a count or a length: a length must fit the bytes that remain, the items
//! announced by all the blocks of a datum must fit a budget drawn from its size (so a few bytes cannot
//! claim 2^40 items, even of a type that takes no bytes), and nesting stops at [`crate::MAX_DEPTH`].

use super::{AvroSchema, AvroType, LogicalType, NamedKind};
use crate::json_schema::format::is_uuid;
use crate::MAX_DEPTH;

/// Why bytes are not a datum of the schema, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Avro data at byte {position}: {message}")]
pub struct DecodeError {
    pub position: usize,
    pub message: String,
}

/// A decimal whose unscaled value needs more bytes than its `fixed` type has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the decimal's unscaled value {unscaled} does not fit in {size} bytes")]
pub struct DecimalOverflow {
    pub unscaled: i128,
    pub size: usize,
}

/// Items a datum may announce beyond two per byte of input: values that take no bytes at all (null,
/// records without fields) are legitimate array items, but only this many of them.
const ITEMS_WITHOUT_BYTES: usize = 1 << 16;

/// A cursor over the bytes of one Avro datum. Reads return slices of the input rather than copies.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Array items and map entries the blocks of this datum may still announce.
    budget: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0, budget: bytes.len().saturating_mul(2).saturating_add(ITEMS_WITHOUT_BYTES), depth: 0 }
    }

    /// The position of the next byte to read.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// An error at the current position.
    #[cold]
    pub fn error(&self, message: impl Into<String>) -> DecodeError {
        DecodeError { position: self.pos, message: message.into() }
    }

    #[cold]
    fn error_at(position: usize, message: impl Into<String>) -> DecodeError {
        DecodeError { position, message: message.into() }
    }

    /// Succeeds when every byte was read: a datum is the whole input.
    #[inline]
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            trailing => Err(self.error(format!("{trailing} trailing bytes after the datum"))),
        }
    }

    /// Enters a nested value; every recursive decoder calls this (and [`Reader::leave`]) around each
    /// value it decodes (a union's branch is the same value, not a nested one), so that no datum of a
    /// recursive type can nest deeper than [`MAX_DEPTH`].
    #[inline]
    pub fn enter(&mut self) -> Result<(), DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("the data nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    #[inline]
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        let mut z: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(Self::error_at(start, "the input ends inside a varint"));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(Self::error_at(start, "varint longer than 64 bits"));
            }
            z |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(Self::error_at(start, "varint longer than 64 bits"));
            }
        }
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    #[inline]
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        let start = self.pos;
        let n = self.long()?;
        i32::try_from(n).map_err(|_| Self::error_at(start, format!("{n} does not fit an int")))
    }

    #[inline]
    pub fn boolean(&mut self) -> Result<bool, DecodeError> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Self::error_at(self.pos - 1, format!("invalid boolean byte {b}"))),
        }
    }

    #[inline]
    pub fn float(&mut self) -> Result<f32, DecodeError> {
        let raw = self.take(4)?;
        Ok(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    #[inline]
    pub fn double(&mut self) -> Result<f64, DecodeError> {
        let raw = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(raw);
        Ok(f64::from_le_bytes(array))
    }

    /// `len` bytes, which must be there.
    #[inline]
    pub fn fixed(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.bytes.len() - self.pos;
        if remaining < len {
            return Err(self.error(format!("{len} bytes announced but only {remaining} remain")));
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    #[inline]
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        self.fixed(len)
    }

    #[inline]
    fn length(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let n = self.long()?;
        usize::try_from(n).map_err(|_| Self::error_at(start, format!("negative length {n}")))
    }

    /// A `bytes` value.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.length()?;
        self.fixed(len)
    }

    /// A `string` value, which must be UTF-8.
    #[inline]
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.length()?;
        let start = self.pos;
        let bytes = self.fixed(len)?;
        std::str::from_utf8(bytes).map_err(|e| Self::error_at(start + e.valid_up_to(), "invalid UTF-8 in a string"))
    }

    /// A `string` value annotated with `logical`: a `uuid` must be one (Avro spec: "UUID": the string
    /// has to conform with RFC 4122), as the JSON mapping requires of the strings it writes, so that
    /// whatever decodes can be written again.
    #[inline]
    pub fn string_of(&mut self, logical: Option<LogicalType>) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let s = self.string()?;
        if logical == Some(LogicalType::Uuid) && !is_uuid(s) {
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "..." } else { "" };
            return Err(Self::error_at(start, format!("a uuid string must be a UUID, found {shown:?}{more}")));
        }
        Ok(s)
    }

    /// The unscaled value of a `decimal`, stored in `bytes` (`fixed` is `None`) or in a `fixed` of that
    /// size. Values beyond 128 bits are refused.
    #[inline]
    pub fn decimal(&mut self, fixed: Option<usize>) -> Result<i128, DecodeError> {
        let start = self.pos;
        let bytes = match fixed {
            Some(size) => self.fixed(size)?,
            None => self.bytes()?,
        };
        if bytes.len() > 16 {
            return Err(Self::error_at(start, format!("a decimal of {} bytes does not fit 128 bits", bytes.len())));
        }
        let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
        Ok(bytes.iter().fold(if negative { -1 } else { 0 }, |unscaled, b| (unscaled << 8) | i128::from(*b)))
    }

    /// The number of items of the next block of an array or map; 0 ends it.
    #[inline]
    pub fn block(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let count = self.long()?;
        let count = if count < 0 {
            self.long()?; // the block's size in bytes, which a decoder may use to skip it
            count.unsigned_abs()
        } else {
            count as u64
        };
        if count > self.budget as u64 {
            return Err(Self::error_at(start, format!("block of {count} items is larger than the input allows")));
        }
        self.budget -= count as usize;
        Ok(count as usize)
    }

    /// The branch index of a union of `branches` branches.
    #[inline]
    pub fn branch(&mut self, branches: usize) -> Result<usize, DecodeError> {
        let start = self.pos;
        let index = self.long()?;
        usize::try_from(index).ok().filter(|i| *i < branches).ok_or_else(|| {
            Self::error_at(start, format!("union branch {index} does not exist (the union has {branches})"))
        })
    }

    /// The symbol index of an enum named `name` with `symbols` symbols.
    #[inline]
    pub fn symbol(&mut self, name: &str, symbols: usize) -> Result<usize, DecodeError> {
        let start = self.pos;
        let index = self.int()?;
        usize::try_from(index)
            .ok()
            .filter(|i| *i < symbols)
            .ok_or_else(|| Self::error_at(start, format!("enum '{name}' has no symbol {index}")))
    }

    /// Reads past one datum of `ty`, checking it as decoding would, without building anything.
    pub fn skip(&mut self, schema: &AvroSchema, ty: &AvroType) -> Result<(), DecodeError> {
        self.enter()?;
        let skipped = self.skip_value(schema, ty);
        self.leave();
        skipped
    }

    fn skip_value(&mut self, schema: &AvroSchema, ty: &AvroType) -> Result<(), DecodeError> {
        match ty {
            AvroType::Null => {}
            AvroType::Boolean => {
                self.boolean()?;
            }
            AvroType::Int(_) => {
                self.int()?;
            }
            AvroType::Long(_) => {
                self.long()?;
            }
            AvroType::Float => {
                self.float()?;
            }
            AvroType::Double => {
                self.double()?;
            }
            AvroType::Bytes(_) => {
                self.bytes()?;
            }
            AvroType::String(logical) => {
                self.string_of(*logical)?;
            }
            AvroType::Array(items) => loop {
                let count = self.block()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    self.skip(schema, items)?;
                }
            },
            AvroType::Map(values) => loop {
                let count = self.block()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    self.string()?;
                    self.skip(schema, values)?;
                }
            },
            // The branch is this same value (a union never holds a union directly): no level of its own.
            AvroType::Union(branches) => {
                let branch = self.branch(branches.len())?;
                self.skip_value(schema, &branches[branch])?;
            }
            AvroType::Named(index) => {
                let def = schema.named_type(*index);
                match &def.kind {
                    NamedKind::Record { fields, .. } => {
                        for field in fields {
                            self.skip(schema, &field.ty)?;
                        }
                    }
                    NamedKind::Enum { symbols, .. } => {
                        self.symbol(&def.name, symbols.len())?;
                    }
                    NamedKind::Fixed { size, .. } => {
                        self.fixed(*size)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Appends a zig-zag varint: an `int`, a `long`, a length, a count, a union branch or an enum symbol.
#[inline]
pub fn write_long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

#[inline]
pub fn write_boolean(b: bool, out: &mut Vec<u8>) {
    out.push(u8::from(b));
}

#[inline]
pub fn write_float(f: f32, out: &mut Vec<u8>) {
    out.extend_from_slice(&f.to_le_bytes());
}

#[inline]
pub fn write_double(f: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(&f.to_le_bytes());
}

/// A `bytes` value: its length, then the bytes.
#[inline]
pub fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    write_long(bytes.len() as i64, out);
    out.extend_from_slice(bytes);
}

/// A `string` value: its UTF-8 length, then the UTF-8.
#[inline]
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    write_bytes(s.as_bytes(), out);
}

/// A `decimal`'s unscaled value: in `bytes` (`fixed` is `None`), the shortest two's-complement form;
/// in a `fixed` of that size, sign-extended to fill it.
pub fn write_decimal(unscaled: i128, fixed: Option<usize>, out: &mut Vec<u8>) -> Result<(), DecimalOverflow> {
    let bytes = unscaled.to_be_bytes();
    // Drop sign bytes that the next byte's top bit repeats.
    let mut start = 0;
    while start < 15
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    let minimal = &bytes[start..];
    match fixed {
        None => write_bytes(minimal, out),
        Some(size) if size < minimal.len() => return Err(DecimalOverflow { unscaled, size }),
        Some(size) => {
            let sign = if unscaled < 0 { 0xff } else { 0 };
            out.extend(std::iter::repeat_n(sign, size - minimal.len()));
            out.extend_from_slice(minimal);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip_in_bytes_and_fixed() {
        for unscaled in [0i128, 1, -1, 127, 128, -128, -129, 255, 1 << 40, -(1 << 40), i128::MAX, i128::MIN] {
            let mut out = Vec::new();
            write_decimal(unscaled, None, &mut out).unwrap();
            assert_eq!(Reader::new(&out).decimal(None).unwrap(), unscaled, "{unscaled}");
            let mut out = Vec::new();
            write_decimal(unscaled, Some(16), &mut out).unwrap();
            assert_eq!(out.len(), 16);
            assert_eq!(Reader::new(&out).decimal(Some(16)).unwrap(), unscaled, "{unscaled}");
        }
        // The spec's example of minimal two's complement: 128 needs a leading zero byte, -128 does not.
        let mut out = Vec::new();
        write_decimal(128, None, &mut out).unwrap();
        assert_eq!(out, [0x04, 0x00, 0x80]);
        out.clear();
        write_decimal(-128, None, &mut out).unwrap();
        assert_eq!(out, [0x02, 0x80]);
        assert_eq!(write_decimal(1 << 20, Some(2), &mut out), Err(DecimalOverflow { unscaled: 1 << 20, size: 2 }));
        assert!(Reader::new(&[0x22; 18]).decimal(None).unwrap_err().message.contains("128 bits"));
    }

    #[test]
    fn counts_and_lengths_are_bounded_by_the_input() {
        // A count of 2^40 items of any type fails at once, before anything is allocated or read.
        let mut claim = Vec::new();
        write_long(1 << 40, &mut claim);
        let err = Reader::new(&claim).block().unwrap_err();
        assert_eq!(err.position, 0);
        assert!(err.message.contains("larger than the input allows"), "{err}");
        let err = Reader::new(&claim).bytes().unwrap_err();
        assert!(err.message.contains("only 0 remain"), "{err}");
        // The budget is shared by all the blocks of a datum.
        let mut blocks = Vec::new();
        for _ in 0..3 {
            write_long(ITEMS_WITHOUT_BYTES as i64 / 2, &mut blocks);
        }
        let mut reader = Reader::new(&blocks);
        assert!(reader.block().is_ok());
        assert!(reader.block().is_ok());
        assert!(reader.block().is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let mut reader = Reader::new(&[]);
        for _ in 0..MAX_DEPTH {
            reader.enter().unwrap();
        }
        let err = reader.enter().unwrap_err();
        assert_eq!(err.message, format!("the data nests deeper than {MAX_DEPTH} levels"));
        reader.leave();
        assert!(reader.enter().is_ok());
    }
}
