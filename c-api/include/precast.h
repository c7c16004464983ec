/*
 * precast.h: what Precast's C API adds to wasm.h.
 *
 *   - errors: precast_error_t, and precast_last_error() for the standard functions that
 *     fail with NULL or false;
 *   - modules: artifact files, artifact bytes, modules linked into the executable
 *     (`precast compile --link-name NAME`), integrity checks;
 *   - engine settings: verification level, trusted signature keys, required signatures,
 *     stack size, Spectre mitigations, signal handlers, epoch interruption and fuel;
 *   - interruption and fuel: the engine's epoch, a store's epoch deadline and fuel, to bound
 *     the time of guests;
 *   - traps: trap codes, the `proc_exit` status, the message with its backtrace, frame
 *     names;
 *   - WASI preview1: a configuration (arguments, environment, stdio, preopened
 *     directories) given to a store, and instantiation that resolves WASI imports;
 *   - a linker that resolves imports by name.
 *
 * Functions returning `own precast_error_t*` return NULL on success. Names passed as
 * `const char*` are NUL-terminated UTF-8.
 */

#ifndef PRECAST_H
#define PRECAST_H

#include "wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define own

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */

typedef struct precast_error_t precast_error_t;

WASM_API_EXTERN void precast_error_delete(own precast_error_t*);

/* The message: NUL-terminated, valid until the error is deleted. */
WASM_API_EXTERN const char* precast_error_message(const precast_error_t*);

/* The error of the last call on this thread that failed (a standard function returning
 * NULL or false, or a void one that could not do what it was asked), and forgets it; NULL
 * when there is none. */
WASM_API_EXTERN own precast_error_t* precast_last_error(void);

/* ------------------------------------------------------------------------------------ */
/* Values                                                                               */

/* The value kind of `v128` in types (wasm_valtype_kind); wasm_val_t cannot hold one, so
 * functions with v128 parameters or results cannot be called through wasm_func_call. */
enum precast_valkind_enum {
  PRECAST_V128 = 4,
};

/* ------------------------------------------------------------------------------------ */
/* Engine settings                                                                      */

typedef uint8_t precast_verification_t;
enum precast_verification_enum {
  /* Every load checks every byte: artifact files and bytes (CRC-32 over every section)
   * and modules linked into the executable too. */
  PRECAST_VERIFY_FULL,
  /* The default: artifact files and bytes are fully checked; a linked module's code and
   * data are not (they are part of the executable, loaded by the operating system), only
   * its descriptor, header and metadata. */
  PRECAST_VERIFY_FAST,
  /* Skips the checksum over code and data on every load (header, structure and metadata
   * are still checked, and signatures when keys are trusted). The embedder vouches that
   * every artifact it loads is exactly what `precast compile` wrote: corrupted machine code
   * would be run. */
  PRECAST_VERIFY_UNCHECKED,
};

WASM_API_EXTERN void precast_config_set_verification(wasm_config_t*, precast_verification_t);

/* Trusts an ed25519 public key in PEM (SubjectPublicKeyInfo, `-----BEGIN PUBLIC KEY-----`,
 * as `precast keygen` writes to KEY.pub): from then on the engine only loads artifacts
 * signed by one of its trusted keys. `len` is the PEM's length in bytes. */
WASM_API_EXTERN own precast_error_t* precast_config_trust_key_pem(wasm_config_t*,
                                                                 const char* pem,
                                                                 size_t len);
/* The same, reading the PEM from a file. */
WASM_API_EXTERN own precast_error_t* precast_config_trust_key_file(wasm_config_t*,
                                                                  const char* path);

/* Whether only signed artifacts load. Trusting a key turns this on; turning it on with no
 * trusted key makes every load fail (fail closed). */
WASM_API_EXTERN void precast_config_require_signatures(wasm_config_t*, bool);

/* Bytes of native stack wasm may use (default 512 KiB). */
WASM_API_EXTERN void precast_config_set_max_wasm_stack(wasm_config_t*, size_t);

/* The most address space a 64-bit memory (memory64) reserves, and so the most it can grow
 * to below its maximum (default 64 GiB; never less than the 4 GiB of other memories). */
WASM_API_EXTERN void precast_config_set_memory64_reservation(wasm_config_t*, uint64_t);

/* Refuse artifacts compiled with `--no-spectre-mitigations` (default: accept them). */
WASM_API_EXTERN void precast_config_require_spectre_mitigations(wasm_config_t*, bool);

