//! The standard's vectors (`wasm_NAME_vec_t`): `size` elements at `data`, in an array this
//! library allocated (a boxed slice of exactly `size` elements, so it is freed with the
//! same layout).

use crate::guard;

/// `wasm_NAME_vec_t`: the layout of every vector of the C API.
#[repr(C)]
pub struct CVec<T> {
    /// Number of elements.
    pub size: usize,
    /// The elements (NULL when `size` is 0).
    pub data: *mut T,
}

/// An element type of a vector: what copying and deleting an element means.
pub(crate) trait Elem: Copy {
    /// The element of a fresh, uninitialized vector.
    fn zero() -> Self;
    /// A deep copy (objects are copied, as `wasm_NAME_copy` does).
    ///
    /// # Safety
    /// `self` is a valid element (for pointers: NULL or a live object of this library).
    unsafe fn deep_copy(&self) -> Self;
    /// Frees what the element owns (as `wasm_NAME_delete` does).
    ///
    /// # Safety
    /// `self` is a valid element that owns what it points to and is not used again.
    unsafe fn release(self);
}

impl Elem for u8 {
    fn zero() -> Self {
        0
    }
    unsafe fn deep_copy(&self) -> Self {
        *self
    }
    unsafe fn release(self) {}
}

impl<T: Clone> Elem for *mut T {
    fn zero() -> Self {
        std::ptr::null_mut()
    }
    unsafe fn deep_copy(&self) -> Self {
        // SAFETY: NULL or a live object, per the trait's contract.
        match unsafe { self.as_ref() } {
            Some(obj) => crate::boxed(obj.clone()),
            None => std::ptr::null_mut(),
        }
    }
    unsafe fn release(self) {
        // SAFETY: NULL or an owned object from `boxed`, per the trait's contract.
        drop(unsafe { crate::unbox(self) });
    }
}

impl<T> CVec<T> {
    /// The empty vector.
    pub const fn empty() -> Self {
        CVec {
            size: 0,
            data: std::ptr::null_mut(),
        }
    }

    /// A vector owning the elements of `v`.
    pub fn from_vec(v: Vec<T>) -> Self {
        if v.is_empty() {
            return CVec::empty();
        }
        let b = v.into_boxed_slice();
        let size = b.len();
        CVec {
            size,
            data: Box::into_raw(b).cast::<T>(),
        }
    }

    /// The elements.
    ///
    /// # Safety
    /// `data` holds `size` initialized elements valid for `'a` (or `size` is 0, or `data` is
    /// NULL, which give an empty slice).
    pub unsafe fn as_slice<'a>(&self) -> &'a [T] {
        if self.data.is_null() || self.size == 0 || !fits::<T>(self.size) {
            return &[];
        }
        // SAFETY: per this function's contract; the size was checked against isize::MAX.
        unsafe { std::slice::from_raw_parts(self.data, self.size) }
    }

    /// The elements, mutably (see [`CVec::as_slice`]).
    ///
    /// # Safety
    /// As [`CVec::as_slice`], and nothing else accesses the elements meanwhile.
    pub unsafe fn as_mut_slice<'a>(&mut self) -> &'a mut [T] {
        if self.data.is_null() || self.size == 0 || !fits::<T>(self.size) {
            return &mut [];
        }
        // SAFETY: per this function's contract; the size was checked against isize::MAX.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.size) }
    }

    /// Takes the elements (the vector is left empty).
    ///
    /// # Safety
    /// The array was allocated by this library ([`CVec::from_vec`]) with this `size`.
    pub unsafe fn take(&mut self) -> Vec<T> {
        let (data, size) = (self.data, self.size);
        *self = CVec::empty();
        if data.is_null() || size == 0 {
            return Vec::new();
        }
        // SAFETY: per this function's contract, `data` is a boxed slice of `size` elements.
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, size)) }.into_vec()
    }
}

impl<T: Elem> CVec<T> {
    /// A deep copy.
    ///
    /// # Safety
    /// As [`CVec::as_slice`], with valid elements.
    pub unsafe fn deep_copy(&self) -> Self {
        // SAFETY: per this function's contract.
        let items = unsafe { self.as_slice() };
        CVec::from_vec(
            items
                .iter()
                // SAFETY: each element is valid, per this function's contract.
                .map(|e| unsafe { e.deep_copy() })
                .collect(),
        )
    }

    /// Frees the array and every element (the vector is left empty).
    ///
    /// # Safety
    /// As [`CVec::take`], with elements that own what they point to.
    pub unsafe fn delete(&mut self) {
        // SAFETY: per this function's contract.
        for e in unsafe { self.take() } {
            // SAFETY: each element owns its object and is not used again.
            unsafe { e.release() };
        }
    }
}

/// Whether `n` elements of `T` fit in an allocation (at most `isize::MAX` bytes).
fn fits<T>(n: usize) -> bool {
    n.checked_mul(std::mem::size_of::<T>())
        .is_some_and(|b| b <= isize::MAX as usize)
}

/// `wasm_NAME_vec_new_empty(out)`.
///
/// # Safety
/// `out` is NULL or valid for writing a vector.
pub(crate) unsafe fn new_empty<T>(out: *mut CVec<T>) {
    guard((), || {
        if !out.is_null() {
            // SAFETY: non-null and writable per this function's contract.
            unsafe { out.write(CVec::empty()) };
        }
    })
}

