//! [`Module`]: a handle to a verified artifact mapped into memory with its code executable
//! and registered for trap handling (the runtime's [`LoadedModule`]).

use crate::api::engine::Engine;
#[cfg(feature = "std")]
use crate::platform::code;
#[cfg(not(feature = "std"))]
use crate::platform::host;
use crate::platform::{ArtifactBytes, ExecMemory};
#[cfg(feature = "std")]
use crate::prelude::*;
use crate::runtime::artifact::{self, Sections};
use crate::runtime::error::{Error, LoadError};
use crate::runtime::module::{ArtifactFile, LoadedModule};
use alloc::sync::Arc;
use precast_format::module::{ExternKind, FuncType, GlobalType, ImportKind, MemoryType, TableType};
use precast_format::{Header, ModuleInfo};
#[cfg(feature = "std")]
use std::fs::File;
#[cfg(feature = "std")]
use std::path::Path;

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

/// A module linked into the executable: the descriptor a linkable object exports
/// (`precast compile --link-name NAME`, or `precast-build`), obtained with
/// [`linked!`](crate::linked!) and loaded with [`Module::from_linked`].
#[repr(transparent)]
#[derive(Debug)]
pub struct LinkedModule(pub(crate) precast_format::linked::Descriptor);

/// The `&'static` [`LinkedModule`] of the linkable object linked into this executable under
/// `NAME` (its symbol `precast_module_NAME`), for [`Module::from_linked`].
///
/// ```ignore
/// let module = Module::from_linked(&engine, precast_loader::linked!(app))?;
/// ```
///
/// The object must be part of the link (with `precast-build`, its build script sees to
/// that); a missing one is a link error naming the symbol.
#[macro_export]
macro_rules! linked {
    ($name:ident) => {{
        unsafe extern "C" {
            #[link_name = concat!("precast_module_", stringify!($name))]
            static DESCRIPTOR: $crate::LinkedModule;
        }
        // SAFETY: `precast_module_NAME` is the descriptor of a linkable object written by
        // `precast-compiler` (the prefix is reserved for them): immutable, static data of the
        // executable. `Module::from_linked` checks its magic and version before use.
        unsafe { &DESCRIPTOR }
    }};
}

/// Files up to this size are read rather than mapped whole: one `pread` and one
/// read+execute mapping of `.text` cost a third to a half of mapping the file, changing the
/// protection of `.text` and faulting in the pages the checks read (shootout-ackermann,
/// 66 KiB: 7.6 against 20.8 us; blake3-scalar, 199 KiB: 10.9 against 25.2 us). The price is
/// a heap copy of the artifact per loaded module.
#[cfg(feature = "std")]
pub const READ_WHOLE_LIMIT: usize = 256 * 1024;

/// A loaded, verified artifact. Cheap to clone; safe to share between threads.
///
/// Loading maps the artifact, checks it, makes its code executable and registers it for
/// trap handling, and decodes the module info.
///
/// The safe constructors, [`Module::from_file`] and [`Module::from_bytes`], never run a byte
/// that was not verified to be what the compiler wrote: on top of the structural checks
/// they verify the checksum over every section (code, metadata, trap table, data, names).
/// With [`Config::trusted_keys`](crate::Config::trusted_keys) set, every constructor also
/// requires a valid signature from a trusted key. The `unsafe` forms,
/// [`Module::from_file_unchecked`] and [`Module::from_bytes_unchecked`], skip the checksum
/// over code and data, for artifacts whose integrity the caller vouches for.
#[derive(Clone)]
pub struct Module {
    loaded: Arc<LoadedModule>,
    engine: Engine,
}

impl core::fmt::Debug for Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.info().name)
            .field("text_size", &self.text_size())
            .finish()
    }
}