/* Whether the engine installs the trap signal handlers (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * once per process) and a per-thread alternate signal stack. Default: true. With false,
 * for hosts that own those signals, nothing is installed and only artifacts compiled with
 * `precast compile --no-signals` load (their traps are all raised by calls into the
 * runtime); others are refused with a message saying so. */
WASM_API_EXTERN void precast_config_set_signal_handlers(wasm_config_t*, bool);

/* Whether the engine runs code compiled with epoch interruption (`precast compile
 * --epoch-interruption`), and only such code: the other artifacts are refused at load, as
 * are artifacts compiled with it by an engine without it (the message says so). Default:
 * false. See "Interruption and fuel" below. */
WASM_API_EXTERN void precast_config_set_epoch_interruption(wasm_config_t*, bool);

/* Whether the engine runs code compiled with fuel consumption (`precast compile
 * --consume-fuel`), and only such code, likewise. Default: false. See "Interruption and
 * fuel" below. */
WASM_API_EXTERN void precast_config_set_consume_fuel(wasm_config_t*, bool);

/* Announces every module loaded from a file or bytes to debuggers (gdb, lldb) through the
 * GDB JIT interface (`__jit_debug_descriptor`), with its symbols and line table; linked
 * modules are in the executable already. Default: off. */
WASM_API_EXTERN void precast_config_set_debugger(wasm_config_t*, bool);

/* How loaded code is described to profilers. */
typedef uint8_t precast_profiler_t;
enum precast_profiler_enum {
  /* The default: nothing beyond the artifact's symbols (`perf` names the code of artifacts
   * mapped from files by them). */
  PRECAST_PROFILER_NONE,
  /* Every load appends `START SIZE module!function` lines for its functions and
   * trampolines to /tmp/perf-PID.map, which `perf report` reads (code loaded from bytes is
   * in anonymous memory, which no file names). A map that cannot be written fails the load. */
  PRECAST_PROFILER_PERFMAP,
  /* Every load appends a JIT_CODE_LOAD record (address, name, code) per function and
   * trampoline to /tmp/jit-PID.dump, perf's jitdump format (`perf record -k mono`, then
   * `perf inject --jit`). A dump that cannot be written fails the load. */
  PRECAST_PROFILER_JITDUMP,
};

/* Sets the profiler; an unknown value is refused (the last error says so). */
WASM_API_EXTERN void precast_config_set_profiler(wasm_config_t*, precast_profiler_t);

/* ------------------------------------------------------------------------------------ */
/* Interruption and fuel                                                                */

/* Two ways to bound the time of guests, for code compiled with them (and engines
 * configured the same way, above). Both are checked at every function entry and loop
 * header, so no guest runs unboundedly between two checks; a stopped call returns a trap
 * (precast_trap_code: PRECAST_TRAP_INTERRUPT or PRECAST_TRAP_OUT_OF_FUEL) and the store
 * keeps working: set a new deadline or fuel and call again.
 *
 * The store functions below can also be called from inside a host function running on the
 * same store (they act on the store through that function's caller): a host function may
 * refuel the guest or move its deadline, and the guest sees the change when it resumes. */

/* Advances the engine's epoch by one: code of every store of the engine that reaches a
 * check once the epoch reached its store's deadline traps with PRECAST_TRAP_INTERRUPT.
 * One atomic add; it can be called from any thread, while other threads run wasm in the
 * engine's stores (such as a timer thread bounding a call's wall-clock time), as long as
 * the engine handle is not deleted during the call. */
WASM_API_EXTERN void precast_engine_increment_epoch(wasm_engine_t*);

/* Sets the store's deadline `ticks_beyond_current` epochs after the engine's current one
 * (saturating at UINT64_MAX, which is never reached). A new store's deadline is already
 * reached: with epoch interruption, set one before calling into wasm (instantiating a
 * module with a start function included). No effect on code compiled without epoch
 * interruption. */
WASM_API_EXTERN void precast_store_set_epoch_deadline(wasm_store_t*,
                                                      uint64_t ticks_beyond_current);

/* Gives the store `fuel` units, replacing what was left (a new store has none). Every wasm
 * operator costs 1, except `nop`, `drop`, `block`, `loop`, `else`, `end`, `unreachable` and
 * `return` (0); code that used it all traps with PRECAST_TRAP_OUT_OF_FUEL ("all fuel
 * consumed") at its next function entry or loop header. The counts are fixed at
 * compilation: the same module and input stop at the same operator on every run. Fails
 * when the engine does not consume fuel (precast_config_set_consume_fuel). */
