//! The VMContext layout: one definition, used by the compiler to emit loads and by the loader
//! to allocate and fill instances.
//!
//! A VMContext is a pointer-aligned block laid out as follows (`P` = pointer size):
//!
//! | region | entry | entry layout |
//! |---|---|---|
//! | magic | `u32` [`VMCTX_MAGIC`](crate::abi::VMCTX_MAGIC), padded to `P` | |
//! | store state | `*mut VMStoreState` | [`abi::store`](crate::abi::store) |
//! | builtins | `*const fn` table | indexed by [`Builtin`](crate::builtins::Builtin) |
//! | type ids | `*const u32` | engine-wide id per module type index |
//! | instance | `*mut ()` | opaque, owned by the loader |
//! | imported memories | `*mut VMMemoryDefinition` each | |
//! | imported tables | `*mut VMTableDefinition` each | |
//! | imported globals | `*mut VMGlobalDefinition` each | |
//! | defined memories | `VMMemoryDefinition` each | [`abi::memory`](crate::abi::memory) |
//! | defined tables | `VMTableDefinition` each | [`abi::table`](crate::abi::table) |
//! | defined globals | 16-byte `VMGlobalDefinition` each, 16-aligned | value in the low bytes |
//! | func refs | `VMFuncRef` per function (imported first) | [`abi::func_ref`](crate::abi::func_ref) |

use serde::{Deserialize, Serialize};

/// Entity counts that determine a VMContext layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Imported functions.
    pub imported_funcs: u32,
    /// Imported tables.
    pub imported_tables: u32,
    /// Imported memories.
    pub imported_memories: u32,
    /// Imported globals.
    pub imported_globals: u32,
    /// Defined tables.
    pub defined_tables: u32,
    /// Defined memories.
    pub defined_memories: u32,
    /// Defined globals.
    pub defined_globals: u32,
    /// All functions, imported and defined.
    pub funcs: u32,
}

/// Byte offsets of every VMContext field for one module and pointer size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VMOffsets {
    /// Pointer size in bytes (4 or 8).
    pub pointer_size: u8,
    /// Entity counts.
    pub counts: Counts,
    /// Offset of the `*mut VMStoreState`.
    pub store: u32,
    /// Offset of the builtins table pointer.
    pub builtins: u32,
    /// Offset of the type-id array pointer.
    pub type_ids: u32,
    /// Offset of the loader's opaque instance pointer.
    pub instance: u32,
    /// Offset of the pointer to the instance's epoch probe page (fault-based epoch checks,
    /// [`Settings::epoch_probe`](crate::header::Settings::epoch_probe); null otherwise).
    pub epoch_probe: u32,
    /// Start of the imported memory pointers.
    pub imported_memories: u32,
    /// Start of the imported table pointers.
    pub imported_tables: u32,
    /// Start of the imported global pointers.
    pub imported_globals: u32,
    /// Start of the defined memory definitions.
    pub defined_memories: u32,
    /// Start of the defined table definitions.
    pub defined_tables: u32,
    /// Start of the defined globals.
    pub defined_globals: u32,
    /// Start of the function references.
    pub func_refs: u32,
    /// Total size of the VMContext.
    pub size: u32,
}

/// Size of a global slot.
pub const GLOBAL_SIZE: u32 = 16;

/// Offset of the builtins table pointer in every VMContext of `pointer_size`-byte pointers,
/// whatever the module: the fields before the imports are at fixed offsets, so code holding
/// the VMContext of another module (an exit trampoline's `caller_vmctx`) finds its builtins.
pub const fn builtins_offset(pointer_size: u8) -> u32 {
    2 * pointer_size as u32
}

fn align(n: u32, to: u32) -> u32 {
    n.div_ceil(to) * to
}

