//! Threads proposal: atomic read-modify-writes, narrow compare-exchange, the order of the
//! bounds and alignment checks, and wait/notify results and traps.

use precast_format::TrapCode;
use precast_loader::Val::{I32, I64};
use precast_tests::harness::{TestInstance, shared_type};

const WAT: &str = r#"(module
  (memory 1 1 shared)
  (memory $plain 1)
  (func (export "add") (param i32 i32) (result i32) (i32.atomic.rmw.add (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.atomic.load8_u (local.get 0)))
  (func (export "store64") (param i32 i64) (i64.atomic.store (local.get 0) (local.get 1)))
  (func (export "cmpxchg8") (param i32 i32 i32) (result i32)
    (i32.atomic.rmw8.cmpxchg_u (local.get 0) (local.get 1) (local.get 2)))
  (func (export "xchg16") (param i32 i64) (result i64)
    (i64.atomic.rmw16.xchg_u (local.get 0) (local.get 1)))
  (func (export "wait32") (param i32 i32 i64) (result i32)
    (atomic.fence)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32)
    (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "wait-plain") (result i32)
    (memory.atomic.wait32 $plain (i32.const 0) (i32.const 0) (i64.const 0))))"#;

fn trap(i: &mut TestInstance, name: &str, args: &[precast_loader::Val]) -> TrapCode {
    match i.call(name, args) {
        Err(e) => e
            .as_trap()
            .map(|t| t.code())
            .unwrap_or_else(|| panic!("{name}: {e}")),
        Ok(v) => panic!("{name} returned {v:?}"),
    }
}

#[test]
fn atomic_operations() {
    let mut i = TestInstance::new(WAT);
    assert_eq!(i.call("add", &[I32(8), I32(5)]).unwrap(), [I32(0)]);
    assert_eq!(i.call("add", &[I32(8), I32(-7)]).unwrap(), [I32(5)]);
    assert_eq!(i.call("load", &[I32(8)]).unwrap(), [I32(-2)]);
    i.call("store64", &[I32(16), I64(0x1122_3344_5566_7788)])
        .unwrap();
    // The expected value is wrapped to 8 bits: 0x188 matches 0x88.
    assert_eq!(
        i.call("cmpxchg8", &[I32(16), I32(0x188), I32(0x1ff)])
            .unwrap(),
        [I32(0x88)]
    );
    assert_eq!(i.call("load8", &[I32(16)]).unwrap(), [I32(0xff)]);
    assert_eq!(
        i.call("cmpxchg8", &[I32(16), I32(0), I32(1)]).unwrap(),
        [I32(0xff)]
    );
    assert_eq!(
        i.call("load8", &[I32(16)]).unwrap(),
        [I32(0xff)],
        "no exchange"
    );
    assert_eq!(
        i.call("xchg16", &[I32(18), I64(-1)]).unwrap(),
        [I64(0x5566)]
    );
    assert_eq!(
        i.call("load", &[I32(16)]).unwrap(),
        [I32(0xffff_77ff_u32 as i32)]
    );
}

#[test]
fn bounds_before_alignment() {
    let mut i = TestInstance::new(WAT);
    assert_eq!(trap(&mut i, "load", &[I32(2)]), TrapCode::HeapMisaligned);
    assert_eq!(
        trap(&mut i, "load", &[I32(65536)]),
        TrapCode::MemoryOutOfBounds
    );
    // Out of bounds and unaligned: out of bounds.
    assert_eq!(
        trap(&mut i, "load", &[I32(65534)]),
        TrapCode::MemoryOutOfBounds
    );
    assert_eq!(
        trap(&mut i, "add", &[I32(-1), I32(1)]),
        TrapCode::MemoryOutOfBounds
    );
    assert_eq!(
        trap(&mut i, "notify", &[I32(6), I32(1)]),
        TrapCode::HeapMisaligned
    );
    let t = i.call("wait-plain", &[]).unwrap_err();
    assert_eq!(
        t.as_trap().map(|t| t.code()),
        Some(TrapCode::AtomicWaitNonSharedMemory)
    );
    assert!(t.to_string().contains("expected shared memory"), "{t}");
}

#[test]
fn wait_and_notify() {
    let mut i = TestInstance::new(WAT);
    assert_eq!(i.call("notify", &[I32(0), I32(10)]).unwrap(), [I32(0)]);
    // Not equal: 1, at once, even with an infinite timeout.
    assert_eq!(
        i.call("wait32", &[I32(0), I32(1), I64(-1)]).unwrap(),
        [I32(1)]
    );
    assert_eq!(
        i.call("wait64", &[I32(0), I64(1), I64(-1)]).unwrap(),
        [I32(1)]
    );
    // Equal: waits out the timeout (1 ms), then 2.
    let start = std::time::Instant::now();
    assert_eq!(
        i.call("wait32", &[I32(0), I32(0), I64(1_000_000)]).unwrap(),
        [I32(2)]
    );
    assert!(start.elapsed() >= std::time::Duration::from_millis(1));
    assert_eq!(
        i.call("wait64", &[I32(0), I64(0), I64(0)]).unwrap(),
        [I32(2)]
    );
    assert_eq!(
        trap(&mut i, "wait64", &[I32(4), I64(0), I64(0)]),
        TrapCode::HeapMisaligned
    );
}

const THREAD_WAT: &str = r#"(module
  (import "env" "memory" (memory 1 4 shared))
  (func (export "inc") (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "get") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "wait") (param i32 i32) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (i64.const -1)))
  (func (export "notify") (param i32) (result i32)
    (memory.atomic.notify (local.get 0) (i32.const 1)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "size") (result i32) (memory.size)))"#;