WASM_API_EXTERN own precast_error_t* precast_store_set_fuel(wasm_store_t*, uint64_t fuel);

/* The fuel the store has left, into *out (0 once it ran out; exact between calls, and in a
 * host function called from wasm). Fails when the engine does not consume fuel; *out then
 * receives 0. `out` may be NULL. */
WASM_API_EXTERN own precast_error_t* precast_store_get_fuel(const wasm_store_t*, uint64_t* out);

/* Limits the store, as Wasmtime's wasmtime_store_limiter: each memory to `memory_size`
 * bytes and each table to `table_elements` elements, the store to `instances` instances,
 * `tables` tables and `memories` memories; a negative value keeps that limit's default (no
 * size limit; 10000 of each count). On top of the engine's static limits. `memory.grow` and
 * `table.grow` beyond return -1, wasm_memory_grow/wasm_table_grow return false, and creating
 * an instance, memory or table beyond fails with the limit named. Fails when called from a
 * host function of the store. */
WASM_API_EXTERN own precast_error_t* precast_store_limiter(wasm_store_t*, int64_t memory_size,
                                                          int64_t table_elements,
                                                          int64_t instances, int64_t tables,
                                                          int64_t memories);

/* ------------------------------------------------------------------------------------ */
/* Modules                                                                              */

/* A module linked into the executable: the descriptor `precast_module_NAME` of an object
 * written by `precast compile app.wasm -o app.o --link-name NAME`. Declare it at file scope
 * with PRECAST_DECLARE_LINKED_MODULE(NAME); and pass PRECAST_LINKED_MODULE(NAME). */
typedef struct precast_linked_module_t precast_linked_module_t;

#define PRECAST_DECLARE_LINKED_MODULE(name) \
  extern const precast_linked_module_t precast_module_##name
#define PRECAST_LINKED_MODULE(name) (&precast_module_##name)

/* Loads a linked module. `linked` must be a descriptor symbol as above; its magic and
 * version are checked before anything else is read. No system call is made. */
WASM_API_EXTERN own precast_error_t* precast_module_from_linked(
    wasm_engine_t*, const precast_linked_module_t* linked, own wasm_module_t** out);

/* Loads the artifact file at `path` (read or mapped, then verified). */
WASM_API_EXTERN own precast_error_t* precast_module_from_file(wasm_engine_t*,
                                                             const char* path,
                                                             own wasm_module_t** out);

/* Loads artifact bytes (as wasm_module_deserialize, with the error returned). */
WASM_API_EXTERN own precast_error_t* precast_module_deserialize(wasm_engine_t*,
                                                               const wasm_byte_vec_t* bytes,
                                                               own wasm_module_t** out);

/* Checks the checksum over every section of a loaded module (what PRECAST_VERIFY_FAST
 * leaves out for linked modules and PRECAST_VERIFY_UNCHECKED for all). */
WASM_API_EXTERN own precast_error_t* precast_module_verify_integrity(const wasm_module_t*);

/* The module's name from its name section, NUL-terminated and valid as long as the
 * module; NULL when it has none. */
WASM_API_EXTERN const char* precast_module_name(const wasm_module_t*);

/* ------------------------------------------------------------------------------------ */
/* Traps                                                                                */

typedef uint8_t precast_trap_code_t;
enum precast_trap_code_enum {
  PRECAST_TRAP_STACK_OVERFLOW = 1,
  PRECAST_TRAP_MEMORY_OUT_OF_BOUNDS = 2,
  PRECAST_TRAP_TABLE_OUT_OF_BOUNDS = 3,
  PRECAST_TRAP_INDIRECT_CALL_TO_NULL = 4,
  PRECAST_TRAP_BAD_SIGNATURE = 5,
  PRECAST_TRAP_INTEGER_OVERFLOW = 6,
  PRECAST_TRAP_INTEGER_DIVISION_BY_ZERO = 7,
  PRECAST_TRAP_BAD_CONVERSION_TO_INTEGER = 8,
  PRECAST_TRAP_UNREACHABLE = 9,
  PRECAST_TRAP_NULL_REFERENCE = 10,
  PRECAST_TRAP_RUNTIME = 11,
  PRECAST_TRAP_SEGMENT_OUT_OF_BOUNDS = 12,
  PRECAST_TRAP_HEAP_MISALIGNED = 13,
  PRECAST_TRAP_OUT_OF_MEMORY = 14,
  PRECAST_TRAP_ATOMIC_WAIT_NON_SHARED_MEMORY = 15,
  /* The store's epoch deadline was reached (precast_engine_increment_epoch). */
  PRECAST_TRAP_INTERRUPT = 16,
  /* The store's fuel ran out (precast_store_set_fuel). */
  PRECAST_TRAP_OUT_OF_FUEL = 17,
  /* call_indirect with an index beyond the end of the table. */
  PRECAST_TRAP_UNDEFINED_ELEMENT = 18,
  /* call_ref of a null function reference. */
  PRECAST_TRAP_NULL_FUNCTION_REFERENCE = 19,
};