impl VMOffsets {
    /// Computes the layout for `counts` with `pointer_size`-byte pointers.
    pub fn new(pointer_size: u8, counts: Counts) -> VMOffsets {
        let p = u32::from(pointer_size);
        let mut at = p; // magic, padded to a pointer
        let mut next = |bytes: u32| {
            let here = at;
            at += bytes;
            here
        };
        let store = next(p);
        let builtins = next(p);
        debug_assert!(builtins == builtins_offset(pointer_size));
        let type_ids = next(p);
        let instance = next(p);
        let epoch_probe = next(p);
        let imported_memories = next(p * counts.imported_memories);
        let imported_tables = next(p * counts.imported_tables);
        let imported_globals = next(p * counts.imported_globals);
        let defined_memories = next(2 * p * counts.defined_memories);
        let defined_tables = next(2 * p * counts.defined_tables);
        at = align(at, GLOBAL_SIZE);
        let defined_globals = at;
        at += GLOBAL_SIZE * counts.defined_globals;
        let func_refs = at;
        at += crate::abi::func_ref::size(pointer_size) * counts.funcs;
        VMOffsets {
            pointer_size,
            counts,
            store,
            builtins,
            type_ids,
            instance,
            epoch_probe,
            imported_memories,
            imported_tables,
            imported_globals,
            defined_memories,
            defined_tables,
            defined_globals,
            func_refs,
            size: align(at, GLOBAL_SIZE),
        }
    }

    fn p(&self) -> u32 {
        u32::from(self.pointer_size)
    }

    /// Offset of the pointer to imported memory `i` (index among imported memories).
    pub fn imported_memory(&self, i: u32) -> u32 {
        self.imported_memories + i * self.p()
    }

    /// Offset of the pointer to imported table `i`.
    pub fn imported_table(&self, i: u32) -> u32 {
        self.imported_tables + i * self.p()
    }

    /// Offset of the pointer to imported global `i`.
    pub fn imported_global(&self, i: u32) -> u32 {
        self.imported_globals + i * self.p()
    }

    /// Offset of defined memory `i`'s `VMMemoryDefinition` (index among defined memories).
    pub fn defined_memory(&self, i: u32) -> u32 {
        self.defined_memories + i * 2 * self.p()
    }

    /// Offset of defined table `i`'s `VMTableDefinition`.
    pub fn defined_table(&self, i: u32) -> u32 {
        self.defined_tables + i * 2 * self.p()
    }

    /// Offset of defined global `i`.
    pub fn defined_global(&self, i: u32) -> u32 {
        self.defined_globals + i * GLOBAL_SIZE
    }

    /// Offset of the `VMFuncRef` of function `index` (whole function index space).
    pub fn func_ref(&self, index: u32) -> u32 {
        self.func_refs + index * crate::abi::func_ref::size(self.pointer_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_ordered_and_aligned() {
        let counts = Counts {
            imported_funcs: 2,
            imported_tables: 1,
            imported_memories: 1,
            imported_globals: 3,
            defined_tables: 2,
            defined_memories: 1,
            defined_globals: 5,
            funcs: 10,
        };
        let o = VMOffsets::new(8, counts);
        assert_eq!(o.store, 8);
        assert_eq!(o.builtins, 16);
        assert_eq!(o.builtins, builtins_offset(8));
        assert_eq!(
            VMOffsets::new(4, Counts::default()).builtins,
            builtins_offset(4)
        );
        assert_eq!(o.instance, 32);
        assert_eq!(o.epoch_probe, 40);
        assert_eq!(o.imported_memories, 48);
        assert_eq!(o.imported_tables, 56);
        assert_eq!(o.imported_globals, 64);
        assert_eq!(o.defined_memories, 88);
        assert_eq!(o.defined_tables, 104);
        assert_eq!(o.defined_globals % 16, 0);
        assert!(o.defined_globals >= 136);
        assert_eq!(o.func_refs, o.defined_globals + 80);
        assert_eq!(o.size, o.func_refs + 10 * 24);
        assert_eq!(o.func_ref(3), o.func_refs + 72);
        let o32 = VMOffsets::new(4, counts);
        assert_eq!(o32.store, 4);
        assert!(o32.size < o.size);
    }
}
