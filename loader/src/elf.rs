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
    /// Section name (borrowed from the file unless it is not UTF-8).
    pub name: std::borrow::Cow<'a, str>,
    /// File offset of the contents.
    pub offset: usize,
    /// Size of the contents in bytes.
    pub size: usize,
    /// Required alignment.
    pub align: u64,
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

    struct Raw {
        name: u32,
        kind: u32,
        offset: u64,
        size: u64,
        align: u64,
    }
    let mut raw = Vec::with_capacity(shnum.min(4096));
    for i in 0..shnum {
        let at = shoff + i * SHDR_SIZE;
        let get =
            |o: usize| u64_at(file, at + o).ok_or_else(|| malformed("unreadable section header"));
        let name = u32_at(file, at).ok_or_else(|| malformed("unreadable section header"))?;
        let kind = u32_at(file, at + 4).ok_or_else(|| malformed("unreadable section header"))?;
        raw.push(Raw {
            name,
            kind,
            offset: get(0x18)?,
            size: get(0x20)?,
            align: get(0x30)?,
        });
    }
    let shstrndx = to_usize(shstrndx, "section name table index")?;
    let strtab = raw
        .get(shstrndx)
        .ok_or_else(|| malformed(format!("section name table index {shstrndx} out of range")))?;
    let contents = |r: &Raw, what: &dyn Fn() -> String| -> Result<(usize, usize), LoadError> {
        if r.kind == SHT_NOBITS {
            return Ok((0, 0));
        }
        let end = r.offset.checked_add(r.size);
        match end {
            Some(end) if end <= len => Ok((r.offset as usize, r.size as usize)),
            _ => Err(LoadError::Truncated {
                what: what(),
                expected: end.unwrap_or(u64::MAX),
                actual: len,
            }),
        }
    };
    let (str_off, str_size) = contents(strtab, &|| "the section name table".to_string())?;
    let names = &file[str_off..str_off + str_size];
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let start = r.name as usize;
        let rest = names
            .get(start..)
            .ok_or_else(|| malformed(format!("section {i} name offset {start} out of range")))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed(format!("section {i} name is not terminated")))?;
        let name = String::from_utf8_lossy(&rest[..end]);
        let (offset, size) = contents(r, &|| format!("section `{name}`"))?;
        out.push(Section {
            name,
            offset,
            size,
            align: r.align,
        });
    }
    Ok(out)
}