/// `wasm_NAME_vec_new_uninitialized(out, size)`: `size` zeroed (NULL) elements.
///
/// # Safety
/// `out` is NULL or valid for writing a vector.
pub(crate) unsafe fn new_uninitialized<T: Elem>(out: *mut CVec<T>, size: usize) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let v = if fits::<T>(size) {
            CVec::from_vec(vec![T::zero(); size])
        } else {
            crate::error::set_last_error(format!("a vector of {size} elements is too large"));
            CVec::empty()
        };
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out.write(v) };
    })
}

/// `wasm_NAME_vec_new(out, size, data)`: takes the `size` elements at `data`.
///
/// # Safety
/// `out` is NULL or valid for writing a vector; `data` is NULL or holds `size` elements,
/// whose ownership passes to the new vector.
pub(crate) unsafe fn new<T: Elem>(out: *mut CVec<T>, size: usize, data: *const T) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let src = CVec {
            size,
            data: data.cast_mut(),
        };
        // SAFETY: `data` holds `size` elements per this function's contract.
        let items = unsafe { src.as_slice() };
        let v = if items.len() == size {
            CVec::from_vec(items.to_vec())
        } else {
            // NULL data (or an impossible size): zeroed elements, as if uninitialized.
            CVec::from_vec(vec![T::zero(); if fits::<T>(size) { size } else { 0 }])
        };
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out.write(v) };
    })
}

/// `wasm_NAME_vec_copy(out, src)`: a deep copy.
///
/// # Safety
/// `out` is NULL or valid for writing a vector; `src` is NULL or a valid vector.
pub(crate) unsafe fn copy<T: Elem>(out: *mut CVec<T>, src: *const CVec<T>) {
    guard((), || {
        if out.is_null() {
            return;
        }
        // SAFETY: NULL or a valid vector, per this function's contract.
        let v = match unsafe { src.as_ref() } {
            // SAFETY: a valid vector with valid elements, per this function's contract.
            Some(src) => unsafe { src.deep_copy() },
            None => CVec::empty(),
        };
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out.write(v) };
    })
}

/// `wasm_NAME_vec_delete(v)`: frees the array and every element.
///
/// # Safety
/// `v` is NULL or a vector made by this library that owns its elements.
pub(crate) unsafe fn delete<T: Elem>(v: *mut CVec<T>) {
    guard((), || {
        // SAFETY: NULL or a valid, owned vector per this function's contract.
        if let Some(v) = unsafe { v.as_mut() } {
            // SAFETY: made by this library with owned elements.
            unsafe { v.delete() };
        }
    })
}

/// Declares the five exported functions of a vector type.
macro_rules! declare_vec {
    ($elem:ty, $new_empty:ident, $new_uninit:ident, $new:ident, $copy:ident, $delete:ident) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new_empty(out: *mut $crate::vec::CVec<$elem>) {
            // SAFETY: the C caller's contract is this function's.
            unsafe { $crate::vec::new_empty(out) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new_uninit(out: *mut $crate::vec::CVec<$elem>, size: usize) {
            // SAFETY: the C caller's contract is this function's.
            unsafe { $crate::vec::new_uninitialized(out, size) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new(
            out: *mut $crate::vec::CVec<$elem>,
            size: usize,
            data: *const $elem,
        ) {
            // SAFETY: the C caller's contract is this function's.
            unsafe { $crate::vec::new(out, size, data) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $copy(
            out: *mut $crate::vec::CVec<$elem>,
            src: *const $crate::vec::CVec<$elem>,
        ) {
            // SAFETY: the C caller's contract is this function's.
            unsafe { $crate::vec::copy(out, src) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $delete(v: *mut $crate::vec::CVec<$elem>) {
            // SAFETY: the C caller's contract is this function's.
            unsafe { $crate::vec::delete(v) }
        }
    };
}
pub(crate) use declare_vec;

/// `wasm_byte_vec_t`.
pub type wasm_byte_vec_t = CVec<u8>;

declare_vec!(
    u8,
    wasm_byte_vec_new_empty,
    wasm_byte_vec_new_uninitialized,
    wasm_byte_vec_new,
    wasm_byte_vec_copy,
    wasm_byte_vec_delete
);

/// A byte vector holding `bytes`.
pub(crate) fn byte_vec(bytes: &[u8]) -> wasm_byte_vec_t {
    CVec::from_vec(bytes.to_vec())
}

/// A message (`wasm_message_t`): the text and a terminating NUL.
pub(crate) fn message_vec(text: &str) -> wasm_byte_vec_t {
    let mut b = text.as_bytes().to_vec();
    b.push(0);
    CVec::from_vec(b)
}

/// Writes `v` to `out` if it is not NULL.
///
/// # Safety
/// `out` is NULL or valid for writing a vector (whatever it held is overwritten, not freed).
pub(crate) unsafe fn write_out<T: Elem>(out: *mut CVec<T>, v: CVec<T>) {
    if out.is_null() {
        let mut v = v;
        // SAFETY: `v` was made by this library and owns its elements, which nobody else
        // has: nobody can receive them, so they are freed.
        unsafe { v.delete() };
        return;
    }
    // SAFETY: non-null and writable per this function's contract.
    unsafe { out.write(v) };
}
