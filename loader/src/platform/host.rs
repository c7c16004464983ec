//! Facts about the host the loader runs on: target triple and CPU features.

/// The host's target triple, recorded by the build script.
pub const HOST_TARGET: &str = env!("PRECAST_HOST_TARGET");

/// Whether the host CPU has the named feature (names from
/// [`CpuFeatures::NAMES`](precast_format::CpuFeatures::NAMES)). Unknown names and features of
/// other architectures are reported as absent.
#[cfg(feature = "std")]
pub fn has_cpu_feature(name: &str) -> bool {
    libc_has_cpu_feature(name).unwrap_or_else(|| detect_cpu_feature(name))
}

/// Whether the host CPU has the named feature. Without an operating system to ask, the
/// features are those this program was compiled for (`-C target-feature`/`target-cpu`): the
/// firmware is built for its CPU, and an artifact needing more is refused.
#[cfg(not(feature = "std"))]
pub fn has_cpu_feature(name: &str) -> bool {
    macro_rules! compiled_for {
        ($($name:literal => $feature:literal),* $(,)?) => {
            match name {
                $($name => cfg!(target_feature = $feature),)*
                _ => false,
            }
        };
    }
    #[cfg(target_arch = "x86_64")]
    return compiled_for! {
        "sse3" => "sse3", "ssse3" => "ssse3", "sse4.1" => "sse4.1", "sse4.2" => "sse4.2",
        "popcnt" => "popcnt", "avx" => "avx", "avx2" => "avx2", "bmi1" => "bmi1",
        "bmi2" => "bmi2", "lzcnt" => "lzcnt", "fma" => "fma", "avx512f" => "avx512f",
        "avx512vl" => "avx512vl", "avx512dq" => "avx512dq", "avx512bw" => "avx512bw",
        "avx512vbmi" => "avx512vbmi", "cmpxchg16b" => "cmpxchg16b",
    };
    #[cfg(target_arch = "aarch64")]
    return compiled_for! {
        "lse" => "lse", "pauth" => "paca", "fp16" => "fp16", "dotprod" => "dotprod",
        "i8mm" => "i8mm",
    };
    #[cfg(target_arch = "riscv64")]
    return compiled_for! {
        "c" => "c", "v" => "v", "zba" => "zba", "zbb" => "zbb", "zbs" => "zbs",
        "zbc" => "zbc", "zbkb" => "zbkb", "zfh" => "zfh", "zfhmin" => "zfhmin",
        "zfa" => "zfa", "zicond" => "zicond", "zcb" => "zcb", "zvbb" => "zvbb",
    };
    #[allow(unreachable_code)]
    {
        let _ = name;
        false
    }
}

#[cfg(feature = "std")]
/// What the C library detected at process start (glibc on x86_64), if it can tell: no
/// `cpuid` of ours, which traps to the hypervisor on a virtual machine.
fn libc_has_cpu_feature(name: &str) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        unsafe extern "C" {
            fn precast_glibc_cpu_has(name: *const core::ffi::c_char) -> core::ffi::c_int;
        }
        let mut buf = [0u8; 16];
        if name.len() < buf.len() {
            buf[..name.len()].copy_from_slice(name.as_bytes());
            // SAFETY: `buf` is NUL-terminated (it is longer than `name`); the C function only
            // reads it.
            match unsafe { precast_glibc_cpu_has(buf.as_ptr().cast()) } {
                0 => return Some(false),
                1 => return Some(true),
                _ => {}
            }
        }
    }
    let _ = name;
    None
}

/// Asks the CPU (and the OS, for register state) through the standard library.
#[cfg(feature = "std")]
fn detect_cpu_feature(name: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match name {
            "sse3" => std::is_x86_feature_detected!("sse3"),
            "ssse3" => std::is_x86_feature_detected!("ssse3"),
            "sse4.1" => std::is_x86_feature_detected!("sse4.1"),
            "sse4.2" => std::is_x86_feature_detected!("sse4.2"),
            "popcnt" => std::is_x86_feature_detected!("popcnt"),
            "avx" => std::is_x86_feature_detected!("avx"),
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "bmi1" => std::is_x86_feature_detected!("bmi1"),
            "bmi2" => std::is_x86_feature_detected!("bmi2"),
            "lzcnt" => std::is_x86_feature_detected!("lzcnt"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
            "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
            "avx512vbmi" => std::is_x86_feature_detected!("avx512vbmi"),
            "cmpxchg16b" => std::is_x86_feature_detected!("cmpxchg16b"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match name {
            "lse" => std::arch::is_aarch64_feature_detected!("lse"),
            "pauth" => std::arch::is_aarch64_feature_detected!("paca"),
            "fp16" => std::arch::is_aarch64_feature_detected!("fp16"),
            "dotprod" => std::arch::is_aarch64_feature_detected!("dotprod"),
            "i8mm" => std::arch::is_aarch64_feature_detected!("i8mm"),
            _ => false,
        }
    }
    #[cfg(target_arch = "riscv64")]
    {
        riscv::has(name)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )))]
    {
        let _ = name;
        false
    }
}

