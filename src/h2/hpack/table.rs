//! HPACK's tables: the static table of RFC 7541 Appendix A (data), and the dynamic table of
//! section 4 (entries of name and value, newest first, evicted oldest first when the size,
//! counted as in section 4.1 as name + value + 32 per entry, passes the maximum).

use std::collections::VecDeque;
use std::rc::Rc;

/// RFC 7541 Appendix A: index 1 is `STATIC[0]`.
pub static STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The per-entry overhead of section 4.1.
const ENTRY_OVERHEAD: usize = 32;

/// An entry's name: shared, so a literal that takes its name from the table and is indexed
/// again costs no copy of the name (a 2-byte representation may name a 4 KB entry).
pub type Name = Rc<[u8]>;

/// The decoder's dynamic table.
#[derive(Debug)]
pub struct Dynamic {
    entries: VecDeque<(Name, Vec<u8>)>,
    size: usize,
    /// The size the last size update set (at most `limit`).
    max: usize,
    /// The most a size update may set: what this side advertised (SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
}

impl Dynamic {
    /// An empty table whose size may be set up to `limit` bytes, and is that at first.
    pub fn new(limit: usize) -> Dynamic {
        Dynamic {
            entries: VecDeque::new(),
            size: 0,
            max: limit,
            limit,
        }
    }

    /// The table's size in the sense of section 4.1.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Entries now held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A dynamic table size update (section 6.3): false if it exceeds the limit.
    pub fn set_max(&mut self, max: usize) -> bool {
        if max > self.limit {
            return false;
        }
        self.max = max;
        self.evict(0);
        true
    }

    /// Adds an entry, evicting as needed; an entry larger than the table empties it (4.4).
    pub fn insert(&mut self, name: Name, value: Vec<u8>) {
        let cost = name.len() + value.len() + ENTRY_OVERHEAD;
        self.evict(cost);
        if cost <= self.max {
            self.size += cost;
            self.entries.push_front((name, value));
        }
    }

    fn evict(&mut self, room: usize) {
        while self.size + room > self.max {
            match self.entries.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + ENTRY_OVERHEAD,
                None => break,
            }
        }
    }

    /// The entry at dynamic index `i` (0 = newest).
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(i).map(|(n, v)| (&n[..], v.as_slice()))
    }

    /// The shared name of the entry at dynamic index `i`.
    fn name(&self, i: usize) -> Option<Name> {
        self.entries.get(i).map(|(n, _)| Rc::clone(n))
    }
}

/// The name at HPACK index `index` as a table entry takes it: shared for a dynamic entry, a
/// copy of at most 27 bytes for a static one.
pub fn lookup_name(dynamic: &Dynamic, index: usize) -> Option<Name> {
    match index {
        0 => None,
        1..=61 => Some(Rc::from(STATIC[index - 1].0.as_bytes())),
        _ => dynamic.name(index - 62),
    }
}

/// The entry at HPACK index `index` (1-based, static then dynamic).
pub fn lookup(dynamic: &Dynamic, index: usize) -> Option<(&[u8], &[u8])> {
    match index {
        0 => None,
        1..=61 => {
            let (n, v) = STATIC[index - 1];
            Some((n.as_bytes(), v.as_bytes()))
        }
        _ => dynamic.get(index - 62),
    }
}
