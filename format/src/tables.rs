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

/// Text is split into chunks of this many bytes; trap sites store their offset within one.
const TRAP_CHUNK_BITS: u32 = 16;
/// Bytes of the trap table's header: entry count and chunk count.
const TRAP_HEADER: usize = 8;

/// The trap table, read in place: 3 bytes per trapping instruction.
///
/// Layout (little-endian): `count: u32`, `chunks: u32`, then `starts: [u32; chunks + 1]`
/// (index of the first site in each 64 KiB chunk of `.text`; the last is `count`), then
/// `low: [u16; count]` (each site's offset within its chunk, increasing within a chunk), then
/// `codes: [u8; count]` ([`TrapCode`](crate::TrapCode) bytes). An empty section has no sites.
///
/// Lookups are bounds-checked and panic-free on any bytes (the signal handler reads tables
/// that only [`TrapTable::check`] has validated).
#[derive(Clone, Copy, Debug)]
pub struct TrapTable<'a> {
    starts: &'a [u8],
    low: &'a [u8],
    codes: &'a [u8],
}

impl<'a> TrapTable<'a> {
    /// Wraps section bytes; `None` if their length disagrees with the counts they hold.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.is_empty() {
            return Some(TrapTable {
                starts: bytes,
                low: bytes,
                codes: bytes,
            });
        }
        let count = usize::try_from(word(bytes.get(..TRAP_HEADER)?, 0)).ok()?;
        let chunks = usize::try_from(word(bytes.get(..TRAP_HEADER)?, 1)).ok()?;
        let starts_end = chunks
            .checked_add(1)?
            .checked_mul(4)?
            .checked_add(TRAP_HEADER)?;
        let low_end = count.checked_mul(2)?.checked_add(starts_end)?;
        if low_end.checked_add(count)? != bytes.len() {
            return None;
        }
        Some(TrapTable {
            starts: &bytes[TRAP_HEADER..starts_end],
            low: &bytes[starts_end..low_end],
            codes: &bytes[low_end..],
        })
    }

    /// Number of trap sites.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no trap sites.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    fn chunks(&self) -> usize {
        (self.starts.len() / 4).saturating_sub(1)
    }

    fn low(&self, i: usize) -> Option<u16> {
        let b = self.low.get(i * 2..i * 2 + 2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    /// The sites of chunk `c`, as an index range (empty if the table is malformed there).
    fn chunk(&self, c: usize) -> core::ops::Range<usize> {
        let (s, e) = (
            word(self.starts, c) as usize,
            word(self.starts, c + 1) as usize,
        );
        if s <= e && e <= self.len() {
            s..e
        } else {
            0..0
        }
    }

    /// The trap code recorded at exactly `offset`.
    pub fn trap_at(&self, offset: u32) -> Option<crate::TrapCode> {
        let c = (offset >> TRAP_CHUNK_BITS) as usize;
        if c >= self.chunks() {
            return None;
        }
        let sites = self.chunk(c);
        let key = offset as u16;
        let (mut lo, mut hi) = (sites.start, sites.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.low(mid)?.cmp(&key) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => {
                    return crate::TrapCode::from_u8(*self.codes.get(mid)?);
                }
            }
        }
        None
    }

    /// Checks that the sites are consistent: chunk starts non-decreasing and ending at the
    /// site count, offsets strictly increasing and below `text_len`, codes known. Returns a
    /// description of the first problem.
    pub fn check(&self, text_len: usize) -> Result<(), alloc::string::String> {
        use alloc::format;
        let chunks = self.chunks();
        if !self.is_empty() && chunks == 0 {
            return Err(format!("{} sites but no chunk", self.len()));
        }
        if chunks > 0 && word(self.starts, chunks) as usize != self.len() {
            return Err(format!(
                "the chunk starts end at {}, not at the site count {}",
                word(self.starts, chunks),
                self.len()
            ));
        }
        let mut prev: Option<u64> = None;
        for c in 0..chunks {
            let (s, e) = (
                word(self.starts, c) as usize,
                word(self.starts, c + 1) as usize,
            );
            if s > e || e > self.len() {
                return Err(format!("chunk {c} has sites {s}..{e}, not sorted"));
            }
            for i in s..e {
                let off = ((c as u64) << TRAP_CHUNK_BITS) | u64::from(self.low(i).unwrap_or(0));
                if off >= text_len as u64 {
                    return Err(format!("trap site {off:#x} is outside .text"));
                }
                if prev.is_some_and(|p| off <= p) {
                    return Err(format!("trap site {off:#x} is not sorted"));
                }
                prev = Some(off);
                let code = self.codes[i];
                if crate::TrapCode::from_u8(code).is_none() {
                    return Err(format!("trap site {off:#x} has unknown code {code}"));
                }
            }
        }
        Ok(())
    }

    /// Encodes `(offset, code)` sites sorted by offset (strictly increasing).
    pub fn encode(sites: &[(u32, crate::TrapCode)]) -> Vec<u8> {
        let Some(&(last, _)) = sites.last() else {
            return Vec::new();
        };
        let chunks = (last >> TRAP_CHUNK_BITS) as usize + 1;
        let mut out = Vec::with_capacity(TRAP_HEADER + 4 * (chunks + 1) + 3 * sites.len());
        out.extend_from_slice(&(sites.len() as u32).to_le_bytes());
        out.extend_from_slice(&(chunks as u32).to_le_bytes());
        let mut next = 0usize;
        for c in 0..=chunks {
            while next < sites.len() && ((sites[next].0 >> TRAP_CHUNK_BITS) as usize) < c {
                next += 1;
            }
            out.extend_from_slice(&(next as u32).to_le_bytes());
        }
        for &(offset, _) in sites {
            out.extend_from_slice(&(offset as u16).to_le_bytes());
        }
        out.extend(sites.iter().map(|&(_, code)| code as u8));
        out
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

/// Unwind information for the platform's unwinder (`.precast.unwind`): `count: u32`, then
/// `fixups: [u32; count]`, then an `.eh_frame` image (one CIE, an FDE per function and
/// trampoline, a zero length word at the end) whose FDE start addresses are 8-byte
/// little-endian offsets into `.text` at the fixup offsets. The loader copies the image, adds
/// the address of `.text` at every fixup and registers the copy. An empty section: none.
#[derive(Clone, Copy, Debug)]
pub struct UnwindTable<'a> {
    fixups: Table<'a, 1>,
    frames: &'a [u8],
}

impl<'a> UnwindTable<'a> {
    /// Wraps section bytes; `None` if they are shorter than their fixup count says.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.is_empty() {
            return Some(UnwindTable {
                fixups: Table { bytes },
                frames: bytes,
            });
        }
        let count = usize::try_from(word(bytes.get(..4)?, 0)).ok()?;
        let end = count.checked_mul(4)?.checked_add(4)?;
        Some(UnwindTable {
            fixups: Table::new(bytes.get(4..end)?)?,
            frames: bytes.get(end..)?,
        })
    }

    /// Whether there is no unwind information.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The `.eh_frame` image, before relocation.
    pub fn frames(&self) -> &'a [u8] {
        self.frames
    }

    /// Offsets in [`frames`](Self::frames) of the 8-byte `.text` offsets to relocate.
    pub fn fixups(&self) -> impl Iterator<Item = usize> + 'a {
        let t = self.fixups;
        (0..t.len()).map(move |i| t.word(i, 0) as usize)
    }

    /// Checks what an unwinder would walk: records whose lengths chain to the zero
    /// terminator at the very end (no 64-bit records), fixups inside the image at 4-aligned
    /// offsets, and each fixed-up offset inside `.text`.
    pub fn check(&self, text_len: usize) -> Result<(), alloc::string::String> {
        use alloc::format;
        if self.frames.is_empty() {
            return match self.fixups.len() {
                0 => Ok(()),
                n => Err(format!("{n} fixups but no frames")),
            };
        }
        let mut at = 0usize;
        loop {
            let len = self
                .frames
                .get(at..at + 4)
                .map(|b| word(b, 0))
                .ok_or_else(|| format!("frame record at {at} runs past the end"))?;
            if len == 0 {
                if at + 4 != self.frames.len() {
                    return Err(format!("the terminator at {at} is not at the end"));
                }
                break;
            }
            if len == u32::MAX || len % 4 != 0 {
                return Err(format!("frame record at {at} has length {len:#x}"));
            }
            at = at
                .checked_add(4 + len as usize)
                .filter(|&end| end < self.frames.len())
                .ok_or_else(|| format!("frame record at {at} runs past the end"))?;
        }
        for f in self.fixups() {
            let field = self
                .frames
                .get(f..f.saturating_add(8))
                .filter(|_| f % 4 == 0)
                .ok_or_else(|| format!("fixup at {f} is outside the frames"))?;
            let mut v = [0u8; 8];
            v.copy_from_slice(field);
            if u64::from_le_bytes(v) >= text_len as u64 {
                return Err(format!("fixup at {f} points outside the code"));
            }
        }
        Ok(())
    }

    /// Encodes fixup offsets and the image they apply to.
    pub fn encode(fixups: &[u32], frames: &[u8]) -> Vec<u8> {
        if frames.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(4 + fixups.len() * 4 + frames.len());
        out.extend_from_slice(&(fixups.len() as u32).to_le_bytes());
        for f in fixups {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend_from_slice(frames);
        out
    }
}

