//! The runtime core, beneath the embedding API ([`crate::api`]) and above the platform
//! ([`crate::platform`]): artifact verification, loaded modules, the VMContext built from
//! `precast_format`'s layout, instances, memories, tables, globals, const expressions, the
//! builtins, trap codes and the trap machinery. It names nothing of the API
//! (`tests/layers.rs` checks that): it reaches the store through [`store::VMStore`] and
//! keeps modules as [`module::LoadedModule`], not as the public types.

pub(crate) mod artifact;
pub(crate) mod builtins;
pub(crate) mod code_registry;
pub(crate) mod epoch;
pub(crate) mod error;
pub(crate) mod instance;
pub(crate) mod memory;
pub(crate) mod module;
pub(crate) mod store;
pub(crate) mod table;
pub(crate) mod trap;
pub(crate) mod traphandlers;
pub(crate) mod types;
pub(crate) mod vm;
