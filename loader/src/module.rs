//! [`Module`]: a verified artifact mapped into memory with its code executable and
//! registered for trap handling.

use crate::artifact::{self, Verified};
use crate::code_registry::{self, CodeInfo, Registration};
use crate::engine::Engine;
use crate::error::{Error, LoadError};
use crate::host;
use memmap2::{Mmap, MmapMut, MmapOptions};
use precast_format::module::{
    DataSegment, ExternKind, FuncType, GlobalType, ImportKind, MemoryType, TableType,
};
use precast_format::tables::TrampolineTable;
use precast_format::{Header, ModuleInfo, VMOffsets};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// The type of an importable or exportable entity.
#[derive(Clone, Debug, PartialEq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// One import of a module.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportType<'a> {
    /// Import module name.
    pub module: &'a str,
    /// Import field name.
    pub name: &'a str,
    /// What is imported.
    pub ty: ExternType,
}

/// One export of a module.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportType<'a> {
    /// Export name.
    pub name: &'a str,
    /// What is exported.
    pub ty: ExternType,
}

// SAFETY: CodeInfo only holds addresses of the module's immutable mapping.
unsafe impl Send for CodeInfo {}
// SAFETY: as above; all accesses are reads.
unsafe impl Sync for CodeInfo {}

struct ModuleInner {
    // Field order is drop order: unregister before freeing what the registry points to.
    _registration: Registration,
    code: Box<CodeInfo>,
    /// Executable copy of `.text`, when it could not be made executable in place.
    _exec_copy: Option<Mmap>,
    mapping: Mmap,
    engine: Engine,
    header: Header,
    info: ModuleInfo,
    offsets: VMOffsets,
    funcs: Range<usize>,
    trampolines: Range<usize>,
    data: Range<usize>,
    type_ids: Box<[u32]>,
}

/// A loaded, verified artifact. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.info.name)
            .field("text_size", &self.inner.code.text_len)
            .finish()
    }
}