/// An instance of `THREAD_WAT` in a fresh store of `engine`, importing `memory`.
fn thread_instance(
    engine: &precast_loader::Engine,
    module: &precast_loader::Module,
    memory: &precast_loader::SharedMemory,
) -> TestInstance {
    let mut store = precast_loader::Store::new(engine, ());
    let mut linker = precast_loader::Linker::new(engine);
    let m = memory.attach(&mut store).unwrap();
    linker.define(&store, "env", "memory", m).unwrap();
    let instance = linker.instantiate(&mut store, module).unwrap();
    TestInstance { store, instance }
}

#[test]
fn shared_memory_across_threads() {
    let engine = precast_loader::Engine::default();
    let module =
        precast_loader::Module::from_bytes(&engine, &precast_tests::harness::artifact(THREAD_WAT))
            .unwrap();
    let memory = precast_loader::SharedMemory::new(&engine, shared_type()).unwrap();
    // Atomic increments from 4 threads, each with its own store.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (engine, module, memory) = (engine.clone(), module.clone(), memory.clone());
            std::thread::spawn(move || {
                let mut i = thread_instance(&engine, &module, &memory);
                i.call("inc", &[I32(50_000)]).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut main = thread_instance(&engine, &module, &memory);
    assert_eq!(main.call("get", &[I32(0)]).unwrap(), [I32(200_000)]);

    // A wait on another thread is woken by a notify here.
    let waiter = {
        let (engine, module, memory) = (engine.clone(), module.clone(), memory.clone());
        std::thread::spawn(move || {
            let mut i = thread_instance(&engine, &module, &memory);
            i.call("wait", &[I32(8), I32(0)]).unwrap()
        })
    };
    let mut woken = 0;
    while woken == 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
        woken = match &main.call("notify", &[I32(8)]).unwrap()[..] {
            [I32(n)] => *n,
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(waiter.join().unwrap(), [I32(0)]);

    // Growth in one store is seen by every attached instance.
    let mut other = thread_instance(&engine, &module, &memory);
    assert_eq!(other.call("grow", &[]).unwrap(), [I32(1)]);
    assert_eq!(main.call("size", &[]).unwrap(), [I32(2)]);
    assert_eq!(memory.pages(), 2);
    assert_eq!(memory.grow(2).unwrap(), 2);
    assert_eq!(other.call("size", &[]).unwrap(), [I32(4)]);
    let e = memory.grow(1).unwrap_err();
    assert!(
        e.to_string().contains("failed to grow memory by 1 pages"),
        "{e}"
    );
}

#[test]
fn shared_memory_errors() {
    let engine = precast_loader::Engine::default();
    let unshared = precast_loader::MemoryType {
        shared: false,
        ..shared_type()
    };
    let e = precast_loader::SharedMemory::new(&engine, unshared).unwrap_err();
    assert!(e.to_string().contains("shared memory type"), "{e}");
    let unbounded = precast_loader::MemoryType {
        maximum: None,
        ..shared_type()
    };
    let e = precast_loader::SharedMemory::new(&engine, unbounded).unwrap_err();
    assert!(e.to_string().contains("needs a maximum size"), "{e}");
    let memory = precast_loader::SharedMemory::new(&engine, shared_type()).unwrap();
    let other = precast_loader::Engine::default();
    let mut store = precast_loader::Store::new(&other, ());
    let e = memory.attach(&mut store).unwrap_err();
    assert!(e.to_string().contains("engine"), "{e}");
}

#[test]
fn host_access_to_a_shared_memory_is_atomic() {
    use std::sync::atomic::Ordering;
    let engine = precast_loader::Engine::default();
    let module =
        precast_loader::Module::from_bytes(&engine, &precast_tests::harness::artifact(THREAD_WAT))
            .unwrap();
    let memory = precast_loader::SharedMemory::new(&engine, shared_type()).unwrap();
    let writer = {
        let (engine, module, memory) = (engine.clone(), module.clone(), memory.clone());
        std::thread::spawn(move || {
            let mut i = thread_instance(&engine, &module, &memory);
            i.call("inc", &[I32(200_000)]).unwrap();
        })
    };
    // Read while the other thread writes: through atomics only, never a plain slice.
    // Each byte is read atomically but the four are not one read, so the value may be
    // torn; every byte is still a byte of some count in 0..=200_000 (0x30d40).
    while !writer.is_finished() {
        let now: [u8; 4] = std::array::from_fn(|k| memory.data()[k].load(Ordering::Relaxed));
        assert!(now[3] == 0 && now[2] <= 3, "{now:?}");
    }
    writer.join().unwrap();
    let mut buf = [0u8; 4];
    memory.read(0, &mut buf).unwrap();
    assert_eq!(u32::from_le_bytes(buf), 200_000);

    // Attached to a store, the memory is no plain slice either; read and write serve it.
    let mut i = thread_instance(&engine, &module, &memory);
    let m = memory.attach(&mut i.store).unwrap();
    assert!(m.data(&i.store).is_empty());
    assert!(m.data_mut(&mut i.store).is_empty());
    assert_eq!(m.data_size(&i.store), 65536);
    assert!(m.shared(&i.store).is_some());
    m.write(&mut i.store, 0, &7u32.to_le_bytes()).unwrap();
    assert_eq!(i.call("get", &[I32(0)]).unwrap(), [I32(7)]);
    m.read(&i.store, 65532, &mut buf).unwrap();
    let e = m.read(&i.store, 65533, &mut buf).unwrap_err();
    assert_eq!(e.to_string(), "out of bounds memory read");
    assert!(memory.write(u64::MAX, &buf).is_err());
}