/// riscv64 extensions, from the kernel's `riscv_hwprobe` system call (Linux 6.4 and later,
/// and qemu-user); only the single-letter extensions from `AT_HWCAP` on older kernels.
#[cfg(all(feature = "std", target_arch = "riscv64"))]
mod riscv {
    /// `__NR_riscv_hwprobe`.
    const SYS_RISCV_HWPROBE: libc::c_long = 258;
    /// `RISCV_HWPROBE_KEY_IMA_EXT_0`.
    const KEY_IMA_EXT_0: i64 = 4;

    /// Bits of the `IMA_EXT_0` value by artifact feature name (the kernel's uapi
    /// `asm/hwprobe.h`); `c` is Zca plus Zcd, reported as the C bit.
    const EXT_0: [(&str, u32); 13] = [
        ("c", 1),
        ("v", 2),
        ("zba", 3),
        ("zbb", 4),
        ("zbs", 5),
        ("zbc", 7),
        ("zbkb", 8),
        ("zvbb", 17),
        ("zfh", 27),
        ("zfhmin", 28),
        ("zfa", 32),
        ("zicond", 35),
        ("zcb", 44),
    ];

    #[repr(C)]
    struct Pair {
        key: i64,
        value: u64,
    }

    fn ext_0() -> Option<u64> {
        static EXT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
        *EXT.get_or_init(|| {
            let mut pair = Pair {
                key: KEY_IMA_EXT_0,
                value: 0,
            };
            // SAFETY: riscv_hwprobe reads and writes `pair_count` (1) pairs at the pointer;
            // no CPU set (all CPUs), no flags.
            let r = unsafe {
                libc::syscall(
                    SYS_RISCV_HWPROBE,
                    &mut pair as *mut Pair,
                    1usize,
                    0usize,
                    core::ptr::null_mut::<libc::c_void>(),
                    0u32,
                )
            };
            // The kernel sets the key to -1 when it does not know it.
            (r == 0 && pair.key == KEY_IMA_EXT_0).then_some(pair.value)
        })
    }

    pub fn has(name: &str) -> bool {
        let Some(&(_, bit)) = EXT_0.iter().find(|(n, _)| *n == name) else {
            return false;
        };
        match ext_0() {
            Some(v) => v & (1 << bit) != 0,
            None => {
                // SAFETY: getauxval has no preconditions.
                let hwcap = unsafe { libc::getauxval(libc::AT_HWCAP) };
                match name {
                    "c" => hwcap & (1 << (b'c' - b'a')) != 0,
                    "v" => hwcap & (1 << (b'v' - b'a')) != 0,
                    _ => false,
                }
            }
        }
    }
}

/// The features of [`CpuFeatures::NAMES`](precast_format::CpuFeatures::NAMES) the host
/// has, detected once.
pub fn host_cpu_features() -> precast_format::CpuFeatures {
    let detect = || {
        let mut set = precast_format::CpuFeatures::default();
        for (_, name) in precast_format::CpuFeatures::NAMES {
            if has_cpu_feature(name) {
                set.insert(name);
            }
        }
        set
    };
    #[cfg(feature = "std")]
    {
        static HOST: std::sync::OnceLock<precast_format::CpuFeatures> = std::sync::OnceLock::new();
        *HOST.get_or_init(detect)
    }
    // Compile-time facts: nothing to cache.
    #[cfg(not(feature = "std"))]
    detect()
}