/* Whether the trap is a wasm trap; if so, *code receives its code. False for traps made
 * by wasm_trap_new, host errors and exits. */
WASM_API_EXTERN bool precast_trap_code(const wasm_trap_t*, precast_trap_code_t* code);

/* Whether the trap is a program's exit (WASI `proc_exit`); if so, *status receives the
 * status it exited with (0 included: check this before treating a trap as a failure). */
WASM_API_EXTERN bool precast_trap_exit_status(const wasm_trap_t*, int* status);

/* The message (as wasm_trap_message, without copying): NUL-terminated, valid as long as
 * the trap. */
WASM_API_EXTERN const char* precast_trap_message(const wasm_trap_t*);

/* The message followed by the wasm backtrace, one frame a line, as `precast run` prints
 * it; valid as long as the trap. */
WASM_API_EXTERN const char* precast_trap_display(const wasm_trap_t*);

/* A frame's function name (name section) and module name; NULL when unknown. Valid as long
 * as the frame. */
WASM_API_EXTERN const char* precast_frame_func_name(const wasm_frame_t*);
WASM_API_EXTERN const char* precast_frame_module_name(const wasm_frame_t*);

/* ------------------------------------------------------------------------------------ */
/* WASI preview1                                                                        */

/* What a WASI program sees: arguments, environment, stdio and preopened directories.
 * By default: no arguments, no environment, empty stdin, output discarded, no files. */
typedef struct precast_wasi_config_t precast_wasi_config_t;

WASM_API_EXTERN own precast_wasi_config_t* precast_wasi_config_new(void);
WASM_API_EXTERN void precast_wasi_config_delete(own precast_wasi_config_t*);

/* Appends an argument (the first is the program's name, argv[0]). */
WASM_API_EXTERN void precast_wasi_config_push_arg(precast_wasi_config_t*, const char* arg);
/* Passes this process's arguments. */
WASM_API_EXTERN void precast_wasi_config_inherit_argv(precast_wasi_config_t*);
/* Adds the environment variable key=value. */
WASM_API_EXTERN void precast_wasi_config_push_env(precast_wasi_config_t*, const char* key,
                                                  const char* value);
/* Passes this process's environment. */
WASM_API_EXTERN void precast_wasi_config_inherit_env(precast_wasi_config_t*);

/* Standard input: these bytes, or this process's stdin. */
WASM_API_EXTERN void precast_wasi_config_set_stdin_bytes(precast_wasi_config_t*,
                                                         const wasm_byte_vec_t* bytes);
WASM_API_EXTERN void precast_wasi_config_inherit_stdin(precast_wasi_config_t*);
/* Standard output and error: this process's, or captured into a buffer the store keeps
 * (read it with precast_store_wasi_stdout / _stderr). */
WASM_API_EXTERN void precast_wasi_config_inherit_stdout(precast_wasi_config_t*);
WASM_API_EXTERN void precast_wasi_config_inherit_stderr(precast_wasi_config_t*);
WASM_API_EXTERN void precast_wasi_config_inherit_stdio(precast_wasi_config_t*);
WASM_API_EXTERN void precast_wasi_config_capture_stdout(precast_wasi_config_t*);
WASM_API_EXTERN void precast_wasi_config_capture_stderr(precast_wasi_config_t*);

/* Preopens host directory `host_path` under the guest name `guest_path` (such as "/" or
 * "/data"); the program reaches nothing outside its preopens. Fails if the directory cannot
 * be opened. */
