//! [`Func`]: calling wasm through entry trampolines, host functions called by wasm through
//! exit trampolines, and [`Caller`], the host function's view of its store.

use crate::api::instance::Extern;
use crate::api::store::{AsStore, AsStoreMut, StoreId, StoreInner, StoreOpaque};
use crate::api::values::{RawVal, Val, func_type_name, raw_to_val, val_to_raw};
use crate::prelude::*;
use crate::runtime::error::{Error, api};
use crate::runtime::instance::InstanceData;
use crate::runtime::store::Owned;
use crate::runtime::trap::Trap;
use crate::runtime::traphandlers::{Pending, catch_traps_with, set_pending};
use crate::runtime::vm::{self, VMFuncRef};
use alloc::sync::Arc;
use core::any::Any;
use core::ffi::c_void;
use core::ptr::NonNull;
use precast_format::abi::host_ctx;
use precast_format::module::FuncType;

/// A function: a reference to a `VMFuncRef` owned by a store (in an instance's VMContext or
/// a host function context).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    pub(crate) store: StoreId,
    ptr: NonNull<VMFuncRef>,
}

// SAFETY: a `Func` is an identifier; it is only dereferenced with access to its store.
unsafe impl Send for Func {}
// SAFETY: as above.
unsafe impl Sync for Func {}

