//! Unwind tables from Cranelift's unwind information, written with gimli: one CIE and an FDE
//! per function and trampoline, in two encodings of the same frames.
//!
//! - A linkable object's `.eh_frame`: FDE addresses PC-relative 32-bit, each a relocation
//!   against `.text` that the system linker resolves (it then indexes the frames in the
//!   executable's `.eh_frame_hdr`, where every unwinder finds them).
//! - An artifact's `.precast.unwind` ([`UnwindTable`]): FDE addresses absolute 8-byte
//!   `.text` offsets, listed as fixups; the loader adds the address of the code and registers
//!   the result with the unwinder.

use crate::CompileError;
use crate::debug::Relocating;
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::isa::unwind::systemv;
use gimli::write::{Address, EhFrame, EndianVec, FrameTable, Writer};
use gimli::{DW_EH_PE_absptr, DW_EH_PE_pcrel, DW_EH_PE_sdata4, LittleEndian};
use precast_format::tables::UnwindTable;

/// How FDE start addresses are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// PC-relative 32-bit, relocated by the system linker.
    Linker,
    /// Absolute 8-byte `.text` offsets, relocated by the loader.
    Loader,
}

/// Frames as written: bytes and, per relocated field, `(offset in the bytes, .text offset)`.
pub struct Frames {
    pub bytes: Vec<u8>,
    pub relocs: Vec<(u32, u32)>,
}

fn err(e: impl std::fmt::Display) -> CompileError {
    CompileError::Artifact(format!("unwind tables: {e}"))
}

/// The frames of `funcs` (`.text` start, unwind information) in `encoding`; `None` when the
/// target has no System V unwind information.
pub fn frames<'a>(
    isa: &dyn TargetIsa,
    funcs: impl IntoIterator<Item = (u32, &'a systemv::UnwindInfo)>,
    encoding: Encoding,
) -> Result<Option<Frames>, CompileError> {
    let Some(mut cie) = isa.create_systemv_cie() else {
        return Ok(None);
    };
    cie.fde_address_encoding = match encoding {
        Encoding::Linker => DW_EH_PE_pcrel | DW_EH_PE_sdata4,
        Encoding::Loader => DW_EH_PE_absptr,
    };
    let mut table = FrameTable::default();
    let cie = table.add_cie(cie);
    for (start, info) in funcs {
        let address = Address::Symbol {
            symbol: 0,
            addend: i64::from(start),
        };
        table.add_fde(cie, info.to_fde(address));
    }
    let mut eh = EhFrame(Relocating::default());
    table.write_eh_frame(&mut eh).map_err(err)?;
    let Relocating { out, relocs } = eh.0;
    let mut bytes = out.into_vec();
    let relocs = relocs
        .iter()
        .map(|r| Ok((u32::try_from(r.offset).map_err(err)?, r.addend as u32)))
        .collect::<Result<Vec<_>, CompileError>>()?;
    if encoding == Encoding::Loader {
        // The image is handed to the unwinder whole: it ends at a zero length word, and the
        // fixed-up fields hold their `.text` offsets.
        for &(at, start) in &relocs {
            let at = at as usize;
            bytes[at..at + 8].copy_from_slice(&u64::from(start).to_le_bytes());
        }
        let mut w = EndianVec::new(LittleEndian);
        w.write_u32(0).map_err(err)?;
        bytes.extend_from_slice(w.slice());
    }
    Ok(Some(Frames { bytes, relocs }))
}

/// The `.precast.unwind` section of an artifact (empty when the target has none).
pub fn loader_table<'a>(
    isa: &dyn TargetIsa,
    funcs: impl IntoIterator<Item = (u32, &'a systemv::UnwindInfo)>,
) -> Result<Vec<u8>, CompileError> {
    Ok(match frames(isa, funcs, Encoding::Loader)? {
        Some(f) => {
            let fixups: Vec<u32> = f.relocs.iter().map(|&(at, _)| at).collect();
            UnwindTable::encode(&fixups, &f.bytes)
        }
        None => Vec::new(),
    })
}
