//! The section table of an ELF64 little-endian object, read through the `object` crate's
//! low-level ELF API.
//!
//! `object` parses the structures; this module adds the checks that tell "not ELF",
//! "truncated" and "malformed" apart, so that each bad file gets the precise
//! [`LoadError`] the loader promises.

use crate::prelude::*;
use crate::runtime::error::LoadError;
use object::elf::{ELFCLASS64, ELFDATA2LSB, FileHeader64, SectionHeader64};
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, LittleEndian};

const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
const EHDR_SIZE: usize = core::mem::size_of::<FileHeader64<LittleEndian>>();
const SHDR_SIZE: u64 = core::mem::size_of::<SectionHeader64<LittleEndian>>() as u64;

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
    pub fn display_name(&self) -> alloc::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.name)
    }
}

fn malformed(e: impl core::fmt::Display) -> LoadError {
    LoadError::MalformedElf(e.to_string())
}

fn truncated(what: impl Into<String>, expected: Option<u64>, actual: u64) -> LoadError {
    LoadError::Truncated {
        what: what.into(),
        expected: expected.unwrap_or(u64::MAX),
        actual,
    }
}

/// Parses the section table of `file`.
pub(crate) fn sections(file: &[u8]) -> Result<Vec<Section<'_>>, LoadError> {
    let len = file.len() as u64;
    if file.len() < ELF_MAGIC.len() || file[..4] != ELF_MAGIC {
        let reason = if file.is_empty() {
            "the file is empty".to_string()
        } else if ELF_MAGIC.starts_with(file) {
            return Err(truncated("the ELF header", Some(EHDR_SIZE as u64), len));
        } else {
            "the file does not start with the ELF magic `\\x7fELF`".to_string()
        };
        return Err(LoadError::NotElf { reason });
    }
    if file.len() < EHDR_SIZE {
        return Err(truncated("the ELF header", Some(EHDR_SIZE as u64), len));
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
    let header = FileHeader64::<Endianness>::parse(file).map_err(malformed)?;
    let endian = Endianness::Little;
    let shoff = header.e_shoff(endian);
    if shoff == 0 {
        return Err(LoadError::NotPrecast);
    }
    // Section 0 (which may hold the extended section count) must be in the file before
    // `object` reads the count.
    let first_end = shoff.checked_add(SHDR_SIZE);
    if first_end.is_none_or(|end| end > len) {
        return Err(truncated("the ELF section header table", first_end, len));
    }
    let count = header.shnum(endian, file).map_err(malformed)? as u64;
    let table_end = count
        .checked_mul(SHDR_SIZE)
        .and_then(|n| n.checked_add(shoff));
    if table_end.is_none_or(|end| end > len) {
        let what = format!("the ELF section header table ({count} entries at offset {shoff:#x})");
        return Err(truncated(what, table_end, len));
    }
    let headers = header.section_headers(endian, file).map_err(malformed)?;
    // Every section's contents lie in the file (SHT_NOBITS sections have none).
    let contents = |s: &SectionHeader64<Endianness>, what: &dyn Fn() -> String| {
        let Some((offset, size)) = s.file_range(endian) else {
            return Ok((0, 0));
        };
        let end = offset.checked_add(size);
        match end {
            Some(end) if end <= len => Ok((offset as usize, size as usize)),
            _ => Err(truncated(what(), end, len)),
        }
    };
    let names_index = header.shstrndx(endian, file).map_err(malformed)? as usize;
    let names = headers.get(names_index).ok_or_else(|| {
        malformed(format!(
            "section name table index {names_index} out of range"
        ))
    })?;
    contents(names, &|| "the section name table".to_string())?;
    let table = header.sections(endian, file).map_err(malformed)?;
    let mut out = Vec::with_capacity(headers.len().min(64));
    for (i, s) in headers.iter().enumerate() {
        let name = table
            .section_name(endian, s)
            .map_err(|e| malformed(format!("section {i} name: {e}")))?;
        let (offset, size) = contents(s, &|| {
            format!("section `{}`", String::from_utf8_lossy(name))
        })?;
        out.push(Section { name, offset, size });
    }
    Ok(out)
}

/// A copy of the artifact `file` for debuggers (the GDB JIT interface): `.text` placed at
/// `text_addr` (its section address; the symbols and the DWARF's relocations against it
/// follow), every other section no longer allocated (they are not loaded anywhere a
/// debugger should look). `None` if `file` is not an ELF64 object.
#[cfg(feature = "std")]
pub(crate) fn debugger_image(file: &[u8], text_addr: u64) -> Option<Vec<u8>> {
    let endian = Endianness::Little;
    let header = FileHeader64::<Endianness>::parse(file).ok()?;
    let shoff = usize::try_from(header.e_shoff(endian)).ok()?;
    let headers = header.section_headers(endian, file).ok()?;
    let table = header.sections(endian, file).ok()?;
    let mut image = file.to_vec();
    for (i, s) in headers.iter().enumerate() {
        let at = shoff.checked_add(i.checked_mul(SHDR_SIZE as usize)?)?;
        let field = |offset: usize, value: u64, image: &mut Vec<u8>| {
            image[at + offset..at + offset + 8].copy_from_slice(&value.to_le_bytes());
        };
        if table.section_name(endian, s).ok()? == b".text" {
            field(16, text_addr, &mut image);
        } else if s.sh_flags(endian) & u64::from(object::elf::SHF_ALLOC) != 0 {
            let flags = s.sh_flags(endian) & !u64::from(object::elf::SHF_ALLOC);
            field(8, flags, &mut image);
        }
    }
    Some(image)
}
