//! Avro's binary encoding of single values: zig-zag varints, length-prefixed bytes and strings,
//! little-endian floats. Reading is bounded by the input: a length is checked against the bytes
//! left before anything is allocated, so a corrupt or hostile datum fails cleanly.

/// Why a datum could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatumError {
    #[error("the datum ended early: {needed} more bytes needed at position {at}")]
    Truncated { at: usize, needed: usize },
    #[error("malformed varint at position {0}")]
    BadVarint(usize),
    #[error("negative length {length} at position {at}")]
    NegativeLength { at: usize, length: i64 },
    #[error("{value} at position {at} does not fit in an int")]
    IntOutOfRange { at: usize, value: i64 },
    #[error("invalid boolean byte {byte} at position {at}")]
    BadBoolean { at: usize, byte: u8 },
    #[error("string at position {0} is not valid UTF-8")]
    BadUtf8(usize),
    #[error("{what} index {index} out of range (0..{count}) at position {at}")]
    BadIndex {
        what: &'static str,
        at: usize,
        index: i64,
        count: usize,
    },
}

pub fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub fn write_int(out: &mut Vec<u8>, value: i32) {
    write_long(out, i64::from(value));
}

pub fn write_boolean(out: &mut Vec<u8>, value: bool) {
    out.push(u8::from(value));
}

pub fn write_float(out: &mut Vec<u8>, value: f32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn write_double(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Bytes and strings alike: the length, then the bytes.
pub fn write_bytes(out: &mut Vec<u8>, value: &[u8]) {
    write_long(out, value.len() as i64);
    out.extend_from_slice(value);
}

/// Reads one datum's parts from a byte slice, front to back.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub fn read_long(&mut self) -> Result<i64, DatumError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(DatumError::Truncated {
                    at: self.pos,
                    needed: 1,
                });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(DatumError::BadVarint(start))
    }

    pub fn read_int(&mut self) -> Result<i32, DatumError> {
        let at = self.pos;
        let value = self.read_long()?;
        i32::try_from(value).map_err(|_| DatumError::IntOutOfRange { at, value })
    }

    pub fn read_boolean(&mut self) -> Result<bool, DatumError> {
        let at = self.pos;
        match self.take(1)? {
            [0] => Ok(false),
            [1] => Ok(true),
            [byte, ..] => Err(DatumError::BadBoolean { at, byte: *byte }),
            [] => Err(DatumError::Truncated { at, needed: 1 }),
        }
    }

    pub fn read_float(&mut self) -> Result<f32, DatumError> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4)?);
        Ok(f32::from_le_bytes(raw))
    }

    pub fn read_double(&mut self) -> Result<f64, DatumError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(raw))
    }

    pub fn read_bytes(&mut self) -> Result<&'a [u8], DatumError> {
        let length = self.read_length()?;
        self.take(length)
    }

    pub fn read_string(&mut self) -> Result<&'a str, DatumError> {
        let at = self.pos;
        std::str::from_utf8(self.read_bytes()?).map_err(|_| DatumError::BadUtf8(at))
    }

    /// `size` bytes of a fixed.
    pub fn read_fixed(&mut self, size: usize) -> Result<&'a [u8], DatumError> {
        self.take(size)
    }

    /// A union branch or enum symbol index, checked against `count`.
    pub fn read_index(&mut self, what: &'static str, count: usize) -> Result<usize, DatumError> {
        let at = self.pos;
        let index = self.read_long()?;
        usize::try_from(index)
            .ok()
            .filter(|i| *i < count)
            .ok_or(DatumError::BadIndex {
                what,
                at,
                index,
                count,
            })
    }

    /// The item count of the next block of an array or map; 0 ends it. A negative count is
    /// followed by the block's size in bytes, which is not needed here.
    pub fn read_block_count(&mut self) -> Result<usize, DatumError> {
        let at = self.pos;
        let count = self.read_long()?;
        let count = if count < 0 {
            self.read_long()?;
            count.unsigned_abs()
        } else {
            count as u64
        };
        // Every item takes at least one byte except nulls; a count beyond what is left (plus
        // a generous allowance for empty items) cannot be honest, and must not size a buffer.
        usize::try_from(count)
            .map_err(|_| DatumError::NegativeLength {
                at,
                length: count as i64,
            })
            .map(|c| c.min(self.remaining().saturating_add(1)))
    }

    fn read_length(&mut self) -> Result<usize, DatumError> {
        let at = self.pos;
        let length = self.read_long()?;
        usize::try_from(length).map_err(|_| DatumError::NegativeLength { at, length })
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DatumError> {
        let at = self.pos;
        let end = at.checked_add(count).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(DatumError::Truncated {
                at,
                needed: count - self.remaining(),
            });
        };
        self.pos = end;
        Ok(&self.bytes[at..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_round_trip_in_zig_zag_as_the_spec_shows() {
        let mut out = Vec::new();
        for (value, expected) in [
            (0i64, vec![0x00]),
            (-1, vec![0x01]),
            (1, vec![0x02]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
        ] {
            out.clear();
            write_long(&mut out, value);
            assert_eq!(out, expected, "{value}");
        }
        for value in [i64::MIN, i64::MAX, 0, 1234567890123, -987654321] {
            out.clear();
            write_long(&mut out, value);
            assert_eq!(Reader::new(&out).read_long(), Ok(value));
        }
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic_or_a_huge_allocation() {
        // A string claiming 2^62 bytes.
        let mut out = Vec::new();
        write_long(&mut out, 1 << 62);
        assert!(matches!(
            Reader::new(&out).read_string(),
            Err(DatumError::Truncated { .. })
        ));
        assert!(matches!(
            Reader::new(&[0xff; 11]).read_long(),
            Err(DatumError::BadVarint(0))
        ));
        assert!(matches!(
            Reader::new(&[0x01]).read_bytes(),
            Err(DatumError::NegativeLength { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x02, 0xff]).read_string(),
            Err(DatumError::BadUtf8(0))
        ));
        let mut huge_count = Vec::new();
        write_long(&mut huge_count, i64::MAX);
        assert_eq!(Reader::new(&huge_count).read_block_count(), Ok(1));
        assert!(matches!(
            Reader::new(&[0x06]).read_index("union", 2),
            Err(DatumError::BadIndex { index: 3, .. })
        ));
    }
}
