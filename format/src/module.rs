//! Module info: everything about a module that is not code, as the loader needs it.
//!
//! Index spaces follow wasm: imported entities come first, then defined ones.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

/// A heap type of a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeapType {
    /// Any function (`func`).
    Func,
    /// Any host reference (`extern`).
    Extern,
    /// The bottom function type (`nofunc`).
    NoFunc,
    /// The bottom extern type (`noextern`).
    NoExtern,
    /// A function of a module-local type index.
    Concrete(u32),
}

/// A reference type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RefType {
    /// Whether null is a value of this type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

impl RefType {
    /// `funcref`.
    pub const FUNCREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Func,
    };
    /// `externref`.
    pub const EXTERNREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Extern,
    };

    /// Whether values of this type are function references.
    pub fn is_func(&self) -> bool {
        matches!(
            self.heap,
            HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_)
        )
    }
}

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference.
    Ref(RefType),
}

impl fmt::Display for RefType {
    /// Text-format style: `(ref null func)`, `(ref 3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.nullable { "(ref null " } else { "(ref " })?;
        match self.heap {
            HeapType::Func => f.write_str("func")?,
            HeapType::Extern => f.write_str("extern")?,
            HeapType::NoFunc => f.write_str("nofunc")?,
            HeapType::NoExtern => f.write_str("noextern")?,
            HeapType::Concrete(i) => write!(f, "{i}")?,
        }
        f.write_str(")")
    }
}

impl fmt::Display for ValType {
    /// Text-format style: `i32`, `v128`, `(ref null func)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => r.fmt(f),
        }
    }
}

/// A function type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl fmt::Display for FuncType {
    /// `(i32, i64) -> (f32)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, v: &[ValType]| -> fmt::Result {
            f.write_str("(")?;
            for (i, t) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                t.fmt(f)?;
            }
            f.write_str(")")
        };
        list(f, &self.params)?;
        f.write_str(" -> ")?;
        list(f, &self.results)
    }
}

impl FuncType {
    /// Number of 16-byte value slots an entry or exit trampoline needs for this type.
    pub fn value_slots(&self) -> usize {
        self.params.len().max(self.results.len())
    }
}

/// A table type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableType {
    /// Element type.
    pub element: RefType,
    /// Initial number of elements.
    pub minimum: u64,
    /// Maximum number of elements.
    pub maximum: Option<u64>,
    /// Whether the table is indexed with i64.
    pub table64: bool,
}

/// A memory type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryType {
    /// Initial size in pages.
    pub minimum: u64,
    /// Maximum size in pages.
    pub maximum: Option<u64>,
    /// Whether the memory is indexed with i64.
    pub memory64: bool,
    /// Whether the memory is shared.
    pub shared: bool,
    /// log2 of the page size (16 for 64 KiB pages).
    pub page_size_log2: u8,
}

impl MemoryType {
    /// Page size in bytes.
    pub fn page_size(&self) -> u64 {
        1 << self.page_size_log2
    }

    /// Largest number of bytes a memory of this type may ever have (per its index type and
    /// maximum).
    pub fn max_bytes(&self) -> u64 {
        let page = self.page_size();
        let index_limit: u128 = if self.memory64 { 1 << 64 } else { 1 << 32 };
        // The page count must also fit the index type (memory.size returns it).
        let max_pages = (index_limit / u128::from(page)).min(index_limit - 1);
        let by_index = max_pages * u128::from(page);
        let by_max = self
            .maximum
            .map_or(u128::MAX, |m| u128::from(m) * u128::from(page));
        by_index.min(by_max).min(u128::from(u64::MAX)) as u64
    }

    /// The initial size in bytes, if it fits a `reservation` of that many bytes.
    pub fn initial_bytes(&self, reservation: u64) -> Result<u64, String> {
        if self.page_size_log2 > 16 {
            return Err(alloc::format!(
                "unsupported page size 2^{}",
                self.page_size_log2
            ));
        }
        self.minimum
            .checked_mul(self.page_size())
            .filter(|&b| b <= self.max_bytes() && b <= reservation)
            .ok_or_else(|| {
                alloc::format!(
                    "memory minimum of {} pages exceeds the {reservation:#x}-byte reservation",
                    self.minimum
                )
            })
    }
}

