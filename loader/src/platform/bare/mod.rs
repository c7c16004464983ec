//! The minimal platform (without `std`): linear memories in plain heap allocations
//! ([`memory`]), the embedder's thread-local slot ([`tls`]), and uninhabited stand-ins for
//! what needs an operating system ([`pool`], [`parking`], [`probe`]).

pub(crate) mod memory;
pub(crate) mod parking;
pub(crate) mod pool;
pub(crate) mod probe;
pub(crate) mod tls;
pub(crate) mod unwind;
