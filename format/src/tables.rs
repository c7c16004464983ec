//! Fixed-width lookup tables that the loader reads in place (no decode step).
//!
//! Each entry is a sequence of little-endian `u32`s. Readers take the raw section bytes.

use alloc::vec::Vec;

/// Location of a defined function in `.text`: `[start, len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncLoc {
    /// Offset of the first instruction from the start of `.text`.
    pub start: u32,
    /// Length in bytes.
    pub len: u32,
}

/// Entry and exit trampolines of one function type: `[entry, exit]` offsets in `.text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrampolineLoc {
    /// Offset of the entry (host -> wasm) trampoline.
    pub entry: u32,
    /// Offset of the exit (wasm -> host) trampoline.
    pub exit: u32,
}

/// A trapping instruction: `[offset, code]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapSite {
    /// Offset of the instruction from the start of `.text`.
    pub offset: u32,
    /// [`TrapCode`](crate::TrapCode) as a byte.
    pub code: u32,
}

fn word(bytes: &[u8], i: usize) -> u32 {
    let b = &bytes[i * 4..i * 4 + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A table of fixed-width entries of `N` words over borrowed bytes.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a, const N: usize> {
    bytes: &'a [u8],
}

impl<'a, const N: usize> Table<'a, N> {
    /// Wraps section bytes; `None` if the length is not a whole number of entries.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        bytes.len().is_multiple_of(N * 4).then_some(Table { bytes })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() / (N * 4)
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Word `w` of entry `i`.
    pub fn word(&self, i: usize, w: usize) -> u32 {
        word(self.bytes, i * N + w)
    }

    /// Binary-searches entries sorted by their first word for `key`.
    pub fn search(&self, key: u32) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.word(mid, 0).cmp(&key) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
}

/// The function address map.
pub type FuncTable<'a> = Table<'a, 2>;
/// The trampoline map.
pub type TrampolineTable<'a> = Table<'a, 2>;
/// The trap table.
pub type TrapTable<'a> = Table<'a, 2>;

impl FuncTable<'_> {
    /// Location of defined function `i`.
    pub fn func(&self, i: usize) -> FuncLoc {
        FuncLoc {
            start: self.word(i, 0),
            len: self.word(i, 1),
        }
    }

    /// The defined function whose code contains `offset`.
    pub fn func_at(&self, offset: u32) -> Option<usize> {
        let i = match self.search(offset) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        let f = self.func(i);
        (offset >= f.start && offset - f.start < f.len).then_some(i)
    }
}

impl TrapTable<'_> {
    /// The trap code at exactly `offset`.
    pub fn trap_at(&self, offset: u32) -> Option<crate::TrapCode> {
        let i = self.search(offset).ok()?;
        crate::TrapCode::from_u8(self.word(i, 1) as u8)
    }
}

/// The names section: `count: u32`, then `count` entries `[func_index, offset, len]` sorted
/// by function index, then the UTF-8 names they point into (offsets from the start of the
/// name bytes). Read in place.
#[derive(Clone, Copy, Debug)]
pub struct NameTable<'a> {
    entries: Table<'a, 3>,
    names: &'a [u8],
}

impl<'a> NameTable<'a> {
    /// Wraps section bytes; `None` if they are shorter than their entry count says. An empty
    /// section is an empty table.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.is_empty() {
            return Some(NameTable {
                entries: Table { bytes },
                names: bytes,
            });
        }
        let count = usize::try_from(word(bytes.get(..4)?, 0)).ok()?;
        let end = count.checked_mul(12)?.checked_add(4)?;
        Some(NameTable {
            entries: Table::new(bytes.get(4..end)?)?,
            names: bytes.get(end..)?,
        })
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of function `index`; `None` if it has none or the entry is malformed.
    pub fn get(&self, index: u32) -> Option<&'a str> {
        let i = self.entries.search(index).ok()?;
        let start = self.entries.word(i, 1) as usize;
        let len = self.entries.word(i, 2) as usize;
        core::str::from_utf8(self.names.get(start..start.checked_add(len)?)?).ok()
    }

    /// Encodes `(function index, name)` pairs sorted by function index.
    pub fn encode(names: &[(u32, alloc::string::String)]) -> Vec<u8> {
        if names.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(names.len() as u32).to_le_bytes());
        let mut at = 0u32;
        for (index, name) in names {
            for w in [*index, at, name.len() as u32] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            at = at.wrapping_add(name.len() as u32);
        }
        for (_, name) in names {
            out.extend_from_slice(name.as_bytes());
        }
        out
    }
}

/// Encodes entries of words into section bytes.
pub fn encode<const N: usize>(entries: impl IntoIterator<Item = [u32; N]>) -> Vec<u8> {
    entries
        .into_iter()
        .flat_map(|e| e.into_iter().flat_map(u32::to_le_bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let funcs = encode([[0, 16], [16, 32], [64, 8]]);
        let t = FuncTable::new(&funcs).unwrap();
        assert_eq!(t.func_at(0), Some(0));
        assert_eq!(t.func_at(47), Some(1));
        assert_eq!(t.func_at(48), None);
        assert_eq!(t.func_at(71), Some(2));
        assert_eq!(t.func_at(72), None);
        let traps = encode([[4, 2], [9, 9]]);
        let t = TrapTable::new(&traps).unwrap();
        assert_eq!(t.trap_at(9), Some(crate::TrapCode::UnreachableCodeReached));
        assert_eq!(t.trap_at(5), None);
        assert!(TrapTable::new(&traps[..5]).is_none());
    }

    #[test]
    fn names() {
        use alloc::string::ToString;
        let bytes = NameTable::encode(&[(1, "one".to_string()), (7, "seven".to_string())]);
        let t = NameTable::new(&bytes).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(1), Some("one"));
        assert_eq!(t.get(7), Some("seven"));
        assert_eq!(t.get(2), None);
        assert!(NameTable::new(&bytes[..10]).is_none());
        assert!(NameTable::new(&[]).unwrap().is_empty());
        for cut in 0..bytes.len() {
            if let Some(t) = NameTable::new(&bytes[..cut]) {
                let _ = (t.get(1), t.get(7));
            }
        }
    }
}
