//! [`TypedFunc`]: calling a wasm function with Rust types instead of [`Val`] slices.
//!
//! ```no_run
//! # fn f(store: &mut precast_loader::Store<()>, instance: precast_loader::Instance)
//! # -> Result<(), precast_loader::Error> {
//! let add = instance.get_typed_func::<(i32, i32), i32>(&*store, "add")?;
//! assert_eq!(add.call(&mut *store, (2, 3))?, 5);
//! # Ok(()) }
//! ```

use crate::api::func::Func;
use crate::api::store::{AsStore, AsStoreMut};
use crate::api::values::{Val, func_type_name};
use crate::prelude::*;
use crate::runtime::error::{Error, api};
use alloc::sync::Arc;
use core::marker::PhantomData;
use precast_format::module::{FuncType, ValType};

/// One value slot at the host boundary (see [`precast_format::abi::VAL_SLOT_SIZE`]).
pub type ValSlot = [u8; 16];

/// A Rust type that is one wasm value type.
pub trait WasmTy: Sized + Copy + Send + 'static {
    /// The wasm type.
    const TY: ValType;
    /// Converts to a [`Val`].
    fn into_val(self) -> Val;
    /// Converts from a [`Val`] of type [`Self::TY`].
    fn from_val(v: Val) -> Option<Self>;
    /// Reads the value from a slot holding a value of type [`Self::TY`].
    #[doc(hidden)]
    fn from_slot(slot: &ValSlot) -> Self;
    /// The slot holding this value.
    #[doc(hidden)]
    fn into_slot(self) -> ValSlot;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, $to:expr, $from:pat => $back:expr, $bits:ident => $read:expr, $x:ident => $write:expr) => {
        impl WasmTy for $t {
            const TY: ValType = ValType::$vt;
            fn into_val(self) -> Val {
                #[allow(clippy::redundant_closure_call)]
                ($to)(self)
            }
            fn from_val(v: Val) -> Option<Self> {
                match v {
                    $from => Some($back),
                    _ => None,
                }
            }
            fn from_slot(slot: &ValSlot) -> Self {
                let $bits = u128::from_le_bytes(*slot);
                $read
            }
            fn into_slot(self) -> ValSlot {
                let $x = self;
                u128::to_le_bytes($write)
            }
        }
    };
}

wasm_ty!(i32, I32, Val::I32, Val::I32(x) => x, b => b as u32 as i32, x => u128::from(x as u32));
wasm_ty!(u32, I32, |x: u32| Val::I32(x as i32), Val::I32(x) => x as u32, b => b as u32, x => u128::from(x));
wasm_ty!(i64, I64, Val::I64, Val::I64(x) => x, b => b as u64 as i64, x => u128::from(x as u64));
wasm_ty!(u64, I64, |x: u64| Val::I64(x as i64), Val::I64(x) => x as u64, b => b as u64, x => u128::from(x));
wasm_ty!(f32, F32, |x: f32| Val::F32(x.to_bits()), Val::F32(b) => f32::from_bits(b),
    b => f32::from_bits(b as u32), x => u128::from(x.to_bits()));
wasm_ty!(f64, F64, |x: f64| Val::F64(x.to_bits()), Val::F64(b) => f64::from_bits(b),
    b => f64::from_bits(b as u64), x => u128::from(x.to_bits()));
wasm_ty!(u128, V128, Val::V128, Val::V128(x) => x, b => b, x => x);

/// Parameters of a typed call: a [`WasmTy`], or a tuple of them (up to 8).
pub trait WasmParams: Sized {
    /// Number of parameters.
    #[doc(hidden)]
    const COUNT: usize;
    /// The parameter types.
    fn types() -> Vec<ValType>;
    /// The parameter values.
    fn into_vals(self) -> Vec<Val>;
    /// The parameters from values of their types (`None`: another count or type).
    #[doc(hidden)]
    fn from_vals(vals: &[Val]) -> Option<Self>;
    /// Reads the parameters from the first slots at `slots`.
    ///
    /// # Safety
    /// `slots` must hold that many slots with values of the parameter types.
    #[doc(hidden)]
    unsafe fn from_slots(slots: *const ValSlot) -> Self;
    /// Writes the parameters into the first [`Self::COUNT`] slots at `slots`.
    ///
    /// # Safety
    /// `slots` must be valid for writing that many slots.
    #[doc(hidden)]
    unsafe fn into_slots(self, slots: *mut ValSlot);
}