impl Module {
    /// Maps the artifact at `path` (read-only, private) and verifies it.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        let path = path.as_ref();
        let io = |source| LoadError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(LoadError::NotElf {
                reason: "the file is empty".into(),
            }
            .into());
        }
        // SAFETY: a private read-only mapping; the loader never writes through it and
        // verifies every byte it uses. Concurrent truncation of the file by another process
        // is outside what any mmap-based loader can defend against.
        let mapping = unsafe { MmapOptions::new().map_copy_read_only(&file) }.map_err(io)?;
        Module::from_mapping(engine, mapping)
    }

    /// Copies `bytes` into an anonymous mapping and verifies it.
    pub fn from_bytes(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        if bytes.is_empty() {
            return Err(LoadError::NotElf {
                reason: "the file is empty".into(),
            }
            .into());
        }
        let mut anon = MmapMut::map_anon(bytes.len())
            .map_err(|e| LoadError::Map(format!("cannot allocate {} bytes: {e}", bytes.len())))?;
        anon.copy_from_slice(bytes);
        let mapping = anon
            .make_read_only()
            .map_err(|e| LoadError::Map(format!("cannot protect the artifact copy: {e}")))?;
        Module::from_mapping(engine, mapping)
    }

    fn from_mapping(engine: &Engine, mapping: Mmap) -> Result<Module, Error> {
        let v: Verified = artifact::verify(&mapping, engine.config())?;
        let (text_start, exec_copy) = make_executable(&mapping, v.text.clone())?;
        let code = Box::new(CodeInfo {
            text_start,
            text_len: v.text.len(),
            traps: mapping[v.traps.clone()].as_ptr(),
            traps_len: v.traps.len(),
            frame_pointers: v.header.settings.frame_pointers,
        });
        let registration = code_registry::register(&code).ok_or_else(|| {
            LoadError::Map("too many modules are loaded (code registry is full)".into())
        })?;
        // Canonical ids in index order. A type that refers to itself or a later type (a
        // recursion group, which the module info does not describe) cannot be canonicalized
        // soundly: it gets an id of its own, equal to no other type.
        let mut type_ids = Vec::with_capacity(v.info.types.len());
        for t in &v.info.types {
            let id = if crate::types::refers_beyond(t, type_ids.len()) {
                engine.types().register_unique(t)
            } else {
                engine
                    .types()
                    .register(&crate::types::canon_func(t, &type_ids))
            };
            type_ids.push(id);
        }
        let type_ids = type_ids.into_boxed_slice();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                _registration: registration,
                code,
                _exec_copy: exec_copy,
                mapping,
                engine: engine.clone(),
                header: v.header,
                info: v.info,
                offsets: v.offsets,
                funcs: v.funcs,
                trampolines: v.trampolines,
                data: v.data,
                type_ids,
            }),
        })
    }

    /// The engine the module was loaded with.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The decoded module info.
    pub fn info(&self) -> &ModuleInfo {
        &self.inner.info
    }

    /// The artifact header.
    pub fn header(&self) -> &Header {
        &self.inner.header
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.inner.info.name.as_deref()
    }

    /// Size of the compiled code in bytes.
    pub fn text_size(&self) -> usize {
        self.inner.code.text_len
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType<'_>> + '_ {
        let info = &self.inner.info;
        info.imports.iter().map(move |i| ImportType {
            module: &i.module,
            name: &i.name,
            ty: match &i.kind {
                ImportKind::Func(t) => {
                    ExternType::Func(info.types.get(*t as usize).cloned().unwrap_or_default())
                }
                ImportKind::Table(t) => ExternType::Table(*t),
                ImportKind::Memory(m) => ExternType::Memory(*m),
                ImportKind::Global(g) => ExternType::Global(*g),
            },
        })
    }

    /// The module's exports, in order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType<'_>> + '_ {
        let info = &self.inner.info;
        info.exports.iter().map(move |e| ExportType {
            name: &e.name,
            ty: self
                .entity_type(e.kind, e.index)
                .unwrap_or(ExternType::Func(FuncType::default())),
        })
    }

    /// Type of entity `index` of `kind` (whole index space).
    pub(crate) fn entity_type(&self, kind: ExternKind, index: u32) -> Option<ExternType> {
        let info = &self.inner.info;
        let i = index as usize;
        Some(match kind {
            ExternKind::Func => ExternType::Func(info.func_type(index)?.clone()),
            ExternKind::Table => ExternType::Table(info.tables.get(i)?.ty),
            ExternKind::Memory => ExternType::Memory(*info.memories.get(i)?),
            ExternKind::Global => ExternType::Global(info.globals.get(i)?.ty),
        })
    }

    pub(crate) fn offsets(&self) -> &VMOffsets {
        &self.inner.offsets
    }

    /// Engine-wide type ids by module type index.
    pub(crate) fn type_ids(&self) -> &[u32] {
        &self.inner.type_ids
    }

    /// Address of the start of `.text`.
    pub(crate) fn text_start(&self) -> usize {
        self.inner.code.text_start
    }

    /// Whether `pc` lies in this module's `.text`.
    pub(crate) fn text_contains(&self, pc: usize) -> bool {
        self.inner.code.contains(pc)
    }

    /// The function address map bytes.
    pub(crate) fn funcs_bytes(&self) -> &[u8] {
        &self.inner.mapping[self.inner.funcs.clone()]
    }

    /// Address of defined function `defined_index`'s code.
    pub(crate) fn defined_func_ptr(&self, defined_index: usize) -> Option<*const u8> {
        let t = precast_format::tables::FuncTable::new(self.funcs_bytes())?;
        if defined_index >= t.len() {
            return None;
        }
        Some((self.text_start() + t.func(defined_index).start as usize) as *const u8)
    }

    /// Entry and exit trampoline addresses of module type `ty` (`None` where absent).
    pub(crate) fn trampolines(&self, ty: u32) -> (Option<*const u8>, Option<*const u8>) {
        let bytes = &self.inner.mapping[self.inner.trampolines.clone()];
        let Some(t) = TrampolineTable::new(bytes) else {
            return (None, None);
        };
        if ty as usize >= t.len() {
            return (None, None);
        }
        let at = |w| {
            let off = t.word(ty as usize, w);
            (off != u32::MAX).then(|| (self.text_start() + off as usize) as *const u8)
        };
        (at(0), at(1))
    }

    /// The bytes of data segment `seg`.
    pub(crate) fn data_bytes(&self, seg: &DataSegment) -> &[u8] {
        let data = &self.inner.mapping[self.inner.data.clone()];
        let start = usize::try_from(seg.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(seg.len).unwrap_or(usize::MAX));
        data.get(start..end).unwrap_or(&[])
    }

    /// Whether two handles refer to the same loaded module.
    pub fn same(a: &Module, b: &Module) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

/// Makes `text` (a range of `mapping`) executable, in place when it is page aligned, else in
/// an executable copy. Returns the address of the executable text.
fn make_executable(mapping: &Mmap, text: Range<usize>) -> Result<(usize, Option<Mmap>), LoadError> {
    let base = mapping.as_ptr() as usize;
    if text.is_empty() {
        return Ok((base + text.start, None));
    }
    if text.start.is_multiple_of(host::page_size()) {
        let len = host::round_up_to_page(text.len())
            .ok_or_else(|| LoadError::Map("text size overflows".into()))?;
        // SAFETY: the range starts at a page boundary inside our private mapping, and
        // mprotect rounds the length to whole pages, all of which are mapped (the mapping
        // covers the page holding the last text byte). Only protection changes: the pages
        // are never written.
        let r = unsafe {
            rustix::mm::mprotect(
                (base + text.start) as *mut _,
                len,
                rustix::mm::MprotectFlags::READ | rustix::mm::MprotectFlags::EXEC,
            )
        };
        if r.is_ok() {
            return Ok((base + text.start, None));
        }
    }
    let mut copy = MmapMut::map_anon(text.len())
        .map_err(|e| LoadError::Map(format!("cannot allocate code memory: {e}")))?;
    copy.copy_from_slice(&mapping[text]);
    let exec = copy
        .make_exec()
        .map_err(|e| LoadError::Map(format!("cannot make code executable: {e}")))?;
    Ok((exec.as_ptr() as usize, Some(exec)))
}
