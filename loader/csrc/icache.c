/*
 * Instruction-cache maintenance after the loader writes code into memory (an executable
 * copy of `.text`). x86_64 keeps instruction fetch coherent with stores; aarch64 needs the
 * data cache cleaned and the instruction cache invalidated for the range, riscv64 a
 * `fence.i` on every hart (glibc's `__riscv_flush_icache`). The compiler builtin does the
 * right thing on each.
 */
void precast_flush_icache(char *start, char *end) {
    __builtin___clear_cache(start, end);
}
