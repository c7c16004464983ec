/* Non-local exit out of wasm code on a trap.
 *
 * setjmp/longjmp cannot be expressed in Rust (a function that returns twice), so these two
 * functions are the only C in the loader. `precast_call_catch` runs `body(payload)` with a
 * jump buffer published through `*jmp_slot`; the signal handler (or any code on this
 * thread that knows the slot) calls `precast_unwind` with that buffer to abandon the wasm
 * frames and make `precast_call_catch` return 0.
 *
 * The signal mask is not saved (sigsetjmp(buf, 0)): the handler is installed with
 * SA_NODEFER, so nothing stays blocked after jumping out of it.
 */
#include <setjmp.h>
#include <stddef.h>

int precast_call_catch(void (*body)(void *), void *payload, void **jmp_slot) {
    sigjmp_buf buf;
    void *volatile prev = *jmp_slot;
    if (sigsetjmp(buf, 0) == 0) {
        *jmp_slot = (void *)&buf;
        body(payload);
        *jmp_slot = prev;
        return 1;
    }
    *jmp_slot = prev;
    return 0;
}

void precast_unwind(void *jmp_buf) {
    siglongjmp(*(sigjmp_buf *)jmp_buf, 1);
}