/// Results of a typed call: `()`, a [`WasmTy`], or a tuple of them (up to 8).
pub trait WasmResults: Sized {
    /// Number of results.
    #[doc(hidden)]
    const COUNT: usize;
    /// The result types.
    fn types() -> Vec<ValType>;
    /// Converts the results (already checked against [`Self::types`]).
    fn from_vals(vals: &[Val]) -> Option<Self>;
    /// Writes the results into `out` (of [`Self::COUNT`] values).
    #[doc(hidden)]
    fn into_vals(self, out: &mut [Val]);
    /// Writes the results into the first [`Self::COUNT`] slots at `slots`.
    ///
    /// # Safety
    /// `slots` must be valid for writing that many slots.
    #[doc(hidden)]
    unsafe fn into_slots(self, slots: *mut ValSlot);
    /// Reads the results from the first [`Self::COUNT`] slots at `slots`.
    ///
    /// # Safety
    /// `slots` must hold that many slots with values of the result types.
    #[doc(hidden)]
    unsafe fn from_slots(slots: *const ValSlot) -> Self;
}

impl<T: WasmTy> WasmParams for T {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::TY]
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        match vals {
            [v] => T::from_val(*v),
            _ => None,
        }
    }
    unsafe fn from_slots(slots: *const ValSlot) -> Self {
        // SAFETY: per the contract, one slot holds a value of type `T::TY`.
        T::from_slot(unsafe { &*slots })
    }
    unsafe fn into_slots(self, slots: *mut ValSlot) {
        // SAFETY: per the contract, one slot is writable.
        unsafe { slots.write(self.into_slot()) };
    }
}

impl<T: WasmTy> WasmResults for T {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::TY]
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        T::from_val(*vals.first()?)
    }
    fn into_vals(self, out: &mut [Val]) {
        if let Some(v) = out.first_mut() {
            *v = self.into_val();
        }
    }
    unsafe fn into_slots(self, slots: *mut ValSlot) {
        // SAFETY: per the contract, one slot is writable.
        unsafe { slots.write(self.into_slot()) };
    }
    unsafe fn from_slots(slots: *const ValSlot) -> Self {
        // SAFETY: per the contract, one slot holds a value of type `T::TY`.
        T::from_slot(unsafe { &*slots })
    }
}

macro_rules! tuples {
    ($($n:ident),*) => {
        impl<$($n: WasmTy),*> WasmParams for ($($n,)*) {
            const COUNT: usize = <[&str]>::len(&[$(stringify!($n)),*]);
            fn types() -> Vec<ValType> {
                vec![$($n::TY),*]
            }
            #[allow(non_snake_case)]
            fn into_vals(self) -> Vec<Val> {
                let ($($n,)*) = self;
                vec![$($n.into_val()),*]
            }
            #[allow(unused_variables, unused_mut)]
            fn from_vals(vals: &[Val]) -> Option<Self> {
                let mut it = vals.iter().copied();
                let params = ($($n::from_val(it.next()?)?,)*);
                it.next().is_none().then_some(params)
            }
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            unsafe fn from_slots(slots: *const ValSlot) -> Self {
                let mut i = 0;
                // SAFETY: per the contract, the slots hold the parameters.
                ($({ let v = $n::from_slot(unsafe { &*slots.add(i) }); i += 1; v },)*)
            }
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            unsafe fn into_slots(self, slots: *mut ValSlot) {
                let ($($n,)*) = self;
                let mut i = 0;
                // SAFETY: per the contract, `COUNT` slots are writable.
                $(unsafe { slots.add(i).write($n.into_slot()) }; i += 1;)*
            }
        }

        impl<$($n: WasmTy),*> WasmResults for ($($n,)*) {
            const COUNT: usize = <[&str]>::len(&[$(stringify!($n)),*]);
            fn types() -> Vec<ValType> {
                vec![$($n::TY),*]
            }
            #[allow(unused_variables, unused_mut)]
            fn from_vals(vals: &[Val]) -> Option<Self> {
                let mut it = vals.iter().copied();
                Some(($($n::from_val(it.next()?)?,)*))
            }
            #[allow(non_snake_case, unused_variables, unused_mut)]
            fn into_vals(self, out: &mut [Val]) {
                let ($($n,)*) = self;
                let mut it = out.iter_mut();
                $(if let Some(v) = it.next() {
                    *v = $n.into_val();
                })*
            }
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            unsafe fn into_slots(self, slots: *mut ValSlot) {
                let ($($n,)*) = self;
                let mut i = 0;
                // SAFETY: per the contract, `COUNT` slots are writable.
                $(unsafe { slots.add(i).write($n.into_slot()) }; i += 1;)*
            }
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            unsafe fn from_slots(slots: *const ValSlot) -> Self {
                let mut i = 0;
                // SAFETY: per the contract, the slots hold the results.
                ($({ let v = $n::from_slot(unsafe { &*slots.add(i) }); i += 1; v },)*)
            }
        }
    };
}

