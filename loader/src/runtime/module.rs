//! [`LoadedModule`]: a verified artifact as the runtime keeps it: its sections, code
//! registered for traps, the decoded module info and what instantiation needs, computed
//! once at load ([`Prepared`]). The API's `Module` is a handle to one.

use crate::platform::memory::ImageSource;
use crate::platform::{ArtifactBytes, ExecMemory, unwind};
use crate::prelude::*;
use crate::runtime::artifact::{self, Decoded, Sections};
use crate::runtime::code_registry::{self, CodeInfo, Registration};
use crate::runtime::error::LoadError;
use crate::runtime::types::{self, TypeRegistry};
use core::sync::atomic::{AtomicU64, Ordering};
use precast_format::module::{DataSegment, MemoryImage};
use precast_format::tables::{FuncTable, NameTable, TrampolineTable, UnwindTable};
use precast_format::{Header, ModuleInfo, VMOffsets};
#[cfg(feature = "std")]
use std::fs::File;
#[cfg(feature = "std")]
use std::os::fd::AsFd;

/// The artifact file a module keeps open to map memory images from, and the file offset of
/// its data section; there are no files without `std`.
#[cfg(feature = "std")]
pub(crate) type ArtifactFile = (File, u64);
#[cfg(not(feature = "std"))]
pub(crate) type ArtifactFile = core::convert::Infallible;

/// Everything instantiation needs that is computed once per module, at load: the decoded
/// module info, canonical type ids, the VMContext template and table images.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub info: ModuleInfo,
    pub offsets: VMOffsets,
    /// Engine-wide type ids by module type index (the VMContext points here).
    pub type_ids: Box<[u32]>,
    /// The VMContext with every instance-independent field filled in: magic, builtins, type
    /// ids, code pointers and type ids of defined functions' references, constant globals.
    pub template: Box<[u8]>,
    /// Defined globals whose value is in the template (constant initializers).
    pub const_globals: Box<[bool]>,
    /// Per defined table: its initial elements as function indices (`u32::MAX`: null), when
    /// its initializer and every active element segment into it are constant.
    pub table_images: Box<[Option<Box<[u32]>>]>,
    /// Element segments applied through a table image.
    pub elem_in_image: Box<[bool]>,
    /// `(canonical type id, entry, exit)` trampoline addresses (0: none), sorted by id, one
    /// entry per id: what a store looks up to call functions of a canonical type.
    pub trampolines_by_id: Box<[(u32, usize, usize)]>,
}

/// A loaded, verified artifact.
pub(crate) struct LoadedModule {
    // Field order is drop order: unregister before freeing what the registry points to.
    /// The image announced to debuggers ([`LoadedModule::announce_to_debuggers`]).
    #[cfg(feature = "std")]
    debugger: Option<crate::platform::gdbjit::Registration>,
    _registration: Registration,
    /// The frames registered with the system unwinder (artifacts with an unwind table; a
    /// linked module's are the executable's own).
    _frames: Option<unwind::Frames>,
    code: Box<CodeInfo>,
    /// Executable mapping or copy of `.text`, when it is not executable in place in
    /// `mapping`.
    _exec: Option<ExecMemory>,
    /// The section bytes. They borrow from `bytes` (whose heap buffer or mapping never
    /// moves and lives as long as this struct) or, for a linked module, from the
    /// executable; they are only handed out as borrows of `&self`.
    sections: Sections<'static>,
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    bytes: ArtifactBytes,
    /// The artifact file, kept open to map memory images from (`None`: loaded from bytes,
    /// or linked into the executable), and the file offset of its data section.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    file: Option<ArtifactFile>,
    /// Process-unique id (pool slots remember which module's image they hold).
    id: u64,
    header: Header,
    prepared: Prepared,
}

impl LoadedModule {
    /// Registers the code at `text_start` (executable already, or kept executable by `exec`)
    /// for traps and computes what instantiation needs.
    pub(crate) fn new(
        types: &TypeRegistry,
        header: Header,
        sections: Sections<'static>,
        (text_start, exec): (usize, Option<ExecMemory>),
        bytes: ArtifactBytes,
        file: Option<ArtifactFile>,
    ) -> Result<LoadedModule, LoadError> {
        let code = Box::new(CodeInfo {
            text_start,
            text_len: sections.text.len(),
            traps: sections.traps.as_ptr(),
            traps_len: sections.traps.len(),
            frame_pointers: header.settings.frame_pointers,
            preemptible: header.settings.epoch_signal,
        });
        let prepared = prepare(types, &sections, text_start)?;
        let registration = code_registry::register(&code);
        let frames = UnwindTable::new(sections.unwind)
            .and_then(|t| unwind::register(t.frames(), t.fixups(), text_start));
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(LoadedModule {
            #[cfg(feature = "std")]
            debugger: None,
            _registration: registration,
            _frames: frames,
            code,
            _exec: exec,
            sections,
            bytes,
            file,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            header,
            prepared,
        })
    }

