//! The HPACK decoder (RFC 7541 sections 5 and 6): a header block in, header fields out, the
//! dynamic table kept across blocks. Pure; every length is checked against the block and the
//! caller's limit on the decoded list, so a hostile block costs at most its own size in CPU
//! (Huffman decoding is bit by bit) and the limit in memory.

use super::huffman;
use super::table::{lookup, Dynamic};
use std::fmt;

/// Why a block does not decode. Every case is a connection error of type COMPRESSION_ERROR
/// (RFC 9113 section 4.3), except [`DecodeError::ListTooLarge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The block ends inside a representation.
    Truncated,
    /// An integer longer than the decoder accepts (more than 2^28).
    IntegerOverflow,
    /// Index 0, or past the end of the tables.
    BadIndex(usize),
    /// A Huffman string with bad padding or an EOS.
    Huffman,
    /// A table size update above the advertised size, or not at the start of the block.
    BadSizeUpdate,
    /// The decoded fields passed the caller's limit (names + values + 32 per field). The block
    /// was still decoded to its end, so the table stays in step with the peer's encoder.
    ListTooLarge,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("header block ends inside a field"),
            DecodeError::IntegerOverflow => f.write_str("integer too large in header block"),
            DecodeError::BadIndex(i) => write!(f, "header index {i} is not in the tables"),
            DecodeError::Huffman => f.write_str("bad Huffman string in header block"),
            DecodeError::BadSizeUpdate => f.write_str("bad dynamic table size update"),
            DecodeError::ListTooLarge => f.write_str("header list too large"),
        }
    }
}

/// Largest integer accepted: far above any limit the server sets, far below overflow.
const MAX_INT: usize = 1 << 28;

/// Decodes an integer with an N-bit prefix (section 5.1) at `buf[*pos]`.
pub fn integer(buf: &[u8], pos: &mut usize, prefix: u8) -> Result<usize, DecodeError> {
    let mask = (1u16 << prefix) as usize - 1;
    let first = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
    *pos += 1;
    let mut value = usize::from(first) & mask;
    if value < mask {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        // Zero-valued continuation bytes (0x80) do not grow the value, only the shift: bound
        // the shift too (found by the fuzz target `h2`: the shift overflowed at 64).
        if shift > 28 {
            return Err(DecodeError::IntegerOverflow);
        }
        value += usize::from(b & 0x7f) << shift;
        if value > MAX_INT {
            return Err(DecodeError::IntegerOverflow);
        }
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

fn string(buf: &[u8], pos: &mut usize) -> Result<Vec<u8>, DecodeError> {
    let huff = buf.get(*pos).ok_or(DecodeError::Truncated)? & 0x80 != 0;
    let len = integer(buf, pos, 7)?;
    let end = pos.checked_add(len).ok_or(DecodeError::Truncated)?;
    let raw = buf.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    if huff {
        let mut out = Vec::with_capacity(len + len / 2);
        huffman::decode(raw, &mut out).map_err(|_| DecodeError::Huffman)?;
        Ok(out)
    } else {
        Ok(raw.to_vec())
    }
}

/// Decoded header fields: (name, value) pairs as received.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The decoder of one connection: its dynamic table.
#[derive(Debug)]
pub struct Decoder {
    table: Dynamic,
}

impl Decoder {
    /// A decoder whose table may grow to `table_limit` bytes (what the server advertised).
    pub fn new(table_limit: usize) -> Decoder {
        Decoder {
            table: Dynamic::new(table_limit),
        }
    }

    /// The dynamic table (for tests).
    pub fn table(&self) -> &Dynamic {
        &self.table
    }

    /// Decodes one complete header block; `max_list` bounds the decoded fields as
    /// SETTINGS_MAX_HEADER_LIST_SIZE counts them.
    pub fn decode(&mut self, block: &[u8], max_list: usize) -> Result<Fields, DecodeError> {
        let mut fields = Vec::new();
        let mut list = 0usize;
        let mut too_large = false;
        let mut pos = 0;
        let mut may_update = true;
        while pos < block.len() {
            let b = block[pos];
            let (name, value) = if b & 0x80 != 0 {
                // 6.1 indexed field.
                let i = integer(block, &mut pos, 7)?;
                let (n, v) = lookup(&self.table, i).ok_or(DecodeError::BadIndex(i))?;
                (n.to_vec(), v.to_vec())
            } else if b & 0xe0 == 0x20 {
                // 6.3 size update: only before the first field.
                if !may_update {
                    return Err(DecodeError::BadSizeUpdate);
                }
                let max = integer(block, &mut pos, 5)?;
                if !self.table.set_max(max) {
                    return Err(DecodeError::BadSizeUpdate);
                }
                continue;
            } else {
                // 6.2.1 with indexing (01), 6.2.2 without (0000), 6.2.3 never indexed (0001).
                let (prefix, index) = if b & 0x40 != 0 { (6, true) } else { (4, false) };
                let i = integer(block, &mut pos, prefix)?;
                let name = if i == 0 {
                    string(block, &mut pos)?
                } else {
                    lookup(&self.table, i)
                        .ok_or(DecodeError::BadIndex(i))?
                        .0
                        .to_vec()
                };
                let value = string(block, &mut pos)?;
                if index {
                    self.table.insert(name.clone(), value.clone());
                }
                (name, value)
            };
            may_update = false;
            list = list.saturating_add(name.len() + value.len() + 32);
            if list > max_list {
                too_large = true;
                fields.clear();
            }
            if !too_large {
                fields.push((name, value));
            }
        }
        if too_large {
            return Err(DecodeError::ListTooLarge);
        }
        Ok(fields)
    }
}