/// Code inlined into other functions, for backtraces: entries `[start, end, func, depth]`
/// (`.text` offsets, the inlined function's defined index, its nesting from 1), one per
/// function a range of code lies in, so a range inside a callee inlined into a callee has
/// two. The entries of one range are adjacent, by depth from 1; ranges are sorted and
/// disjoint.
#[derive(Clone, Copy, Debug)]
pub struct InlineTable<'a> {
    table: Table<'a, 4>,
}

impl<'a> InlineTable<'a> {
    /// Wraps section bytes; `None` if the length is not a whole number of entries.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        Table::new(bytes).map(|table| InlineTable { table })
    }

    /// Whether no code is inlined.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The functions inlined at `.text` offset `offset` (defined indices), innermost first.
    /// Panic-free on any bytes; meaningful on a table [`InlineTable::check`] accepted.
    pub fn frames_at(self, offset: u32) -> impl Iterator<Item = u32> + 'a {
        let t = self.table;
        // The last entry starting at or before `offset`: the deepest of its range.
        let last = match t.search(offset.saturating_add(1)) {
            Ok(i) | Err(i) => i,
        };
        let mut i = last;
        while i > 0 && t.word(i - 1, 0) > offset {
            i -= 1;
        }
        let (lo, hi) = match i.checked_sub(1) {
            Some(top) if t.word(top, 1) > offset => {
                let start = t.word(top, 0);
                let mut first = top;
                while first > 0 && t.word(first - 1, 0) == start {
                    first -= 1;
                }
                (first, top + 1)
            }
            _ => (0, 0),
        };
        (lo..hi).rev().map(move |k| t.word(k, 2))
    }

    /// Checks that entries lie in `.text` (`text_len` bytes) and name one of `funcs` defined
    /// functions, that a range's entries have depths 1, 2, ..., and that ranges are sorted
    /// and disjoint.
    pub fn check(&self, text_len: usize, funcs: usize) -> Result<(), alloc::string::String> {
        let t = self.table;
        let mut prev_end = 0u32;
        let mut i = 0;
        while i < t.len() {
            let (start, end) = (t.word(i, 0), t.word(i, 1));
            if start >= end || end as usize > text_len {
                return Err(alloc::format!(
                    "entry {i}: range {start:#x}..{end:#x} outside .text ({text_len:#x} bytes) or empty"
                ));
            }
            if start < prev_end {
                return Err(alloc::format!(
                    "entry {i}: range {start:#x}..{end:#x} overlaps or precedes the one before"
                ));
            }
            let mut depth = 1;
            while i < t.len() && t.word(i, 0) == start {
                if t.word(i, 1) != end || t.word(i, 3) != depth {
                    return Err(alloc::format!(
                        "entry {i}: not depth {depth} of the range {start:#x}..{end:#x}"
                    ));
                }
                if t.word(i, 2) as usize >= funcs {
                    return Err(alloc::format!(
                        "entry {i}: function {} of {funcs}",
                        t.word(i, 2)
                    ));
                }
                depth += 1;
                i += 1;
            }
            prev_end = end;
        }
        Ok(())
    }

    /// Encodes ranges `(start, end, functions)`, the functions outermost first; the ranges
    /// sorted and disjoint.
    pub fn encode(ranges: &[(u32, u32, Vec<u32>)]) -> Vec<u8> {
        encode(ranges.iter().flat_map(|(start, end, funcs)| {
            funcs
                .iter()
                .enumerate()
                .map(move |(d, &f)| [*start, *end, f, d as u32 + 1])
        }))
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
    fn inline_frames() {
        use alloc::vec;
        let bytes =
            InlineTable::encode(&[(16, 32, vec![3]), (32, 40, vec![3, 5]), (64, 80, vec![1])]);
        let t = InlineTable::new(&bytes).unwrap();
        t.check(100, 6).unwrap();
        let at = |o| t.frames_at(o).collect::<Vec<_>>();
        assert_eq!(at(0), Vec::<u32>::new());
        assert_eq!(at(16), vec![3]);
        assert_eq!(at(31), vec![3]);
        assert_eq!(at(32), vec![5, 3], "innermost first");
        assert_eq!(at(39), vec![5, 3]);
        assert_eq!(at(40), Vec::<u32>::new());
        assert_eq!(at(70), vec![1]);
        assert_eq!(at(80), Vec::<u32>::new());
        assert_eq!(at(u32::MAX), Vec::<u32>::new());
        assert!(t.check(79, 6).is_err(), "past .text");
        assert!(t.check(100, 5).is_err(), "unknown function");
        let overlapping = InlineTable::encode(&[(16, 40, vec![1]), (32, 48, vec![2])]);
        assert!(
            InlineTable::new(&overlapping)
                .unwrap()
                .check(100, 3)
                .is_err()
        );
        let skipped = encode([[16, 32, 1, 2]]);
        assert!(InlineTable::new(&skipped).unwrap().check(100, 3).is_err());
        let empty = encode([[16, 16, 1, 1]]);
        assert!(InlineTable::new(&empty).unwrap().check(100, 3).is_err());
        // Garbage never panics.
        let junk: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
        let j = InlineTable::new(&junk).unwrap();
        for o in [0, 5, 1000, u32::MAX] {
            let _ = j.frames_at(o).count();
        }
    }

    #[test]
    fn lookups() {
        let funcs = encode([[0, 16], [16, 32], [64, 8]]);
        let t = FuncTable::new(&funcs).unwrap();
        assert_eq!(t.func_at(0), Some(0));
        assert_eq!(t.func_at(47), Some(1));
        assert_eq!(t.func_at(48), None);
        assert_eq!(t.func_at(71), Some(2));
        assert_eq!(t.func_at(72), None);
    }

    #[test]
    fn traps() {
        use crate::TrapCode::*;
        let sites = [
            (4, MemoryOutOfBounds),
            (9, UnreachableCodeReached),
            (0x1_0004, IntegerOverflow),
            (0x3_fffe, StackOverflow),
        ];
        let bytes = TrapTable::encode(&sites);
        assert_eq!(bytes.len(), 8 + 4 * 5 + 3 * 4);
        let t = TrapTable::new(&bytes).unwrap();
        assert_eq!(t.len(), 4);
        for (offset, code) in sites {
            assert_eq!(t.trap_at(offset), Some(code), "{offset:#x}");
        }
        for miss in [0, 5, 8, 0x1_0009, 0x2_0004, 0x3_fffd, 0x4_0000, u32::MAX] {
            assert_eq!(t.trap_at(miss), None, "{miss:#x}");
        }
        assert_eq!(t.check(0x3_ffff), Ok(()));
        assert!(t.check(0x3_fffe).unwrap_err().contains("outside"));
        assert!(TrapTable::new(&bytes[..bytes.len() - 1]).is_none());
        let empty = TrapTable::new(&[]).unwrap();
        assert!(empty.is_empty() && empty.trap_at(4).is_none() && empty.check(0).is_ok());
        // Any bytes: lookups stay in bounds.
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] ^= flip;
                if let Some(t) = TrapTable::new(&bad) {
                    let _ = t.check(0x4_0000);
                    for (offset, _) in sites {
                        let _ = t.trap_at(offset);
                    }
                }
            }
        }
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
    #[test]
    fn unwind() {
        // A CIE of 12 bytes, an FDE of 20 with its start at offset 24, the terminator.
        let mut frames = alloc::vec![0u8; 44];
        frames[..4].copy_from_slice(&12u32.to_le_bytes());
        frames[16..20].copy_from_slice(&20u32.to_le_bytes());
        frames[24..32].copy_from_slice(&0x40u64.to_le_bytes());
        let bytes = UnwindTable::encode(&[24], &frames);
        let t = UnwindTable::new(&bytes).unwrap();
        assert_eq!(t.fixups().collect::<Vec<_>>(), [24]);
        assert_eq!(t.frames(), &frames[..]);
        assert_eq!(t.check(0x41), Ok(()));
        assert!(t.check(0x40).unwrap_err().contains("outside the code"));
        let bad = UnwindTable::encode(&[38], &frames);
        assert!(UnwindTable::new(&bad).unwrap().check(0x41).is_err());
        let mut long = frames.clone();
        long[16..20].copy_from_slice(&24u32.to_le_bytes());
        let bad = UnwindTable::encode(&[24], &long);
        assert!(UnwindTable::new(&bad).unwrap().check(0x41).is_err());
        assert!(UnwindTable::new(&[]).unwrap().is_empty());
        assert!(UnwindTable::new(&bytes[..6]).is_none());
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0xff;
            if let Some(t) = UnwindTable::new(&bad) {
                let _ = t.check(0x41);
            }
        }
    }
}
