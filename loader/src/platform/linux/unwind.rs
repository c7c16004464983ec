//! Registers a module's unwind table with the system unwinder (libgcc's, which the standard
//! library's panics and backtraces use, and whatever else walks with `_Unwind_*`), so stacks
//! are walked through wasm frames into the host frames below them.

use crate::prelude::*;

unsafe extern "C" {
    /// libgcc (and LLVM's libunwind): registers the `.eh_frame` image at `begin`, walked
    /// whole up to its zero terminator with glibc's libgcc.
    fn __register_frame(begin: *const u8);
    /// Undoes [`__register_frame`] for the same `begin`.
    fn __deregister_frame(begin: *const u8);
}

/// A registered copy of a module's frames, deregistered on drop (before its code goes).
#[derive(Debug)]
pub(crate) struct Frames {
    /// The relocated image (8-byte aligned, as the unwinder reads words from it).
    image: Box<[u64]>,
}

// SAFETY: the image is owned and immutable once registered; the unwinder's registry has
// its own lock.
unsafe impl Send for Frames {}
unsafe impl Sync for Frames {}

/// Copies `frames`, adds `text_start` to the 8-byte `.text` offset at each of `fixups`, and
/// registers the copy. The caller has checked the table (`UnwindTable::check`), or trusts it.
pub(crate) fn register(
    frames: &[u8],
    fixups: impl Iterator<Item = usize>,
    text_start: usize,
) -> Option<Frames> {
    if frames.len() < 4 {
        return None;
    }
    let mut image = vec![0u64; frames.len().div_ceil(8)].into_boxed_slice();
    // SAFETY: `image` holds at least `frames.len()` bytes, as plain integers.
    let bytes =
        unsafe { core::slice::from_raw_parts_mut(image.as_mut_ptr().cast::<u8>(), frames.len()) };
    bytes.copy_from_slice(frames);
    for at in fixups {
        let field = bytes.get_mut(at..at.checked_add(8)?)?;
        let offset = u64::from_le_bytes(field.try_into().ok()?);
        field.copy_from_slice(&offset.wrapping_add(text_start as u64).to_le_bytes());
    }
    // SAFETY: the image is a complete `.eh_frame` (CIE, FDEs, zero terminator) whose FDEs
    // describe code that stays mapped until `Frames` drops; it outlives its registration.
    unsafe { __register_frame(image.as_ptr().cast()) };
    Some(Frames { image })
}

impl Drop for Frames {
    fn drop(&mut self) {
        // SAFETY: registered by `register` with this very pointer, deregistered once.
        unsafe { __deregister_frame(self.image.as_ptr().cast()) };
    }
}
