//! A minimal, panic-free reader for the section table of an ELF64 little-endian object.
//!
//! The loader only needs section names, file offsets and sizes; parsing them by hand lets it
//! tell "not ELF", "truncated" and "malformed" apart precisely.

use crate::error::LoadError;

const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
const EHDR_SIZE: usize = 64;
const SHDR_SIZE: usize = 64;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const SHT_NOBITS: u32 = 8;

/// One section of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section<'a> {
    /// Section name, as stored (not necessarily UTF-8).
    pub name: &'a [u8],
    /// File offset of the contents.
    pub offset: usize,
    /// Size of the contents in bytes.
    pub size: usize,
}

impl Section<'_> {
    /// The name for messages.
    pub fn display_name(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.name)
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn malformed(msg: impl Into<String>) -> LoadError {
    LoadError::MalformedElf(msg.into())
}

fn to_usize(v: u64, what: &str) -> Result<usize, LoadError> {
    usize::try_from(v).map_err(|_| malformed(format!("{what} {v:#x} does not fit in memory")))
}

/// Parses the section table of `file`.
pub(crate) fn sections(file: &[u8]) -> Result<Vec<Section<'_>>, LoadError> {
    let len = file.len() as u64;
    if file.len() < ELF_MAGIC.len() || file[..4] != ELF_MAGIC {
        let reason = if file.is_empty() {
            "the file is empty".to_string()
        } else if ELF_MAGIC.starts_with(file) {
            return Err(LoadError::Truncated {
                what: "the ELF header".into(),
                expected: EHDR_SIZE as u64,
                actual: len,
            });
        } else {
            "the file does not start with the ELF magic `\\x7fELF`".to_string()
        };
        return Err(LoadError::NotElf { reason });
    }
    if file.len() < EHDR_SIZE {
        return Err(LoadError::Truncated {
            what: "the ELF header".into(),
            expected: EHDR_SIZE as u64,
            actual: len,
        });
    }
    if file[4] != ELFCLASS64 {
        return Err(LoadError::NotElf {
            reason: format!("ELF class {} is not ELF64", file[4]),
        });
    }
    if file[5] != ELFDATA2LSB {
        return Err(LoadError::NotElf {
            reason: format!("ELF data encoding {} is not little-endian", file[5]),
        });
    }
    let header_field = |v: Option<u64>| v.ok_or_else(|| malformed("unreadable ELF header"));
    let shoff = header_field(u64_at(file, 0x28))?;
    let shentsize = header_field(u16_at(file, 0x3a).map(u64::from))?;
    let mut shnum = header_field(u16_at(file, 0x3c).map(u64::from))?;
    let mut shstrndx = header_field(u16_at(file, 0x3e).map(u64::from))?;
    if shoff == 0 {
        return Err(LoadError::NotPrecast);
    }
    if shentsize != SHDR_SIZE as u64 {
        return Err(malformed(format!(
            "section header entry size {shentsize}, expected {SHDR_SIZE}"
        )));
    }
    // Extended numbering: the real count / string table index live in section 0.
    if shnum == 0 || shstrndx == 0xffff {
        let first_end = shoff.checked_add(SHDR_SIZE as u64);
        match first_end {
            Some(end) if end <= len => {}
            _ => {
                return Err(LoadError::Truncated {
                    what: "the ELF section header table".into(),
                    expected: first_end.unwrap_or(u64::MAX),
                    actual: len,
                });
            }
        }
        let at = to_usize(shoff, "section header offset")?;
        if shnum == 0 {
            shnum = header_field(u64_at(file, at + 0x20))?;
        }
        if shstrndx == 0xffff {
            shstrndx = header_field(u32_at(file, at + 0x28).map(u64::from))?;
        }
    }
    let table_end = shnum
        .checked_mul(SHDR_SIZE as u64)
        .and_then(|n| n.checked_add(shoff));
    match table_end {
        Some(end) if end <= len => {}
        _ => {
            return Err(LoadError::Truncated {
                what: format!(
                    "the ELF section header table ({shnum} entries at offset {shoff:#x})"
                ),
                expected: table_end.unwrap_or(u64::MAX),
                actual: len,
            });
        }
    }
    let shoff = to_usize(shoff, "section header offset")?;
    let shnum = to_usize(shnum, "section count")?;

    let header_at = |i: usize| shoff + i * SHDR_SIZE;
    // The whole table is in bounds (checked above), so these reads cannot fail.
    let field32 = |i: usize, o: usize| u32_at(file, header_at(i) + o).unwrap_or(0);
    let field64 = |i: usize, o: usize| u64_at(file, header_at(i) + o).unwrap_or(0);
    // File range of section `i`'s contents (empty for SHT_NOBITS), checked against the file.
    let contents = |i: usize, what: &dyn Fn() -> String| -> Result<(usize, usize), LoadError> {
        if field32(i, 4) == SHT_NOBITS {
            return Ok((0, 0));
        }
        let (offset, size) = (field64(i, 0x18), field64(i, 0x20));
        let end = offset.checked_add(size);
        match end {
            Some(end) if end <= len => Ok((offset as usize, size as usize)),
            _ => Err(LoadError::Truncated {
                what: what(),
                expected: end.unwrap_or(u64::MAX),
                actual: len,
            }),
        }
    };
    let shstrndx = to_usize(shstrndx, "section name table index")?;
    if shstrndx >= shnum {
        return Err(malformed(format!(
            "section name table index {shstrndx} out of range"
        )));
    }
    let (str_off, str_size) = contents(shstrndx, &|| "the section name table".to_string())?;
    let names = &file[str_off..str_off + str_size];
    let mut out = Vec::with_capacity(shnum.min(64));
    for i in 0..shnum {
        let start = field32(i, 0) as usize;
        let rest = names
            .get(start..)
            .ok_or_else(|| malformed(format!("section {i} name offset {start} out of range")))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed(format!("section {i} name is not terminated")))?;
        let name = &rest[..end];
        let (offset, size) = contents(i, &|| {
            format!("section `{}`", String::from_utf8_lossy(name))
        })?;
        out.push(Section { name, offset, size });
    }
    Ok(out)
}
