//! Descriptors that are not what a linkable object exports are refused before any section
//! is read. (Linked modules themselves are tested end to end in `examples/linked-host`.)

use crate::prelude::*;
use crate::{Engine, Error, LinkedModule, LoadError, Module};
use precast_format::linked::{self, Descriptor, SectionRef};

fn leaked(magic: [u8; 8], version: u32, count: u32) -> &'static LinkedModule {
    let d = Descriptor {
        magic,
        version,
        count,
        sections: core::array::from_fn(|_| SectionRef {
            rel: 0,
            reserved: 0,
            len: 0,
        }),
    };
    Box::leak(Box::new(LinkedModule(d)))
}

fn load_error(d: &'static LinkedModule) -> String {
    match Module::from_linked(&Engine::default(), d) {
        Err(Error::Load(e)) => e.to_string(),
        Err(e) => panic!("expected a load error, got {e}"),
        Ok(_) => panic!("a bad descriptor loaded"),
    }
}

#[test]
fn bad_descriptors_are_refused() {
    let n = linked::SECTIONS.len() as u32;
    let msg = load_error(leaked(*b"NOTPCST\0", linked::VERSION, n));
    assert!(
        msg.contains("descriptor does not start with the magic"),
        "{msg}"
    );
    let msg = load_error(leaked(linked::MAGIC, linked::VERSION + 1, n));
    assert!(
        msg.contains(&format!("descriptor version {}", linked::VERSION + 1)),
        "{msg}"
    );
    let msg = load_error(leaked(linked::MAGIC, linked::VERSION, n - 1));
    assert!(msg.contains(&format!("lists {} sections", n - 1)), "{msg}");
    // Every section empty: the header check refuses it.
    match Module::from_linked(
        &Engine::default(),
        leaked(linked::MAGIC, linked::VERSION, n),
    ) {
        Err(Error::Load(LoadError::MalformedHeader(m))) => assert!(m.contains("0 bytes"), "{m}"),
        other => panic!("expected a malformed header, got {other:?}"),
    }
}