WASM_API_EXTERN own precast_error_t* precast_wasi_config_preopen_dir(precast_wasi_config_t*,
                                                                    const char* host_path,
                                                                    const char* guest_path);

/* Gives the store its WASI context (replacing any earlier one), built from `config`,
 * which is consumed. WASI functions of the store act on it. */
WASM_API_EXTERN void precast_store_set_wasi(wasm_store_t*, own precast_wasi_config_t* config);

/* What the program wrote to a captured stdout or stderr so far (empty when not captured). */
WASM_API_EXTERN void precast_store_wasi_stdout(const wasm_store_t*, own wasm_byte_vec_t* out);
WASM_API_EXTERN void precast_store_wasi_stderr(const wasm_store_t*, own wasm_byte_vec_t* out);

/* Instantiates `module` with its `wasi_snapshot_preview1` imports resolved from WASI and
 * its other imports taken from `imports`, in the module's import order (so `imports` lists
 * only the non-WASI ones). Otherwise as wasm_instance_new. A command is then run by calling
 * its `_start` export; `proc_exit(n)` ends that call with a trap for which
 * precast_trap_exit_status gives n. */
WASM_API_EXTERN own wasm_instance_t* precast_instance_new_with_wasi(
    wasm_store_t*, const wasm_module_t*, const wasm_extern_vec_t* imports,
    own wasm_trap_t** trap);

/* ------------------------------------------------------------------------------------ */
/* Linker                                                                               */

/* Resolves imports by module and field name: from host functions (created in every store
 * that instantiates), externs of a store, the exports of instances, and WASI.
 * precast_linker_define_instance, precast_linker_instantiate, precast_linker_get and
 * precast_instance_new_with_wasi need the store itself, so they fail (with an error saying
 * so) when called from inside a host function running on that store. */
typedef struct precast_linker_t precast_linker_t;

WASM_API_EXTERN own precast_linker_t* precast_linker_new(wasm_engine_t*);
WASM_API_EXTERN void precast_linker_delete(own precast_linker_t*);

/* Whether a later definition of a name replaces an earlier one (default: an error). */
WASM_API_EXTERN void precast_linker_allow_shadowing(precast_linker_t*, bool);

/* Defines module::name as an extern of `store` (usable only with that store). */
WASM_API_EXTERN own precast_error_t* precast_linker_define(precast_linker_t*, wasm_store_t*,
                                                          const char* module,
                                                          const char* name,
                                                          const wasm_extern_t*);

/* Defines module::name as a host function of type `type`, created in each store that
 * instantiates with the linker. `finalizer` (if not NULL) is called with `env` when the
 * linker and every function made from it are gone. */
WASM_API_EXTERN own precast_error_t* precast_linker_define_func(
    precast_linker_t*, const char* module, const char* name, const wasm_functype_t* type,
    wasm_func_callback_with_env_t callback, void* env, void (*finalizer)(void*));

/* Defines every `wasi_snapshot_preview1` function (acting on the instantiating store's WASI
 * context, see precast_store_set_wasi). */
WASM_API_EXTERN own precast_error_t* precast_linker_define_wasi(precast_linker_t*);

/* Defines every export of `instance` under the module name `name`. */
WASM_API_EXTERN own precast_error_t* precast_linker_define_instance(precast_linker_t*,
                                                                   wasm_store_t*,
                                                                   const char* name,
                                                                   const wasm_instance_t*);

/* Defines every function import of `module` not yet defined as a function returning
 * zeros (useful for imports that do not matter, such as benchmark markers). */
WASM_API_EXTERN own precast_error_t* precast_linker_define_unknown_imports_as_default_values(
    precast_linker_t*, const wasm_module_t*);

/* Instantiates `module` in `store` with its imports resolved by name. On an instantiation
 * error the error is returned; on a trap of the start function NULL is returned, *instance
 * is NULL and *trap (when `trap` is not NULL) receives the trap. */
WASM_API_EXTERN own precast_error_t* precast_linker_instantiate(const precast_linker_t*,
                                                               wasm_store_t*,
                                                               const wasm_module_t*,
                                                               own wasm_instance_t** instance,
                                                               own wasm_trap_t** trap);

/* The definition of module::name as an extern of `store`; NULL when there is none. */
WASM_API_EXTERN own wasm_extern_t* precast_linker_get(const precast_linker_t*, wasm_store_t*,
                                                     const char* module, const char* name);

#undef own

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRECAST_H */
