//! Counts the messages and close codes of one direction of a relayed WebSocket tunnel (proxy
//! mode) as its bytes pass: frame headers only, in fixed state (a header of at most 14 bytes
//! and a close frame's 2-byte code), so a message of any size passes through no buffer here.
//! Lenient: bytes that break the framing only mean fewer messages counted; the relay passes
//! them on unchanged either way.

/// The messages and the close code seen in one direction.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    header: [u8; 14],
    have: usize,
    /// Bytes of the current frame's payload still to come.
    left: u64,
    /// Payload bytes of the current frame already seen.
    seen: u64,
    /// The current frame's FIN bit and opcode.
    fin: bool,
    opcode: u8,
    /// The current frame's masking key (client frames).
    mask: Option<[u8; 4]>,
    /// The first two payload bytes of a close frame.
    code: [u8; 2],
    /// Complete data messages (the end of a data frame with FIN set).
    pub messages: u64,
    /// The first close frame's code: 1005 for one without a code.
    pub close: Option<u16>,
}

impl Tally {
    /// The header's length once its first two bytes are known.
    fn header_len(&self) -> usize {
        let ext = match self.header[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + usize::from(self.header[1] >> 7) * 4
    }

    /// The next bytes of the direction, in order.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.left > 0 {
                let take = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                if self.opcode == 0x8 {
                    for &b in &bytes[i..i + take] {
                        if let Ok(k @ 0..=1) = usize::try_from(self.seen) {
                            let m = self.mask.map_or(0, |m| m[k % 4]);
                            self.code[k] = b ^ m;
                        }
                        self.seen += 1;
                    }
                }
                self.left -= take as u64;
                i += take;
                if self.left == 0 {
                    self.frame_end();
                }
                continue;
            }
            self.header[self.have] = bytes[i];
            self.have += 1;
            i += 1;
            if self.have < 2 || self.have < self.header_len() {
                continue;
            }
            let h = self.header;
            let hl = self.header_len();
            self.left = match h[1] & 0x7F {
                126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                n => u64::from(n),
            };
            self.mask = (h[1] & 0x80 != 0).then(|| [h[hl - 4], h[hl - 3], h[hl - 2], h[hl - 1]]);
            self.fin = h[0] & 0x80 != 0;
            self.opcode = h[0] & 0x0F;
            self.have = 0;
            self.seen = 0;
            if self.left == 0 {
                self.frame_end();
            }
        }
    }

    /// The current frame's last byte passed.
    fn frame_end(&mut self) {
        match self.opcode {
            0x0..=0x2 if self.fin => self.messages += 1,
            0x8 if self.close.is_none() => {
                self.close = Some(match self.seen {
                    0 | 1 => 1005,
                    _ => u16::from_be_bytes(self.code),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = vec![b0];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => f.push(m | n as u8),
            n @ 126..=65535 => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    #[test]
    fn counts_messages_and_the_close_code_fed_in_any_pieces() {
        let k = Some([1, 2, 3, 4]);
        let mut stream = frame(0x81, b"hello", k);
        stream.extend(frame(0x01, b"frag", k));
        stream.extend(frame(0x89, b"ping", k));
        stream.extend(frame(0x80, &[7u8; 300], k));
        stream.extend(frame(0x82, &[9u8; 70000], k));
        stream.extend(frame(0x88, b"\x03\xe9bye", k));
        stream.extend(frame(0x81, b"late", k));
        for piece in [1, 2, 3, 7, 1000, stream.len()] {
            let mut t = Tally::default();
            for c in stream.chunks(piece) {
                t.feed(c);
            }
            assert_eq!((t.messages, t.close), (4, Some(1001)), "pieces of {piece}");
        }
        // Unmasked (the upstream's frames), a close without a code, a message cut short.
        let mut t = Tally::default();
        t.feed(&frame(0x82, b"ab", None));
        t.feed(&frame(0x88, b"", None));
        t.feed(&frame(0x81, b"abc", None)[..3]);
        assert_eq!((t.messages, t.close), (1, Some(1005)));
    }
}
