//! A `no_std` host for the runtime core: no Rust standard library, no signal handler, no
//! `mmap`; its whole platform is what this file gives the loader, on top of the C library
//! for memory and output (a firmware would use its own allocator and UART instead):
//!
//! - a global allocator (`malloc`/`free`), counting live bytes to report RAM per instance;
//! - the thread-local slot the loader asks for (`precast_tls_get`/`precast_tls_set`): this
//!   program has one thread, so one static;
//! - a panic handler (abort).
//!
//! It runs the module linked in under the name `app` (compiled with `--no-signals`): calls,
//! memory growth, a host function, and a trap caught without any signal.

#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_int, c_void};
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};
use precast_loader::{Config, Engine, Error, Func, FuncType, Linker, Module, Store, Val, ValType};

unsafe extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
    fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int;
    fn write(fd: c_int, buf: *const c_void, len: usize) -> isize;
    fn abort() -> !;
}

/// Live heap bytes.
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct CAlloc;

// SAFETY: forwards to the C allocator, which returns memory of at least the requested size
// and alignment (posix_memalign for alignments above malloc's).
unsafe impl GlobalAlloc for CAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = if layout.align() <= 16 {
            // SAFETY: plain malloc; glibc aligns to 16.
            unsafe { malloc(layout.size()) }
        } else {
            let mut p = core::ptr::null_mut();
            // SAFETY: the alignment is a power of two, a multiple of the pointer size.
            if unsafe { posix_memalign(&mut p, layout.align(), layout.size()) } != 0 {
                return core::ptr::null_mut();
            }
            p
        };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above.
        unsafe { free(ptr.cast()) }
    }
}

#[global_allocator]
static ALLOC: CAlloc = CAlloc;

/// The loader's per-thread slot; this program runs wasm on one thread only.
static TLS: AtomicUsize = AtomicUsize::new(0);

#[unsafe(no_mangle)]
extern "C" fn precast_tls_get() -> *mut u8 {
    TLS.load(Ordering::Relaxed) as *mut u8
}

#[unsafe(no_mangle)]
extern "C" fn precast_tls_set(ptr: *mut u8) {
    TLS.store(ptr as usize, Ordering::Relaxed);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(Out, "panic: {info}");
    // SAFETY: abort has no preconditions.
    unsafe { abort() }
}

// The prebuilt `core`/`alloc` of a hosted target are compiled for unwinding and name these
// two symbols; with `panic = "abort"` nothing ever unwinds, so they are never called. (A
// bare-metal target's libraries do not need them.)
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    // SAFETY: abort has no preconditions.
    unsafe { abort() }
}

/// Standard output.
struct Out;

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: writes the string's bytes to fd 1.
        let n = unsafe { write(1, s.as_ptr().cast(), s.len()) };
        if n == s.len() as isize {
            Ok(())
        } else {
            Err(core::fmt::Error)
        }
    }
}

fn run() -> Result<(), Error> {
    let engine = Engine::try_new(&Config::default())?;
    let before_module = LIVE.load(Ordering::Relaxed);
    let module = Module::from_linked(&engine, precast_loader::linked!(app))?;
    let module_bytes = LIVE.load(Ordering::Relaxed) - before_module;

    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    let log_ty = FuncType {
        params: alloc::vec![ValType::I32],
        results: alloc::vec![],
    };
    let log = Func::new(&mut store, log_ty, |mut caller, params, _results| {
        if let [Val::I32(v)] = params {
            *caller.data_mut() += 1;
            let _ = writeln!(Out, "log: {v}");
        }
        Ok(())
    });
    linker.define(&store, "host", "log", log)?;
    let before = LIVE.load(Ordering::Relaxed);
    let instance = linker.instantiate(&mut store, &module)?;
    let instance_bytes = LIVE.load(Ordering::Relaxed) - before;

    let fib = instance.get_typed_func::<i32, i32>(&store, "fib")?;
    let _ = writeln!(Out, "fib(25) = {}", fib.call(&mut store, 25)?);
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow")?;
    let _ = writeln!(Out, "grow(3) = {}", grow.call(&mut store, 3)?);
    let sum = instance.get_typed_func::<i32, i32>(&store, "fill_and_sum")?;
    let _ = writeln!(Out, "fill_and_sum(1000) = {}", sum.call(&mut store, 1000)?);
    let _ = writeln!(Out, "host calls: {}", store.data());
    for name in ["div_by_zero", "out_of_bounds", "unreachable"] {
        let f = instance.get_typed_func::<(), i32>(&store, name)?;
        match f.call(&mut store, ()) {
            Ok(v) => {
                let _ = writeln!(Out, "{name}: returned {v}, expected a trap");
                return Err(Error::Api("no trap".into()));
            }
            Err(e) => {
                let _ = writeln!(
                    Out,
                    "{name}: trap: {}",
                    e.as_trap().map_or("?", |t| t.message())
                );
            }
        }
    }
    let _ = writeln!(
        Out,
        "heap: module {module_bytes} bytes, instance {instance_bytes} bytes"
    );
    Ok(())
}

/// The process entry point, called by the C runtime.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    match run() {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(Out, "error: {e}");
            1
        }
    }
}