/// Makes code just written to `code` visible to instruction fetch (a no-op on x86_64).
#[cfg(feature = "std")]
pub fn flush_icache(code: &[u8]) {
    unsafe extern "C" {
        fn precast_flush_icache(start: *mut core::ffi::c_char, end: *mut core::ffi::c_char);
    }
    let range = code.as_ptr_range();
    // SAFETY: the range is a live slice; cache maintenance neither reads nor writes its
    // bytes.
    unsafe { precast_flush_icache(range.start.cast_mut().cast(), range.end.cast_mut().cast()) }
}

/// Makes code just written to `code` visible to instruction fetch: nothing on x86_64
/// (coherent), `fence.i` on riscv64; elsewhere the embedder's platform must have done it
/// before the code is registered.
#[cfg(not(feature = "std"))]
pub fn flush_icache(code: &[u8]) {
    let _ = code;
    // SAFETY: an instruction fence has no memory effects Rust can observe.
    #[cfg(target_arch = "riscv64")]
    unsafe {
        core::arch::asm!("fence.i")
    };
}

/// Size of a host page in bytes (asked once: through libc it is a `sysconf` call, which
/// cost a pooled instantiation a tenth of its instructions).
#[cfg(feature = "std")]
pub fn page_size() -> usize {
    static PAGE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    match PAGE.load(core::sync::atomic::Ordering::Relaxed) {
        0 => {
            let page = rustix::param::page_size();
            PAGE.store(page, core::sync::atomic::Ordering::Relaxed);
            page
        }
        page => page,
    }
}

/// Rounds `n` up to a multiple of the host page size (`None` on overflow).
#[cfg(feature = "std")]
pub fn round_up_to_page(n: usize) -> Option<usize> {
    let p = page_size();
    n.checked_add(p - 1).map(|v| v & !(p - 1))
}

#[cfg(feature = "std")]
/// Lowest usable address of the current thread's stack (cached per thread), if the OS tells.
pub fn thread_stack_low() -> Option<usize> {
    std::thread_local! {
        static LOW: core::cell::Cell<Option<usize>> = const { core::cell::Cell::new(None) };
    }
    if let Some(low) = LOW.with(|l| l.get()) {
        return Some(low);
    }
    let low = query_stack_low()?;
    LOW.with(|l| l.set(Some(low)));
    Some(low)
}

#[cfg(feature = "std")]
#[cfg(target_os = "linux")]
fn query_stack_low() -> Option<usize> {
    // SAFETY: standard pthread attribute queries on the calling thread; the attribute object
    // is initialized by pthread_getattr_np and destroyed before returning.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let mut guard: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_getguardsize(&attr, &mut guard);
        libc::pthread_attr_destroy(&mut attr);
        ok.then(|| addr as usize + guard)
    }
}

#[cfg(feature = "std")]
#[cfg(not(target_os = "linux"))]
fn query_stack_low() -> Option<usize> {
    None
}

#[cfg(feature = "std")]
/// An address at or above the lowest usable address of the main thread's stack, when the
/// calling thread is the main thread and `sp` lies on its stack (cached per thread): from
/// glibc's `__libc_stack_end` and `RLIMIT_STACK`, without reading `/proc/self/maps`.
///
/// The kernel lets the main stack's mapping grow to `RLIMIT_STACK` below its top, which
/// lies above `__libc_stack_end` by the arguments, environment and auxiliary vector: at most
/// a quarter of the limit (execve's bound) plus [`MAIN_STACK_SLACK`]. Mappings placed with
/// `MAP_FIXED` inside that range can stop the growth earlier; ordinary mappings start at
/// least 128 MiB below the stack. `None` (use the exact query) for other threads, an
/// unlimited stack, or another libc.
#[inline]
pub fn main_stack_low_bound(sp: usize) -> Option<usize> {
    std::thread_local! {
        static BOUND: core::cell::Cell<Option<Option<(usize, usize)>>> =
            const { core::cell::Cell::new(None) };
    }
    let (top, bound) = match BOUND.with(|b| b.get()) {
        Some(cached) => cached?,
        None => {
            let computed = query_main_stack_bound();
            BOUND.with(|b| b.set(Some(computed)));
            computed?
        }
    };
    (sp > bound && sp <= top).then_some(bound)
}

/// Room above `__libc_stack_end` allowed for the auxiliary vector, platform strings and
/// alignment, beyond execve's quarter-of-the-limit bound on arguments and environment.
#[cfg(feature = "std")]
pub const MAIN_STACK_SLACK: usize = 64 * 1024;

