//! Typed host functions ([`Func::wrap`], [`Linker::func_wrap`]): Rust closures whose
//! parameters and results are [`WasmTy`] values. Wasm calls them through a dispatch
//! specialized to the closure, which reads the arguments from the exit trampoline's value
//! slots and writes the results back: no [`Val`] conversion, allocation or type check per
//! call.
//!
//! ```no_run
//! # fn f(engine: &precast_loader::Engine) -> Result<(), precast_loader::Error> {
//! let mut linker = precast_loader::Linker::<u64>::new(engine);
//! linker.func_wrap("env", "add", |a: i32, b: i32| a.wrapping_add(b))?;
//! linker.func_wrap("env", "count", |mut caller: precast_loader::Caller<'_, u64>| {
//!     *caller.data_mut() += 1;
//! })?;
//! # Ok(()) }
//! ```

use crate::api::func::{
    Caller, DispatchFn, Func, HostFuncContext, HostImpl, erase_host_fn, host_call_status,
};
use crate::api::linker::{FastHostFn, HostFn, Linker};
use crate::api::store::{AsStoreMut, StoreInner};
use crate::api::typed::{ValSlot, WasmParams, WasmResults, WasmTy};
use crate::api::values::Val;
use crate::runtime::error::Error;
use alloc::sync::Arc;
use precast_format::module::FuncType;

/// What a typed host function returns: its results ([`WasmResults`]: `()`, a [`WasmTy`] or a
/// tuple), or a `Result` of them whose error traps the calling wasm.
pub trait HostResult {
    /// The results.
    type Results: WasmResults;
    /// The results, or the error to trap with.
    fn into_results(self) -> Result<Self::Results, Error>;
}

impl<R: WasmResults> HostResult for R {
    type Results = R;
    fn into_results(self) -> Result<R, Error> {
        Ok(self)
    }
}

impl<R: WasmResults> HostResult for Result<R, Error> {
    type Results = R;
    fn into_results(self) -> Result<R, Error> {
        self
    }
}

/// A closure usable as a typed host function of stores with data `T`: `Fn(A1, .., An) -> R`
/// or `Fn(Caller<'_, T>, A1, .., An) -> R` with up to 8 [`WasmTy`] parameters and `R` a
/// [`HostResult`]. `Params` tells the two forms apart; callers never name it.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The wasm type of the function.
    #[doc(hidden)]
    fn func_type() -> FuncType;

    /// Calls the closure with the arguments in the first slots at `slots` and writes its
    /// results there.
    ///
    /// # Safety
    /// `slots` must hold max(params, results) slots, the arguments of the function's type.
    #[doc(hidden)]
    unsafe fn call_slots(&self, caller: Caller<'_, T>, slots: *mut ValSlot) -> Result<(), Error>;

    /// Calls the closure with [`Val`] arguments (checked against its type) and results (as
    /// many as its type has).
    #[doc(hidden)]
    fn call_vals(
        &self,
        caller: Caller<'_, T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error>;
}

/// The type of a host function taking `P` and returning `R`.
fn func_type_of<P: WasmParams, R: HostResult>() -> FuncType {
    FuncType {
        params: P::types(),
        results: R::Results::types(),
    }
}

/// Reads `P` from `slots`, calls `f` and writes its results back.
///
/// # Safety
/// As [`IntoFunc::call_slots`].
unsafe fn call_with_slots<P: WasmParams, R: HostResult>(
    slots: *mut ValSlot,
    f: impl FnOnce(P) -> R,
) -> Result<(), Error> {
    // SAFETY: per the contract, the slots hold the arguments.
    let results = f(unsafe { P::from_slots(slots) }).into_results()?;
    // SAFETY: per the contract, there are at least as many slots as results.
    unsafe { results.into_slots(slots) };
    Ok(())
}

/// Converts `params` to `P`, calls `f` and writes its results into `results`.
fn call_with_vals<P: WasmParams, R: HostResult>(
    params: &[Val],
    results: &mut [Val],
    f: impl FnOnce(P) -> R,
) -> Result<(), Error> {
    let params = P::from_vals(params).ok_or_else(|| {
        Error::Api("arguments of a typed host function have the wrong type".into())
    })?;
    f(params).into_results()?.into_vals(results);
    Ok(())
}

macro_rules! into_func {
    ($($a:ident),*) => {
        #[allow(non_snake_case)]
        impl<T, F, R, $($a: WasmTy,)*> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: HostResult,
        {
            fn func_type() -> FuncType {
                func_type_of::<($($a,)*), R>()
            }

            unsafe fn call_slots(&self, _: Caller<'_, T>, slots: *mut ValSlot) -> Result<(), Error> {
                // SAFETY: per this method's contract.
                unsafe { call_with_slots(slots, |($($a,)*)| self($($a),*)) }
            }

            fn call_vals(&self, _: Caller<'_, T>, p: &[Val], r: &mut [Val]) -> Result<(), Error> {
                call_with_vals(p, r, |($($a,)*)| self($($a),*))
            }
        }

        #[allow(non_snake_case)]
        impl<T: 'static, F, R, $($a: WasmTy,)*> IntoFunc<T, (Caller<'static, T>, $($a,)*), R>
            for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: HostResult,
        {
            fn func_type() -> FuncType {
                func_type_of::<($($a,)*), R>()
            }

            unsafe fn call_slots(&self, c: Caller<'_, T>, slots: *mut ValSlot) -> Result<(), Error> {
                // SAFETY: per this method's contract.
                unsafe { call_with_slots(slots, |($($a,)*)| self(c, $($a),*)) }
            }

            fn call_vals(&self, c: Caller<'_, T>, p: &[Val], r: &mut [Val]) -> Result<(), Error> {
                call_with_vals(p, r, |($($a,)*)| self(c, $($a),*))
            }
        }
    };
}