impl Module {
    /// Reads or maps the artifact at `path` (read-only, private) and verifies it, every
    /// section included: a corrupted byte anywhere the loader reads is refused with a
    /// [`LoadError`] (costs a checksum over the file: see the README's measurements).
    #[cfg(feature = "std")]
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        Module::open(engine, path.as_ref(), true)
    }

    /// [`Module::from_file`] without the checksum over the code, trap table, data and
    /// names: loading reads no page of code or data. Every other check is made (ELF
    /// structure, header, compiler build, target, CPU, settings, the metadata checksum, the
    /// signature when the engine requires one), and [`Module::verify_integrity`] can run the
    /// skipped check later.
    ///
    /// # Safety
    ///
    /// The file's code, trap table and data must be exactly what `precast compile` wrote
    /// (for example, an artifact this process or a trusted build step just wrote, on storage
    /// that does not corrupt it): corrupted machine code is executed as it is.
    #[cfg(feature = "std")]
    pub unsafe fn from_file_unchecked(
        engine: &Engine,
        path: impl AsRef<Path>,
    ) -> Result<Module, Error> {
        Module::open(engine, path.as_ref(), false)
    }

    #[cfg(feature = "std")]
    fn open(engine: &Engine, path: &Path, full: bool) -> Result<Module, Error> {
        let io = |error| LoadError::Io {
            path: path.display().to_string(),
            error,
        };
        let (bytes, file) = code::read_artifact(path, READ_WHOLE_LIMIT).map_err(|e| match e {
            code::ReadError::Io(error) => io(error),
            code::ReadError::Empty => LoadError::NotElf {
                reason: "the file is empty".into(),
            },
            code::ReadError::TooLarge(len) => LoadError::NotElf {
                reason: format!("the file is {len} bytes, too large to map"),
            },
        })?;
        Module::from_mapping(engine, bytes, Some(file), full)
    }

    /// Copies `bytes` into an anonymous mapping and verifies it, every section included
    /// (see [`Module::from_file`]).
    pub fn from_bytes(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        Module::copy(engine, bytes, true)
    }

    /// [`Module::from_bytes`] without the checksum over the code, trap table, data and names
    /// (see [`Module::from_file_unchecked`]).
    ///
    /// # Safety
    ///
    /// `bytes` must be exactly what `precast compile` wrote, as for
    /// [`Module::from_file_unchecked`].
    pub unsafe fn from_bytes_unchecked(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        Module::copy(engine, bytes, false)
    }

    fn copy(engine: &Engine, bytes: &[u8], full: bool) -> Result<Module, Error> {
        if bytes.is_empty() {
            return Err(LoadError::NotElf {
                reason: "the file is empty".into(),
            }
            .into());
        }
        #[cfg(feature = "std")]
        let mapping = code::copy_read_only(bytes).map_err(LoadError::Map)?;
        // Without an MMU to ask, the copy's `.text` runs where it is: the embedder's memory
        // map must let the heap execute (as RAM does on most microcontrollers), or load
        // linked modules, whose code the linker placed.
        #[cfg(not(feature = "std"))]
        let mapping = ArtifactBytes::Heap(bytes.to_vec());
        Module::from_mapping(engine, mapping, None, full)
    }

    /// Loads a module linked into the executable ([`linked!`](crate::linked!)): checks the
    /// descriptor and the header (format version, compiler build, target, CPU features,
    /// settings, metadata checksum; the signature when the engine requires one) and
    /// registers the code for traps and backtraces. No system call: the code runs where the
    /// linker put it, memory images are copied from the executable's read-only data.
    ///
    /// The checksum over code and data is not verified here (call
    /// [`Module::verify_integrity`] for it): the sections are part of the running
    /// executable, loaded by the operating system like the host's own code, and as
    /// trustworthy as it.
    ///
    /// ```ignore
    /// let module = Module::from_linked(&engine, precast_loader::linked!(app))?;
    /// ```
    pub fn from_linked(engine: &Engine, linked: &'static LinkedModule) -> Result<Module, Error> {
        let sections = artifact::linked_sections(&linked.0)?;
        let header = Module::verify(engine, &sections, false)?;
        let text_start = sections.text.as_ptr() as usize;
        Module::new(
            engine,
            header,
            sections,
            (text_start, None),
            ArtifactBytes::Linked,
            None,
        )
    }

    fn verify(engine: &Engine, s: &Sections<'_>, full: bool) -> Result<Header, LoadError> {
        let header = artifact::verify(s, &engine.config().requirements())?;
        if full {
            artifact::verify_integrity(s, &header)?;
        }
        Ok(header)
    }

    fn from_mapping(
        engine: &Engine,
        mapping: ArtifactBytes,
        #[cfg(feature = "std")] file: Option<File>,
        #[cfg(not(feature = "std"))] file: Option<core::convert::Infallible>,
        full: bool,
    ) -> Result<Module, Error> {
        let s = artifact::elf_sections(&mapping)?;
        let header = Module::verify(engine, &s, full)?;
        let offset =
            |bytes: &[u8]| (bytes.as_ptr() as usize).wrapping_sub(mapping.as_ptr() as usize);
        let text = offset(s.text)..offset(s.text) + s.text.len();
        let data_offset = offset(s.data) as u64;
        #[cfg(feature = "std")]
        let code = match &mapping {
            ArtifactBytes::Map(m) => code::make_executable(m, text).map_err(LoadError::Map)?,
            _ => code::map_text(
                engine.inner.code_cache.as_ref(),
                &mapping,
                file.as_ref(),
                text,
            )
            .map_err(LoadError::Map)?,
        };
        #[cfg(not(feature = "std"))]
        let code = {
            let code = mapping
                .get(text)
                .ok_or_else(|| LoadError::Map("text range".into()))?;
            host::flush_icache(code);
            (code.as_ptr() as usize, None)
        };
        // SAFETY: the slices borrow from `mapping`'s heap buffer or mapping, which moves into
        // the module with them and is never moved or freed before it (see
        // `ModuleInner::sections`).
        let sections = unsafe { core::mem::transmute::<Sections<'_>, Sections<'static>>(s) };
        #[cfg(feature = "std")]
        let file = file.map(|f| (f, data_offset));
        #[cfg(not(feature = "std"))]
        let _ = data_offset;
        Module::new(engine, header, sections, code, mapping, file)
    }

    fn new(
        engine: &Engine,
        header: Header,
        sections: Sections<'static>,
        code: (usize, Option<ExecMemory>),
        bytes: ArtifactBytes,
        file: Option<ArtifactFile>,
    ) -> Result<Module, Error> {
        #[allow(unused_mut)]
        let mut loaded = LoadedModule::new(engine.types(), header, sections, code, bytes, file)?;
        if engine.config().debugger {
            #[cfg(feature = "std")]
            loaded.announce_to_debuggers();
            #[cfg(not(feature = "std"))]
            return Err(Error::Api(
                "announcing code to debuggers needs the Linux platform (the `std` feature)".into(),
            ));
        }
        let profiler = engine.config().profiler;
        if profiler != super::engine::Profiler::None {
            #[cfg(feature = "std")]
            {
                use crate::platform::{jitdump, perfmap};
                let (record, path): (fn(_, _, _) -> _, _) = match profiler {
                    super::engine::Profiler::JitDump => (jitdump::record, jitdump::path()),
                    _ => (perfmap::record, perfmap::path()),
                };
                let name = loaded.info().name.as_deref();
                record(loaded.text_start(), name, &loaded.code_symbols()).map_err(|e| {
                    Error::Resource(format!("cannot write the profile {}: {e}", path.display()))
                })?;
            }
            #[cfg(not(feature = "std"))]
            return Err(Error::Api(
                "profilers need the Linux platform (the `std` feature)".into(),
            ));
        }
        Ok(Module {
            loaded: Arc::new(loaded),
            engine: engine.clone(),
        })
    }

    /// A handle to `loaded`, which was loaded with `engine`.
    pub(crate) fn from_loaded(loaded: &Arc<LoadedModule>, engine: &Engine) -> Module {
        Module {
            loaded: loaded.clone(),
            engine: engine.clone(),
        }
    }

    /// The module as the runtime keeps it.
    pub(crate) fn loaded(&self) -> &Arc<LoadedModule> {
        &self.loaded
    }

    /// Verifies what [`Module::from_file_unchecked`] and [`Module::from_linked`] leave out:
    /// the checksum over every section (code, trap table, data, names) and the trap table.
    /// Reads the whole artifact.
    pub fn verify_integrity(&self) -> Result<(), Error> {
        self.loaded.verify_integrity()?;
        Ok(())
    }

    /// The engine the module was loaded with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The decoded module info (decoded and validated at load).
    pub fn info(&self) -> &ModuleInfo {
        self.loaded.info()
    }

    /// The artifact header.
    pub fn header(&self) -> &Header {
        self.loaded.header()
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.info().name.as_deref()
    }

    /// The name of function `index` from the name section (read in place).
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.loaded.func_name(index)
    }

    /// Size of the compiled code in bytes.
    pub fn text_size(&self) -> usize {
        self.loaded.text_size()
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType<'_>> + '_ {
        let info = self.info();
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
        let info = self.info();
        info.exports.iter().map(move |e| ExportType {
            name: &e.name,
            ty: self
                .entity_type(e.kind, e.index)
                .unwrap_or(ExternType::Func(FuncType::default())),
        })
    }

    /// Type of entity `index` of `kind` (whole index space).
    pub(crate) fn entity_type(&self, kind: ExternKind, index: u32) -> Option<ExternType> {
        let info = self.info();
        let i = index as usize;
        Some(match kind {
            ExternKind::Func => ExternType::Func(info.func_type(index)?.clone()),
            ExternKind::Table => ExternType::Table(info.tables.get(i)?.ty),
            ExternKind::Memory => ExternType::Memory(*info.memories.get(i)?),
            ExternKind::Global => ExternType::Global(info.globals.get(i)?.ty),
        })
    }

    /// Whether two handles refer to the same loaded module.
    pub fn same(a: &Module, b: &Module) -> bool {
        Arc::ptr_eq(&a.loaded, &b.loaded)
    }
}