/// A global type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalType {
    /// Value type.
    pub content: ValType,
    /// Whether the global is mutable.
    pub mutable: bool,
}

/// One operation of a constant expression, evaluated on a stack.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConstOp {
    /// Push an i32.
    I32Const(i32),
    /// Push an i64.
    I64Const(i64),
    /// Push an f32 (bits).
    F32Const(u32),
    /// Push an f64 (bits).
    F64Const(u64),
    /// Push a v128.
    V128Const(u128),
    /// Push a null reference.
    RefNull,
    /// Push a reference to function `index`.
    RefFunc(u32),
    /// Push the value of global `index`.
    GlobalGet(u32),
    /// i32 addition (wrapping).
    I32Add,
    /// i32 subtraction (wrapping).
    I32Sub,
    /// i32 multiplication (wrapping).
    I32Mul,
    /// i64 addition (wrapping).
    I64Add,
    /// i64 subtraction (wrapping).
    I64Sub,
    /// i64 multiplication (wrapping).
    I64Mul,
}

/// A constant expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConstExpr(pub Vec<ConstOp>);

/// What a constant expression can read.
pub trait ConstContext {
    /// The raw 16-byte value of global `index`.
    fn global(&self, index: u32) -> Option<u128>;
    /// The raw reference to function `index` (a `*const VMFuncRef`).
    fn func_ref(&self, index: u32) -> Option<usize>;
}

/// A context with nothing to read: expressions made of constants and arithmetic only.
pub struct NoContext;

impl ConstContext for NoContext {
    fn global(&self, _: u32) -> Option<u128> {
        None
    }
    fn func_ref(&self, _: u32) -> Option<usize> {
        None
    }
}

impl ConstExpr {
    /// The value of an expression of constants and arithmetic only (no `global.get`, no
    /// `ref.func`): the same for every instance, so the compiler may fold it into code and
    /// the loader into the VMContext template.
    pub fn constant(&self) -> Option<u128> {
        self.eval(&NoContext).ok()
    }

    /// Evaluates the expression to a raw value (low bytes, little-endian, zero-extended).
    pub fn eval(&self, ctx: &dyn ConstContext) -> Result<u128, String> {
        eval(self, ctx)
    }
}

fn eval(expr: &ConstExpr, ctx: &dyn ConstContext) -> Result<u128, String> {
    let mut stack: Vec<u128> = Vec::with_capacity(4);
    let pop = |stack: &mut Vec<u128>| stack.pop().ok_or("constant expression stack underflow");
    for op in &expr.0 {
        let v = match *op {
            ConstOp::I32Const(v) => u128::from(v as u32),
            ConstOp::I64Const(v) => u128::from(v as u64),
            ConstOp::F32Const(v) => u128::from(v),
            ConstOp::F64Const(v) => u128::from(v),
            ConstOp::V128Const(v) => v,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(i) => ctx
                .func_ref(i)
                .ok_or_else(|| alloc::format!("ref.func {i} out of range"))?
                as u128,
            ConstOp::GlobalGet(i) => ctx
                .global(i)
                .ok_or_else(|| alloc::format!("global.get {i} out of range"))?,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = pop(&mut stack)? as u32;
                let a = pop(&mut stack)? as u32;
                u128::from(match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = pop(&mut stack)? as u64;
                let a = pop(&mut stack)? as u64;
                u128::from(match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
        };
        stack.push(v);
    }
    match stack.as_slice() {
        [v] => Ok(*v),
        _ => Err(alloc::format!(
            "constant expression leaves {} values, expected 1",
            stack.len()
        )),
    }
}

/// What an import provides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ImportKind {
    /// A function of the given module type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// An import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported.
    pub kind: ImportKind,
}

/// Kinds of exportable entities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A memory.
    Memory,
    /// A global.
    Global,
}