into_func!();
into_func!(A1);
into_func!(A1, A2);
into_func!(A1, A2, A3);
into_func!(A1, A2, A3, A4);
into_func!(A1, A2, A3, A4, A5);
into_func!(A1, A2, A3, A4, A5, A6);
into_func!(A1, A2, A3, A4, A5, A6, A7);
into_func!(A1, A2, A3, A4, A5, A6, A7, A8);

/// The dispatch of a typed host function `F` of stores with data `T`.
unsafe extern "C" fn dispatch_typed<T: 'static, P, R, F: IntoFunc<T, P, R>>(
    ctx: *mut HostFuncContext,
    caller_vmctx: *mut u8,
    slots: *mut ValSlot,
    _fp: *const u8,
) -> u32 {
    let result = crate::platform::catch_panic(|| {
        // SAFETY: an exit trampoline calls this with the context it was created with (whose
        // `state` is the `F` this dispatch was instantiated for, and whose store is a
        // `repr(C)` `StoreInner<T>`), the wasm caller's VMContext and max(params, results)
        // slots; the call has exclusive access to the store for its duration.
        unsafe {
            let (f, store) = ((*ctx).state.cast::<F>(), (*ctx).store);
            let caller = Caller {
                inner: &mut *store.cast::<StoreInner<T>>(),
                caller_vmctx,
            };
            (*f).call_slots(caller, slots)
        }
    });
    host_call_status(result)
}

/// `f`'s type, its implementation over [`Val`]s, and its specialized dispatch.
pub(crate) fn typed_host_fn<T: 'static, P, R, F: IntoFunc<T, P, R>>(
    f: F,
) -> (FuncType, Arc<HostFn<T>>, FastHostFn) {
    let f = Arc::new(f);
    let vals = f.clone();
    let erased: Arc<HostFn<T>> =
        Arc::new(move |caller, params, results| vals.call_vals(caller, params, results));
    let dispatch: DispatchFn = dispatch_typed::<T, P, R, F>;
    (F::func_type(), erased, (dispatch, f))
}

impl Func {
    /// Creates a typed host function in `store`: see [`IntoFunc`].
    pub fn wrap<S, P, R>(store: &mut S, f: impl IntoFunc<S::Data, P, R>) -> Func
    where
        S: AsStoreMut,
        S::Data: 'static,
    {
        let (ty, erased, fast) = typed_host_fn(f);
        let store = store.as_store_mut();
        let type_id = store.engine.types().register(&ty);
        let imp = HostImpl {
            erased: erase_host_fn::<S::Data, _>(move |caller, params, results| {
                erased(caller, params, results)
            }),
            fast: Some(fast),
        };
        Func::new_erased(store, Arc::new(ty), type_id, imp)
    }
}

impl<T: 'static> Linker<T> {
    /// Defines `module::name` as a typed host function: see [`IntoFunc`].
    pub fn func_wrap<P, R>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, P, R>,
    ) -> Result<&mut Self, Error> {
        let (ty, erased, fast) = typed_host_fn(f);
        self.define_host_func(module, name, ty, erased, Some(fast))
    }
}