#[cfg(feature = "std")]
/// `(highest address of the main stack, bound)` as [`main_stack_low_bound`] describes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn query_main_stack_bound() -> Option<(usize, usize)> {
    unsafe extern "C" {
        /// glibc: the stack address the main thread started with (near the stack's top).
        static __libc_stack_end: *mut libc::c_void;
    }
    // SAFETY: getpid/gettid/getrlimit have no preconditions; `rl` is a valid out-pointer.
    let (main, rl) = unsafe {
        let mut rl: libc::rlimit = core::mem::zeroed();
        let ok = libc::getrlimit(libc::RLIMIT_STACK, &mut rl) == 0;
        (libc::gettid() == libc::getpid(), ok.then_some(rl))
    };
    let rl = rl?;
    if !main || rl.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    let rlim = usize::try_from(rl.rlim_cur).ok()?;
    // SAFETY: glibc sets `__libc_stack_end` before `main` and never changes it.
    let end = unsafe { __libc_stack_end } as usize;
    if end == 0 {
        return None;
    }
    let top = end.checked_add(rlim / 4)?.checked_add(MAIN_STACK_SLACK)?;
    Some((top, top.checked_sub(rlim)?))
}

#[cfg(feature = "std")]
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn query_main_stack_bound() -> Option<(usize, usize)> {
    None
}

/// Stack the host keeps below wasm's stack limit when the thread's stack is smaller than
/// the configured wasm stack (for host functions and builtins called from deep wasm).
#[cfg(feature = "std")]
pub const HOST_STACK_MARGIN: usize = 128 * 1024;

/// The stack limit for wasm entered at stack pointer `sp`: `max_wasm_stack` below it, but
/// never closer than [`HOST_STACK_MARGIN`] to the end of the thread's stack.
///
/// On the main thread the exact end of the stack costs glibc a read of `/proc/self/maps`
/// (~70 us, a tenth of a process's cold start); when a cheap upper bound of it
/// ([`main_stack_low_bound`]) already leaves room for the limit, the result is the same
/// and the exact query is skipped.
#[cfg(feature = "std")]
#[inline]
pub fn stack_limit(sp: usize, max_wasm_stack: usize) -> usize {
    let limit = sp.saturating_sub(max_wasm_stack);
    if main_stack_low_bound(sp).is_some_and(|b| limit >= b.saturating_add(HOST_STACK_MARGIN)) {
        return limit;
    }
    match thread_stack_low() {
        Some(low) => limit.max(low.saturating_add(HOST_STACK_MARGIN)).min(sp),
        None => limit,
    }
}

/// The stack limit for wasm entered at stack pointer `sp`: `max_wasm_stack` below it. With
/// no operating system to ask for the stack's end, the embedder configures
/// [`Config::max_wasm_stack`](crate::Config) to fit the stack it runs wasm on, leaving room
/// for host functions.
#[cfg(not(feature = "std"))]
pub fn stack_limit(sp: usize, max_wasm_stack: usize) -> usize {
    sp.saturating_sub(max_wasm_stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_library_and_cpu_detection_agree() {
        for (_, name) in precast_format::CpuFeatures::NAMES {
            if let Some(libc) = libc_has_cpu_feature(name) {
                assert_eq!(libc, detect_cpu_feature(name), "{name}");
            }
        }
        assert_eq!(libc_has_cpu_feature("no-such-feature"), None);
    }

    #[test]
    fn stack_limits_respect_the_thread_stack() {
        let marker = 0u8;
        let sp = core::ptr::addr_of!(marker) as usize;
        let low = thread_stack_low().expect("linux reports thread stacks");
        assert!(low < sp);
        assert_eq!(stack_limit(sp, 1024), sp - 1024);
        // The main thread's cheap bound never lies below the exact end of its stack.
        if let Some(bound) = main_stack_low_bound(sp) {
            assert!(
                bound >= low,
                "bound {bound:#x} below the stack's end {low:#x}"
            );
            assert!(bound < sp);
        }
        assert_eq!(
            stack_limit(sp, usize::MAX),
            (low + HOST_STACK_MARGIN).min(sp)
        );
        // A small thread stack clamps the limit.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let marker = 0u8;
                let sp = core::ptr::addr_of!(marker) as usize;
                let low = thread_stack_low().unwrap();
                assert!(sp - low < 256 * 1024 + 4096 * 4);
                assert_eq!(
                    stack_limit(sp, 512 * 1024),
                    (low + HOST_STACK_MARGIN).min(sp)
                );
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
