//! The HPACK decoder (RFC 7541 sections 5 and 6): a header block in, header fields out, the
//! dynamic table kept across blocks. Pure; every length is checked against the block and the
//! caller's limit on the decoded list, so a hostile block costs at most its own size in CPU
//! (Huffman decoding is bit by bit) and the limit in memory.

use super::huffman;
use super::table::{lookup, lookup_name, Dynamic, Name};
use std::fmt;
use std::rc::Rc;

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

/// A string literal (section 5.2) at `buf[*pos]`, Huffman-decoded if it is.
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

/// The decoded list of one block, counted as SETTINGS_MAX_HEADER_LIST_SIZE counts it: sizes
/// are summed before anything is copied, and once past the limit nothing more is built.
struct List {
    fields: Fields,
    size: usize,
    max: usize,
    over: bool,
}

impl List {
    /// Counts a field of `len` bytes (name and value); whether it is kept.
    fn room(&mut self, len: usize) -> bool {
        self.size = self.size.saturating_add(len.saturating_add(32));
        if self.size > self.max && !self.over {
            self.over = true;
            self.fields = Vec::new();
        }
        !self.over
    }
}

/// Decoded header fields: (name, value) pairs as received.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The decoder of one connection: its dynamic table.
#[derive(Debug)]
pub struct Decoder {
    table: Dynamic,
    /// Bytes copied so far (strings decoded, fields handed out, names taken into the table):
    /// the work decoding costs beyond reading its input, which must stay linear in the input.
    copied: u64,
}

impl Decoder {
    /// A decoder whose table may grow to `table_limit` bytes (what the server advertised).
    pub fn new(table_limit: usize) -> Decoder {
        Decoder {
            table: Dynamic::new(table_limit),
            copied: 0,
        }
    }

    /// The dynamic table (for tests).
    pub fn table(&self) -> &Dynamic {
        &self.table
    }

    /// Bytes copied by every block decoded so far (for tests and benches).
    pub fn copied(&self) -> u64 {
        self.copied
    }

    fn count(&mut self, n: usize) {
        self.copied = self.copied.saturating_add(n as u64);
    }

    /// Decodes one complete header block; `max_list` bounds the decoded fields as
    /// SETTINGS_MAX_HEADER_LIST_SIZE counts them. Past it, the block is still decoded to its
    /// end (the table must stay in step with the peer's encoder), but no field is built.
    pub fn decode(&mut self, block: &[u8], max_list: usize) -> Result<Fields, DecodeError> {
        let mut list = List {
            fields: Vec::new(),
            size: 0,
            max: max_list,
            over: false,
        };
        let mut pos = 0;
        let mut may_update = true;
        while pos < block.len() {
            let b = block[pos];
            if b & 0x80 != 0 {
                // 6.1 indexed field.
                let i = integer(block, &mut pos, 7)?;
                let (n, v) = lookup(&self.table, i).ok_or(DecodeError::BadIndex(i))?;
                if list.room(n.len() + v.len()) {
                    let field = (n.to_vec(), v.to_vec());
                    self.count(field.0.len() + field.1.len());
                    list.fields.push(field);
                }
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
                self.literal(block, &mut pos, &mut list)?;
            }
            may_update = false;
        }
        if list.over {
            return Err(DecodeError::ListTooLarge);
        }
        Ok(list.fields)
    }

    /// A literal field (6.2.1 with indexing (01), 6.2.2 without (0000), 6.2.3 never indexed
    /// (0001)), its name literal or from the tables.
    fn literal(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        list: &mut List,
    ) -> Result<(), DecodeError> {
        let index = block[*pos] & 0x40 != 0;
        let i = integer(block, pos, if index { 6 } else { 4 })?;
        let literal_name = if i == 0 {
            let n = string(block, pos)?;
            self.count(n.len());
            Some(n)
        } else {
            lookup(&self.table, i).ok_or(DecodeError::BadIndex(i))?;
            None
        };
        let value = string(block, pos)?;
        self.count(value.len());
        let name_len = match &literal_name {
            Some(n) => n.len(),
            None => lookup(&self.table, i).map_or(0, |(n, _)| n.len()),
        };
        let keep = list.room(name_len + value.len());
        if index {
            let name: Name = match literal_name {
                Some(n) => Rc::from(n),
                None => lookup_name(&self.table, i).ok_or(DecodeError::BadIndex(i))?,
            };
            if keep {
                self.count(name.len() + value.len());
                list.fields.push((name.to_vec(), value.clone()));
            }
            self.table.insert(name, value);
        } else if keep {
            let name = match literal_name {
                Some(n) => n,
                None => lookup(&self.table, i).map_or(Vec::new(), |(n, _)| n.to_vec()),
            };
            self.count(name.len());
            list.fields.push((name, value));
        }
        Ok(())
    }
}