/// The type-erased host closure: `(store, caller VMContext (null: the host), params,
/// results)`.
pub(crate) type ErasedHostFn =
    dyn Fn(*mut StoreOpaque, *const u8, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync;

/// What exit trampolines call for a host function: `(context, caller vmctx, value slots,
/// frame pointer) -> status` (0: results written; else the error is pending).
pub(crate) type DispatchFn =
    unsafe extern "C" fn(*mut HostFuncContext, *mut u8, *mut RawVal, *const u8) -> u32;

/// A host function's implementation, shared by every store it is created in.
#[derive(Clone)]
pub(crate) struct HostImpl {
    /// The implementation over [`Val`]s (calls from the host, and from wasm without `fast`).
    pub erased: Arc<ErasedHostFn>,
    /// A dispatch specialized to a typed closure, which reads and writes the value slots
    /// directly, and that closure (see [`Func::wrap`]).
    pub fast: Option<(DispatchFn, Arc<dyn Any + Send + Sync>)>,
}

impl HostImpl {
    /// An implementation over [`Val`]s only.
    pub fn erased(erased: Arc<ErasedHostFn>) -> HostImpl {
        HostImpl { erased, fast: None }
    }
}

/// The context an exit trampoline receives as `callee_vmctx` for a host function. The first
/// two fields are the ABI ([`host_ctx`]); the rest is ours.
#[repr(C)]
pub(crate) struct HostFuncContext {
    magic: u32,
    dispatch: DispatchFn,
    /// The store-level reference to this function.
    pub func_ref: VMFuncRef,
    pub(crate) store: *mut StoreOpaque,
    ty: Arc<FuncType>,
    func: Arc<ErasedHostFn>,
    /// The typed closure a specialized `dispatch` calls (null without one); owned by `_fast`.
    pub(crate) state: *const (),
    _fast: Option<Arc<dyn Any + Send + Sync>>,
}

const _: () = assert!(core::mem::offset_of!(HostFuncContext, dispatch) == 8);

impl HostFuncContext {
    fn check_layout() -> bool {
        core::mem::offset_of!(HostFuncContext, dispatch) as u32
            == host_ctx::dispatch(vm::POINTER_SIZE)
    }
}

/// Whether `vmctx` (of a `VMFuncRef`) is a host function context.
///
/// # Safety
/// `vmctx` must be the `vmctx` of a live `VMFuncRef`.
pub(crate) unsafe fn is_host_ctx(vmctx: *const u8) -> bool {
    // SAFETY: every VMFuncRef's vmctx points to a VMContext or host context, both starting
    // with a u32 magic.
    !vmctx.is_null() && unsafe { vm::read_magic(vmctx) } == host_ctx::MAGIC
}

/// `f` as a host function implementation of stores with data `T`.
pub(crate) fn erase_host_fn<T: 'static, F>(f: F) -> Arc<ErasedHostFn>
where
    F: Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
{
    Arc::new(move |store, caller, params, results| {
        // SAFETY: the store pointer comes from a `StoreOpaque` that is the first field of a
        // `repr(C)` `StoreInner<T>` (every store is created as one, and a host function of
        // data `T` is only created in stores of `T`), and the call has exclusive access to
        // it for its duration.
        let inner = unsafe { &mut *(store as *mut StoreInner<T>) };
        f(
            Caller {
                inner,
                caller_vmctx: caller,
            },
            params,
            results,
        )
    })
}

impl Func {
    /// Creates a host function in `store` with type `ty`, implemented by `f`.
    pub fn new<S, F>(store: &mut S, ty: FuncType, f: F) -> Func
    where
        S: AsStoreMut,
        S::Data: 'static,
        F: Fn(Caller<'_, S::Data>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
    {
        let store = store.as_store_mut();
        let type_id = store.engine.types().register(&ty);
        let imp = HostImpl::erased(erase_host_fn::<S::Data, F>(f));
        Func::new_erased(store, Arc::new(ty), type_id, imp)
    }

    /// A host function of `ty`, whose canonical id in `store`'s engine is `type_id`, with the
    /// implementation `imp` shared (an [`InstancePre`](crate::InstancePre) makes these once
    /// and creates its host functions in each store without registering or copying).
    pub(crate) fn new_erased(
        store: &mut StoreOpaque,
        ty: Arc<FuncType>,
        type_id: u32,
        imp: HostImpl,
    ) -> Func {
        debug_assert!(HostFuncContext::check_layout());
        let exit = store.type_trampolines(type_id).exit;
        let (dispatch, state, fast): (DispatchFn, *const (), _) = match imp.fast {
            Some((dispatch, f)) => (dispatch, Arc::as_ptr(&f).cast(), Some(f)),
            None => (host_dispatch, core::ptr::null(), None),
        };
        let ctx = Owned::new(HostFuncContext {
            magic: host_ctx::MAGIC,
            dispatch,
            func_ref: VMFuncRef::NULL,
            store: store as *mut StoreOpaque,
            ty,
            func: imp.erased,
            state,
            _fast: fast,
        });
        let p = ctx.as_ptr();
        // SAFETY: `p` is the freshly allocated context, owned by the store from now on.
        let func_ref = unsafe {
            (*p).func_ref = VMFuncRef {
                func: exit.unwrap_or(core::ptr::null()),
                vmctx: p.cast(),
                type_id,
            };
            NonNull::from(&mut (*p).func_ref)
        };
        store.host_funcs.push(ctx);
        Func {
            store: store.id,
            ptr: func_ref,
        }
    }

    /// A handle for the reference `raw` (a `*const VMFuncRef`, 0 for null).
    pub(crate) fn from_raw(store: &StoreOpaque, raw: usize) -> Option<Func> {
        NonNull::new(raw as *mut VMFuncRef).map(|ptr| Func {
            store: store.id,
            ptr,
        })
    }

    /// A handle for the `VMFuncRef` at `ptr`, owned by `store`.
    pub(crate) fn from_ptr(store: StoreId, ptr: NonNull<VMFuncRef>) -> Func {
        Func { store, ptr }
    }

    /// The raw reference value.
    pub(crate) fn as_raw(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// A copy of the `VMFuncRef`.
    pub(crate) fn func_ref(&self) -> VMFuncRef {
        // SAFETY: the VMFuncRef lives as long as its store, which the caller has access to.
        unsafe { *self.ptr.as_ptr() }
    }

    /// Makes sure wasm can call this function: host functions get an exit trampoline if they
    /// have none yet, `exit` when given (one of a module the store holds, for the function's
    /// type), else one from a module of the store. Returns the function's code pointer.
    pub(crate) fn ensure_callable_from_wasm(
        &self,
        store: &StoreOpaque,
        exit: Option<*const u8>,
    ) -> Result<*const u8, Error> {
        let fr = self.func_ref();
        if !fr.func.is_null() {
            return Ok(fr.func);
        }
        match exit.or_else(|| store.type_trampolines(fr.type_id).exit) {
            Some(exit) => {
                // SAFETY: the VMFuncRef belongs to this store's host function context; no
                // wasm is reading it (its code pointer is still null).
                unsafe { (*self.ptr.as_ptr()).func = exit };
                Ok(exit)
            }
            None => api(
                "a host function is passed to wasm, but no module in the store has an exit \
                 trampoline for its type",
            ),
        }
    }

    /// The function's type.
    pub fn ty(&self, store: &impl AsStore) -> Result<FuncType, Error> {
        let store = store.as_store();
        store.check(self.store)?;
        self.ty_arc(store).map(|t| (*t).clone())
    }

    fn ty_arc(&self, store: &StoreOpaque) -> Result<Arc<FuncType>, Error> {
        let id = self.func_ref().type_id;
        store
            .engine
            .types()
            .get(id)
            .ok_or_else(|| Error::Api(format!("function has unknown type id {id}")))
    }

    /// Calls the function with `params`, writing `results` (whose length must be the
    /// function's result count).
    pub fn call(
        &self,
        store: &mut impl AsStoreMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        self.call_opaque(store.as_store_mut(), params, results)
    }

    pub(crate) fn call_opaque(
        &self,
        store: &mut StoreOpaque,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        store.check(self.store)?;
        let ty = self.ty_arc(store)?;
        if params.len() != ty.params.len() {
            return api(format!(
                "function of type {} called with {} arguments",
                func_type_name(&ty),
                params.len()
            ));
        }
        if results.len() != ty.results.len() {
            return api(format!(
                "function of type {} called with room for {} results",
                func_type_name(&ty),
                results.len()
            ));
        }
        for (i, (p, t)) in params.iter().zip(&ty.params).enumerate() {
            if !p.matches(t) {
                return api(format!(
                    "argument {i} of function of type {} has the wrong type: {p:?}",
                    func_type_name(&ty)
                ));
            }
        }
        self.call_checked(store, &ty, params, results)
    }

    /// Calls the function once the store, arity and argument types are known to match
    /// `ty`, the function's type (for callers that checked them once, like
    /// [`TypedFunc`](crate::TypedFunc)).
    pub(crate) fn call_checked(
        &self,
        store: &mut StoreOpaque,
        ty: &FuncType,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        let fr = self.func_ref();
        // SAFETY: `fr.vmctx` belongs to a live VMFuncRef of this store.
        if unsafe { is_host_ctx(fr.vmctx) } {
            let ctx = fr.vmctx as *const HostFuncContext;
            // SAFETY: the magic says this is one of our host contexts, owned by the store.
            let result = unsafe {
                ((*ctx).func)(
                    store as *mut StoreOpaque,
                    core::ptr::null(),
                    params,
                    results,
                )
            };
            result?;
            // SAFETY: as above.
            let rty = unsafe { &(*ctx).ty };
            return check_results(rty, results);
        }
        // Small signatures use a buffer on the stack.
        let n = ty.value_slots().max(1);
        let mut inline = [[0u8; 16]; 8];
        let mut heap = Vec::new();
        let values: &mut [RawVal] = if n <= inline.len() {
            &mut inline[..n]
        } else {
            heap.resize(n, [0; 16]);
            &mut heap
        };
        for (slot, p) in values.iter_mut().zip(params) {
            *slot = val_to_raw(store, p)?;
        }
        // SAFETY: `fr` is not a host function; `values` holds max(params, results) slots.
        unsafe { self.call_wasm_slots(store, ty, values.as_mut_ptr())? };
        for ((r, slot), t) in results.iter_mut().zip(values.iter()).zip(&ty.results) {
            *r = raw_to_val(store, slot, t);
        }
        Ok(())
    }

    /// Whether this is a host function.
    pub(crate) fn is_host(&self) -> bool {
        // SAFETY: `vmctx` belongs to a live VMFuncRef of its store.
        unsafe { is_host_ctx(self.func_ref().vmctx) }
    }

    /// Calls this wasm function of type `ty` with the arguments in `values`, where it leaves
    /// the results.
    ///
    /// # Safety
    /// The function must be a wasm function of `store` (not a host function), and `values`
    /// must hold max(params, results) slots with arguments of `ty`'s parameter types.
    pub(crate) unsafe fn call_wasm_slots(
        &self,
        store: &mut StoreOpaque,
        ty: &FuncType,
        values: *mut RawVal,
    ) -> Result<(), Error> {
        let fr = self.func_ref();
        let Some(entry) = store.type_trampolines(fr.type_id).entry else {
            return api(format!(
                "no module in the store has an entry trampoline for type {}",
                func_type_name(ty)
            ));
        };
        // SAFETY: `entry` is the entry trampoline of this function's canonical type, from a
        // module kept alive by the store; per the contract, `fr` is a defined wasm function
        // of this store and `values` holds max(params, results) slots.
        unsafe { invoke(store, entry, fr.vmctx, fr.func, values) }
    }
}

fn check_results(ty: &FuncType, results: &[Val]) -> Result<(), Error> {
    for (i, (r, t)) in results.iter().zip(&ty.results).enumerate() {
        if !r.matches(t) {
            return api(format!(
                "host function of type {} returned a wrong-typed result {i}: {r:?}",
                func_type_name(ty)
            ));
        }
    }
    Ok(())
}

/// Signature of entry trampolines.
type EntryTrampoline = unsafe extern "C" fn(*mut u8, *mut u8, *const u8, *mut RawVal);

/// What `call_entry` needs; lives on `invoke`'s frame.
#[repr(C)]
struct EntryPayload {
    trampoline: EntryTrampoline,
    vmctx: *mut u8,
    func: *const u8,
    values: *mut RawVal,
    /// Handed over so the compiler sees the store escape into the call.
    store: *mut StoreOpaque,
}

unsafe extern "C" fn call_entry(payload: *mut c_void) {
    // SAFETY: `invoke` passes a live EntryPayload.
    let p = unsafe { &*(payload as *const EntryPayload) };
    // SAFETY: the payload was built from a valid trampoline, vmctx, code pointer and value
    // buffer; `core::hint::black_box` keeps the store pointer escaping.
    unsafe {
        core::hint::black_box(p.store);
        (p.trampoline)(p.vmctx, p.vmctx, p.func, p.values)
    }
}

/// Enters wasm: sets the store's stack limit on the outermost entry and calls the
/// trampoline under [`catch_traps_with`] (installing the signal handlers unless the engine's
/// [`Config::signal_handlers`](crate::Config::signal_handlers) is off).
///
/// # Safety
/// `entry` must be an entry trampoline matching `func`'s type, `vmctx`/`func` a wasm function
/// of `store`, and `values` a buffer of enough slots.
pub(crate) unsafe fn invoke(
    store: &mut StoreOpaque,
    entry: *const u8,
    vmctx: *mut u8,
    func: *const u8,
    values: *mut RawVal,
) -> Result<(), Error> {
    // Code with epoch checks but no fuel checks no deadline at the entry of functions that
    // do not call: one check here covers them.
    let config = store.engine.config();
    if config.epoch_interruption && !config.consume_fuel {
        match crate::runtime::epoch::deadline_check(store, vmctx) {
            Ok(()) => {}
            Err(Pending::Trap(code)) => return Err(Trap::new(code, Vec::new()).into()),
            Err(Pending::Error(e)) => return Err(e),
        }
    }
    let store: *mut StoreOpaque = store;
    // SAFETY: `store` is valid; accesses are short and not held across the call.
    unsafe {
        if (*store).entry_depth == 0 {
            let marker = 0u8;
            let sp = core::ptr::addr_of!(marker) as usize;
            let max = (*store).engine.config().max_wasm_stack;
            (*(*store).entities.state.as_ptr()).stack_limit =
                crate::platform::host::stack_limit(sp, max);
        }
        (*store).entry_depth += 1;
    }
    let mut payload = EntryPayload {
        // SAFETY: `entry` is an entry trampoline with this signature (caller contract).
        trampoline: unsafe { core::mem::transmute::<*const u8, EntryTrampoline>(entry) },
        vmctx,
        func,
        values,
        store,
    };
    // SAFETY: `store` is valid; a short read.
    let handlers = unsafe { (*store).engine.config().signal_handlers };
    // SAFETY: as above.
    #[cfg(feature = "std")]
    let entered = unsafe {
        crate::runtime::epoch::enter(&(*store).entities, vmctx, (*store).entry_depth == 1)
    };
    // SAFETY: `call_entry` holds no destructors and cannot panic.
    let r = unsafe {
        catch_traps_with(
            call_entry,
            (&mut payload as *mut EntryPayload).cast(),
            handlers,
        )
    };
    // SAFETY: the call is over; `store` is valid again for exclusive use.
    let store = unsafe { &mut *store };
    #[cfg(feature = "std")]
    crate::runtime::epoch::leave(&store.entities, entered);
    store.entry_depth -= 1;
    r.map_err(|raw| store.trap_error(raw))
}

/// The `dispatch` of every host function context: called by exit trampolines.
unsafe extern "C" fn host_dispatch(
    ctx: *mut HostFuncContext,
    caller_vmctx: *mut u8,
    values: *mut RawVal,
    _fp: *const u8,
) -> u32 {
    let result = crate::platform::catch_panic(|| {
        // SAFETY: called by an exit trampoline with our context, the wasm caller's VMContext
        // and a buffer of max(params, results) slots.
        unsafe { dispatch(ctx, caller_vmctx, values) }
    });
    host_call_status(result)
}

/// The status a dispatch returns for the outcome of a host call: 0, or 1 with the error (a
/// panic becomes [`Error::Host`]) made pending for the exit trampoline's trap.
#[inline]
pub(crate) fn host_call_status(
    result: Result<Result<(), Error>, Box<dyn Any + Send + 'static>>,
) -> u32 {
    let error = match result {
        Ok(Ok(())) => return 0,
        Ok(Err(e)) => e,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string panic payload)".into());
            Error::Host(format!("host function panicked: {msg}"))
        }
    };
    set_pending(Pending::Error(error));
    1
}

/// The store-level instance index of a wasm caller's VMContext.
///
/// # Safety
/// `vmctx` must be null or point to a live VMContext or host context.
pub(crate) unsafe fn caller_instance(vmctx: *const u8) -> Option<usize> {
    // SAFETY: per the contract, reading the magic is valid.
    if vmctx.is_null() || unsafe { vm::read_magic(vmctx) } != vm::VMCTX_MAGIC {
        return None;
    }
    // SAFETY: VMContexts store their instance pointer at the fixed instance offset.
    let inst =
        unsafe { *(vmctx.add(vm::instance_offset() as usize) as *const *const InstanceData) };
    // SAFETY: the instance outlives its VMContext's use by wasm.
    (!inst.is_null()).then(|| unsafe { (*inst).index })
}

unsafe fn dispatch(
    ctx: *mut HostFuncContext,
    caller_vmctx: *mut u8,
    values: *mut RawVal,
) -> Result<(), Error> {
    // SAFETY: `ctx` is a live host context of its store, which never frees it while the
    // store lives (so `ty` and `func` outlive the call; the reference to `ctx` itself ends
    // before the host closure gets the store); the store outlives every call into its
    // instances.
    let (ty, func, store) = unsafe {
        let ctx = &*ctx;
        (&*Arc::as_ptr(&ctx.ty), &*Arc::as_ptr(&ctx.func), ctx.store)
    };
    // SAFETY: exit trampolines provide max(params, results) slots.
    let slots = unsafe { core::slice::from_raw_parts_mut(values, ty.value_slots()) };
    // Values of small signatures live on the stack.
    const INLINE: usize = 8;
    let (mut inline_params, mut inline_results) = ([Val::I32(0); INLINE], [Val::I32(0); INLINE]);
    let (mut heap_params, mut heap_results) = (Vec::new(), Vec::new());
    let (np, nr) = (ty.params.len(), ty.results.len());
    let params: &mut [Val] = if np <= INLINE {
        &mut inline_params[..np]
    } else {
        heap_params.resize(np, Val::I32(0));
        &mut heap_params
    };
    let results: &mut [Val] = if nr <= INLINE {
        &mut inline_results[..nr]
    } else {
        heap_results.resize(nr, Val::I32(0));
        &mut heap_results
    };
    {
        // SAFETY: no other reference to the store is live here.
        let store = unsafe { &*store };
        for ((p, s), t) in params.iter_mut().zip(slots.iter()).zip(&ty.params) {
            *p = raw_to_val(store, s, t);
        }
    }
    for (r, t) in results.iter_mut().zip(&ty.results) {
        *r = Val::default_for(t);
    }
    func(store, caller_vmctx, params, results)?;
    check_results(ty, results)?;
    // SAFETY: the host closure's borrow of the store ended.
    let store = unsafe { &mut *store };
    for (slot, r) in slots.iter_mut().zip(results.iter()) {
        *slot = val_to_raw(store, r)?;
    }
    Ok(())
}

/// A host function's access to its store and calling instance.
pub struct Caller<'a, T> {
    pub(crate) inner: &'a mut StoreInner<T>,
    /// The calling wasm function's VMContext (null: called from the host), live for `'a`.
    pub(crate) caller_vmctx: *const u8,
}

impl<T> Caller<'_, T> {
    /// The embedder data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The embedder data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// An export of the calling instance (`None` when called from the host or not found).
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        // SAFETY: the caller's VMContext is null or live while this `Caller` is.
        let index = unsafe { caller_instance(self.caller_vmctx) }?;
        crate::api::instance::Instance::from_index(&self.inner.opaque, index).get_export(self, name)
    }
}

impl<T> AsStore for Caller<'_, T> {
    type Data = T;
    fn as_store(&self) -> &StoreOpaque {
        &self.inner.opaque
    }
}

impl<T> AsStoreMut for Caller<'_, T> {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner.opaque
    }
}