tuples!();
tuples!(A);
tuples!(A, B);
tuples!(A, B, C);
tuples!(A, B, C, D);
tuples!(A, B, C, D, E);
tuples!(A, B, C, D, E, F);
tuples!(A, B, C, D, E, F, G);
tuples!(A, B, C, D, E, F, G, H);

/// A function whose type was checked once against `Params -> Results`; calls skip the
/// per-call type lookup and checks of [`Func::call`].
#[derive(Debug)]
pub struct TypedFunc<Params, Results> {
    func: Func,
    ty: Arc<FuncType>,
    _types: PhantomData<fn(Params) -> Results>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc {
            func: self.func,
            ty: self.ty.clone(),
            _types: PhantomData,
        }
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }

    /// Calls the function.
    pub fn call(&self, store: &mut impl AsStoreMut, params: P) -> Result<R, Error> {
        let store = store.as_store_mut();
        store.check(self.func.store)?;
        const INLINE: usize = 8;
        if !self.func.is_host() && P::COUNT <= INLINE && R::COUNT <= INLINE {
            // Arguments and results go through the value slots directly.
            let mut slots = [[0u8; 16]; INLINE];
            // SAFETY: the slots hold `INLINE` >= max(params, results) values; the function
            // is a wasm function of `store` whose type was checked to be `P -> R`.
            unsafe {
                params.into_slots(slots.as_mut_ptr());
                self.func
                    .call_wasm_slots(store, &self.ty, slots.as_mut_ptr())?;
                return Ok(R::from_slots(slots.as_ptr()));
            }
        }
        let args = params.into_vals();
        let mut results: Vec<Val> = self.ty.results.iter().map(Val::default_for).collect();
        self.func
            .call_checked(store, &self.ty, &args, &mut results)?;
        R::from_vals(&results).ok_or_else(|| Error::Api("result of an unexpected type".into()))
    }
}

impl Func {
    /// This function as a [`TypedFunc`], after checking that its type is `P -> R`.
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: &impl AsStore,
    ) -> Result<TypedFunc<P, R>, Error> {
        let ty = self.ty(store)?;
        let want = FuncType {
            params: P::types(),
            results: R::types(),
        };
        if ty != want {
            return api(format!(
                "function of type {} used as {}",
                func_type_name(&ty),
                func_type_name(&want)
            ));
        }
        Ok(TypedFunc {
            func: *self,
            ty: Arc::new(ty),
            _types: PhantomData,
        })
    }
}

impl crate::api::instance::Instance {
    /// The exported function `name` as a [`TypedFunc`] of type `P -> R`.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: &impl AsStore,
        name: &str,
    ) -> Result<TypedFunc<P, R>, Error> {
        self.get_func(store, name)
            .ok_or_else(|| Error::Api(format!("no exported function `{name}`")))?
            .typed(store)
    }
}