/// An export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// Kind of entity.
    pub kind: ExternKind,
    /// Index in the kind's index space.
    pub index: u32,
}

/// A global: its type and, for defined globals, its initializer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Global {
    /// Type.
    pub ty: GlobalType,
    /// Initializer; `None` for imported globals.
    pub init: Option<ConstExpr>,
}

/// A table: its type and, for defined tables, the initial value of every element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Type.
    pub ty: TableType,
    /// Element initializer (`None`: null); only for defined tables.
    pub init: Option<ConstExpr>,
}

/// Where an element segment goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ElementMode {
    /// Copied into `table` at `offset` during instantiation, then dropped.
    Active {
        /// Table index.
        table: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Available to `table.init`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// The items of an element segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ElementItems {
    /// Function indices.
    Funcs(Vec<u32>),
    /// Constant expressions, one per element.
    Exprs(Vec<ConstExpr>),
}

impl ElementItems {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ElementItems::Funcs(f) => f.len(),
            ElementItems::Exprs(e) => e.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElementSegment {
    /// Mode.
    pub mode: ElementMode,
    /// Element type.
    pub ty: RefType,
    /// Items.
    pub items: ElementItems,
}

/// Where a data segment goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataMode {
    /// Copied into `memory` at `offset` during instantiation, then dropped.
    Active {
        /// Memory index.
        memory: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Available to `memory.init`.
    Passive,
}

/// A data segment; its bytes are `data[offset..offset + len]` of the artifact's data section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSegment {
    /// Mode.
    pub mode: DataMode,
    /// Offset of the bytes in the data section.
    pub offset: u64,
    /// Length of the bytes.
    pub len: u64,
}

/// The initial contents of a defined memory, laid out at compile time from the active data
/// segments with constant offsets: `len` bytes at `data_offset` of the data section, which
/// become bytes `[memory_offset, memory_offset + len)` of the memory. The rest of the memory
/// starts zeroed. Offsets and length are multiples of [`IMAGE_ALIGN`](crate::IMAGE_ALIGN), so
/// a loader can map the image copy-on-write from the artifact file.
///
/// A memory has an image only when every active data segment that targets it has a constant
/// offset and lies within the memory's initial size; those segments are then covered by the
/// image (they have no bytes of their own and are dropped at instantiation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryImage {
    /// Memory index (whole index space; always a defined memory).
    pub memory: u32,
    /// Where the image starts in the memory.
    pub memory_offset: u64,
    /// Offset of the image bytes in the data section.
    pub data_offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Everything about a module except its code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// The module's name from the name section.
    pub name: Option<String>,
    /// Function types, by type index.
    pub types: Vec<FuncType>,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Exports, in order.
    pub exports: Vec<Export>,
    /// Type index of every function (imported first).
    pub functions: Vec<u32>,
    /// Every table (imported first).
    pub tables: Vec<Table>,
    /// Every memory (imported first).
    pub memories: Vec<MemoryType>,
    /// Every global (imported first).
    pub globals: Vec<Global>,
    /// Element segments.
    pub elements: Vec<ElementSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// The start function.
    pub start: Option<u32>,
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Memory images, at most one per defined memory, sorted by memory index.
    pub memory_images: Vec<MemoryImage>,
    /// Function names from the name section, sorted by function index. Written to the
    /// names section ([`crate::tables::NameTable`]), not with the rest of the info: a loader
    /// reads them in place when it symbolizes a backtrace.
    #[serde(skip)]
    pub func_names: Vec<(u32, String)>,
}

impl ModuleInfo {
    /// Number of functions defined (not imported) by the module.
    pub fn num_defined_funcs(&self) -> u32 {
        self.functions.len() as u32 - self.num_imported_funcs
    }

    /// Type of function `index`.
    pub fn func_type(&self, index: u32) -> Option<&FuncType> {
        let ty = *self.functions.get(index as usize)?;
        self.types.get(ty as usize)
    }

