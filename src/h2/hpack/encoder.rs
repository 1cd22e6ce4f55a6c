//! The HPACK encoder of the server's responses: every field a literal without indexing (section
//! 6.2.2), its name by static index where the static table has it, no Huffman coding and no
//! dynamic table, so the peer's decoder state never depends on what the server sent. The
//! common `:status` values are one byte (indexed).

use super::table::STATIC;

/// Appends an integer with an N-bit prefix whose other bits are `flags` (section 5.1).
pub fn integer(dst: &mut Vec<u8>, flags: u8, prefix: u8, mut value: usize) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | mask as u8);
    value -= mask;
    while value >= 128 {
        dst.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    dst.push(value as u8);
}

fn string(dst: &mut Vec<u8>, s: &[u8]) {
    integer(dst, 0, 7, s.len());
    dst.extend_from_slice(s);
}

/// Appends one field. `name` must be lowercase (HTTP/2 field names are).
pub fn field(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if let Some(i) = STATIC
        .iter()
        .position(|(n, v)| n.as_bytes() == name && v.as_bytes() == value)
    {
        integer(dst, 0x80, 7, i + 1);
        return;
    }
    match STATIC.iter().position(|(n, _)| n.as_bytes() == name) {
        Some(i) => integer(dst, 0x00, 4, i + 1),
        None => {
            dst.push(0x00);
            string(dst, name);
        }
    }
    string(dst, value);
}
