//! No unwinder to register frames with: a `no_std` build has no panics that unwind and no
//! backtraces (debuggers read the artifact's tables themselves).

/// Uninhabited: [`register`] never registers.
#[derive(Debug)]
pub(crate) enum Frames {}

/// Registers nothing.
pub(crate) fn register(
    _frames: &[u8],
    _fixups: impl Iterator<Item = usize>,
    _text_start: usize,
) -> Option<Frames> {
    None
}
