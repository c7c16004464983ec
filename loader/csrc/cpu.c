/* CPU features as glibc detected them at process start (<sys/platform/x86.h>, glibc 2.33 and
 * later), so that loading an artifact executes no `cpuid` of its own: on a virtual machine
 * each one traps to the hypervisor (about 10 us each measured on ours, and feature detection
 * takes several). Names are precast_format::CpuFeatures::NAMES. */

#include <string.h>

#if defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <sys/platform/x86.h>
#define PRECAST_GLIBC_X86 1
#endif

/* 1: usable, 0: not usable, -1: glibc cannot tell (ask the CPU instead). */
int precast_glibc_cpu_has(const char *name) {
#ifdef PRECAST_GLIBC_X86
#define FEATURE(n, glibc) \
    if (strcmp(name, n) == 0) return CPU_FEATURE_ACTIVE(glibc) != 0;
    FEATURE("sse3", SSE3)
    FEATURE("ssse3", SSSE3)
    FEATURE("sse4.1", SSE4_1)
    FEATURE("sse4.2", SSE4_2)
    FEATURE("popcnt", POPCNT)
    FEATURE("avx", AVX)
    FEATURE("avx2", AVX2)
    FEATURE("bmi1", BMI1)
    FEATURE("bmi2", BMI2)
    FEATURE("lzcnt", LZCNT)
    FEATURE("fma", FMA)
    FEATURE("avx512f", AVX512F)
    FEATURE("avx512vl", AVX512VL)
    FEATURE("avx512dq", AVX512DQ)
    FEATURE("avx512bw", AVX512BW)
    FEATURE("avx512vbmi", AVX512_VBMI)
    FEATURE("cmpxchg16b", CMPXCHG16B)
#undef FEATURE
#endif
    (void)name;
    return -1;
}