    /// Announces the module to debuggers through the GDB JIT interface: a copy of the
    /// artifact with `.text` at the address the code runs at, so they find its functions,
    /// line table and symbols. Nothing for a linked module: the executable holds them.
    #[cfg(feature = "std")]
    pub(crate) fn announce_to_debuggers(&mut self) {
        if self.bytes.is_empty() || self.debugger.is_some() {
            return;
        }
        if let Some(image) = artifact::elf::debugger_image(&self.bytes, self.text_start() as u64) {
            self.debugger = Some(crate::platform::gdbjit::register(image.into_boxed_slice()));
        }
    }

    /// The section bytes.
    fn sections(&self) -> &Sections<'_> {
        &self.sections
    }

    /// This module's process-unique id (never reused; never 0).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The module info and the per-module instantiation data.
    pub(crate) fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Verifies the checksum over every section (code, trap table, data, names) and the trap
    /// table: what loads without the full check leave out. Reads the whole artifact.
    pub(crate) fn verify_integrity(&self) -> Result<(), LoadError> {
        artifact::verify_integrity(self.sections(), &self.header)
    }

    /// The decoded module info.
    pub(crate) fn info(&self) -> &ModuleInfo {
        &self.prepared().info
    }

    /// The artifact header.
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The name of function `index` from the name section (read in place).
    pub(crate) fn func_name(&self, index: u32) -> Option<&str> {
        NameTable::new(self.sections().names)?.get(index)
    }

    /// Every function and trampoline of `.text` as `(offset, length, name)`, in offset
    /// order: the artifact's symbols (functions by their name-section name or
    /// `wasm-function[N]`; a trampoline ends where the next piece of code starts).
    #[cfg(feature = "std")]
    pub(crate) fn code_symbols(&self) -> Vec<(usize, usize, alloc::string::String)> {
        use alloc::format;
        let s = self.sections();
        let imported = self.info().num_imported_funcs;
        let mut out = Vec::new();
        if let Some(t) = FuncTable::new(s.funcs) {
            for i in 0..t.len() {
                let f = t.func(i);
                let index = imported + i as u32;
                let name = crate::runtime::trap::display_name(self.func_name(index), index);
                out.push((f.start as usize, f.len as usize, name));
            }
        }
        let mut trampolines = Vec::new();
        if let Some(t) = TrampolineTable::new(s.trampolines) {
            for ty in 0..t.len() {
                for (w, kind) in [(0, "entry"), (1, "exit")] {
                    let off = t.word(ty, w);
                    if off != u32::MAX && (off as usize) < s.text.len() {
                        trampolines
                            .push((off as usize, format!("precast-{kind}-trampoline[{ty}]")));
                    }
                }
            }
        }
        let mut starts: Vec<usize> = out.iter().map(|f| f.0).collect();
        starts.extend(trampolines.iter().map(|t| t.0));
        starts.sort_unstable();
        for (off, name) in trampolines {
            let next = starts.get(starts.partition_point(|&x| x <= off));
            out.push((off, next.map_or(s.text.len(), |&n| n) - off, name));
        }
        out.sort_unstable_by_key(|f| f.0);
        out
    }

    /// Size of the compiled code in bytes.
    pub(crate) fn text_size(&self) -> usize {
        self.code.text_len
    }

    /// Engine-wide type ids by module type index.
    pub(crate) fn type_ids(&self) -> &[u32] {
        &self.prepared().type_ids
    }

    /// The entry and exit trampolines this module has for canonical type `id` (0: none).
    pub(crate) fn trampolines_for_id(&self, id: u32) -> (usize, usize) {
        let p = self.prepared();
        match p.trampolines_by_id.binary_search_by_key(&id, |t| t.0) {
            Ok(i) => (p.trampolines_by_id[i].1, p.trampolines_by_id[i].2),
            Err(_) => (0, 0),
        }
    }

    /// Address of the start of `.text`.
    pub(crate) fn text_start(&self) -> usize {
        self.code.text_start
    }

    /// Whether `pc` lies in this module's `.text`.
    pub(crate) fn text_contains(&self, pc: usize) -> bool {
        self.code.contains(pc)
    }

    /// The function address map bytes.
    pub(crate) fn funcs_bytes(&self) -> &[u8] {
        self.sections().funcs
    }

    /// The inline table's bytes ([`precast_format::tables::InlineTable`]).
    pub(crate) fn inlines_bytes(&self) -> &[u8] {
        self.sections().inlines
    }

    /// Entry and exit trampoline addresses of module type `ty` (`None` where absent).
    pub(crate) fn trampolines(&self, ty: u32) -> (Option<*const u8>, Option<*const u8>) {
        trampolines(self.sections(), self.text_start(), ty)
    }

    /// The bytes of data segment `seg`.
    pub(crate) fn data_bytes(&self, seg: &DataSegment) -> &[u8] {
        let data = self.sections().data;
        let start = usize::try_from(seg.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(seg.len).unwrap_or(usize::MAX));
        data.get(start..end).unwrap_or(&[])
    }

    /// Where memory image `img` comes from: its bytes, and the artifact file to map it from
    /// when the module was loaded from a file.
    pub(crate) fn image_source(&self, img: &MemoryImage) -> Option<ImageSource<'_>> {
        let inner = self;
        let start = usize::try_from(img.data_offset).ok()?;
        let end = start.checked_add(usize::try_from(img.len).ok()?)?;
        Some(ImageSource {
            key: (inner.id, img.memory),
            #[cfg(feature = "std")]
            file: inner
                .file
                .as_ref()
                .map(|(f, data)| (f.as_fd(), data + img.data_offset)),
            memory_offset: img.memory_offset,
            bytes: self.sections().data.get(start..end)?,
        })
    }
}