    /// Name of function `index` from the name section.
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.func_names
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|i| self.func_names[i].1.as_str())
    }

    /// The image of memory `index`, if it has one.
    pub fn memory_image(&self, index: u32) -> Option<&MemoryImage> {
        self.memory_images.iter().find(|i| i.memory == index)
    }

    /// Whether data segment `i` is covered by a memory image (active, targets a memory with
    /// an image).
    pub fn data_in_image(&self, i: usize) -> bool {
        match self.data.get(i).map(|d| &d.mode) {
            Some(DataMode::Active { memory, .. }) => self.memory_image(*memory).is_some(),
            _ => false,
        }
    }

    /// Looks up an export by name.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }

    /// The VMContext layout this module needs for a target with `pointer_size`-byte pointers.
    pub fn vmoffsets(&self, pointer_size: u8) -> crate::VMOffsets {
        crate::VMOffsets::new(
            pointer_size,
            crate::vmoffsets::Counts {
                imported_funcs: self.num_imported_funcs,
                imported_tables: self.num_imported_tables,
                imported_memories: self.num_imported_memories,
                imported_globals: self.num_imported_globals,
                defined_tables: self.tables.len() as u32 - self.num_imported_tables,
                defined_memories: self.memories.len() as u32 - self.num_imported_memories,
                defined_globals: self.globals.len() as u32 - self.num_imported_globals,
                funcs: self.functions.len() as u32,
            },
        )
    }
}

#[cfg(test)]
mod const_expr_tests {
    use super::*;

    struct Ctx;
    impl ConstContext for Ctx {
        fn global(&self, index: u32) -> Option<u128> {
            (index < 2).then_some(u128::from(index) + 100)
        }
        fn func_ref(&self, index: u32) -> Option<usize> {
            (index == 0).then_some(0x1000)
        }
    }

    fn ev(ops: &[ConstOp]) -> Result<u128, String> {
        ConstExpr(ops.to_vec()).eval(&Ctx)
    }

    #[test]
    fn constants_and_extended_ops() {
        use ConstOp::*;
        assert_eq!(ev(&[I32Const(-1)]).unwrap(), 0xffff_ffff);
        assert_eq!(ev(&[I64Const(-2)]).unwrap(), u128::from(u64::MAX - 1));
        assert_eq!(ev(&[F32Const(0x3f80_0000)]).unwrap(), 0x3f80_0000);
        assert_eq!(ev(&[F64Const(7)]).unwrap(), 7);
        assert_eq!(ev(&[V128Const(u128::MAX)]).unwrap(), u128::MAX);
        assert_eq!(ev(&[RefNull]).unwrap(), 0);
        assert_eq!(ev(&[RefFunc(0)]).unwrap(), 0x1000);
        assert_eq!(ev(&[GlobalGet(1)]).unwrap(), 101);
        assert_eq!(
            ev(&[I32Const(i32::MAX), I32Const(1), I32Add]).unwrap(),
            0x8000_0000
        );
        assert_eq!(
            ev(&[I32Const(0), I32Const(1), I32Sub]).unwrap(),
            0xffff_ffff
        );
        assert_eq!(
            ev(&[I32Const(0x10000), I32Const(0x10000), I32Mul]).unwrap(),
            0
        );
        assert_eq!(ev(&[GlobalGet(0), I32Const(5), I32Add]).unwrap(), 105);
        assert_eq!(
            ev(&[I64Const(3), I64Const(5), I64Sub]).unwrap(),
            u128::from(u64::MAX - 1)
        );
        assert_eq!(
            ev(&[I64Const(1 << 40), I64Const(1 << 30), I64Mul]).unwrap(),
            0
        );
        assert_eq!(ev(&[I64Const(1), I64Const(2), I64Add]).unwrap(), 3);
    }

    #[test]
    fn malformed_expressions_are_errors() {
        use ConstOp::*;
        assert!(ev(&[]).is_err());
        assert!(ev(&[I32Add]).is_err());
        assert!(ev(&[I32Const(1), I32Const(2)]).is_err());
        assert!(ev(&[RefFunc(9)]).is_err());
        assert!(ev(&[GlobalGet(9)]).is_err());
    }
}