/// Entry and exit trampoline addresses of module type `ty` (`None` where absent), for code
/// at `text_start`.
fn trampolines(
    s: &Sections<'_>,
    text_start: usize,
    ty: u32,
) -> (Option<*const u8>, Option<*const u8>) {
    let Some(t) = TrampolineTable::new(s.trampolines) else {
        return (None, None);
    };
    if ty as usize >= t.len() {
        return (None, None);
    }
    let at = |w| {
        let off = t.word(ty as usize, w);
        (off != u32::MAX && (off as usize) < s.text.len())
            .then(|| (text_start + off as usize) as *const u8)
    };
    (at(0), at(1))
}

/// Decodes and validates the module info and computes the per-module instantiation data.
fn prepare(
    types: &TypeRegistry,
    s: &Sections<'_>,
    text_start: usize,
) -> Result<Prepared, LoadError> {
    let Decoded { info, offsets } = artifact::decode(s)?;
    // Canonical ids in index order. A type that refers to itself or a later type (a
    // recursion group, which the module info does not describe) cannot be canonicalized
    // soundly: it gets an id of its own, equal to no other type.
    let mut type_ids = Vec::with_capacity(info.types.len());
    for t in &info.types {
        let id = if types::refers_beyond(t, type_ids.len()) {
            types.register_unique(t)
        } else {
            types.register(&types::canon_func(t, &type_ids))
        };
        type_ids.push(id);
    }
    let type_ids = type_ids.into_boxed_slice();
    let funcs = FuncTable::new(s.funcs);
    let plan = crate::runtime::instance::plan(&info, &offsets, &type_ids, |defined| {
        let t = funcs?;
        (defined < t.len()).then(|| (text_start + t.func(defined).start as usize) as *const u8)
    })?;
    let mut trampolines_by_id: Vec<(u32, usize, usize)> = Vec::new();
    for (i, &id) in type_ids.iter().enumerate() {
        let (entry, exit) = trampolines(s, text_start, i as u32);
        trampolines_by_id.push((
            id,
            entry.map_or(0, |p| p as usize),
            exit.map_or(0, |p| p as usize),
        ));
    }
    trampolines_by_id.sort_by_key(|t| t.0);
    trampolines_by_id.dedup_by(|later, first| {
        if later.0 != first.0 {
            return false;
        }
        if first.1 == 0 {
            first.1 = later.1;
        }
        if first.2 == 0 {
            first.2 = later.2;
        }
        true
    });
    Ok(Prepared {
        trampolines_by_id: trampolines_by_id.into_boxed_slice(),
        info,
        offsets,
        type_ids,
        template: plan.template,
        const_globals: plan.const_globals,
        table_images: plan.table_images,
        elem_in_image: plan.elem_in_image,
    })
}
