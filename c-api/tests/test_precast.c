/* Tests of precast.h: errors, engine settings (verification, signatures, stack), artifact
 * files and linked modules, trap accessors, interruption and fuel, WASI and the linker.
 * argv[1]: the directory of artifacts the Rust test wrote; the module `linked.wat` is linked
 * into this program as `ctest`. */

/* nanosleep (POSIX) under -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

PRECAST_DECLARE_LINKED_MODULE(ctest);

static int finalized = 0;
static void count_finalizer(void* p) {
  (void)p;
  finalized++;
}

static wasm_engine_t* engine_with(precast_verification_t level) {
  wasm_config_t* c = wasm_config_new();
  precast_config_set_verification(c, level);
  return wasm_engine_new_with_config(c);
}

/* Calls export `name` of `inst` (of `module`) with i32 arguments. */
static wasm_trap_t* call(const wasm_module_t* module, const wasm_instance_t* inst,
                         const char* name, int n, const int32_t* in, wasm_val_t* out,
                         size_t nout) {
  wasm_extern_vec_t ex;
  wasm_instance_exports(inst, &ex);
  wasm_func_t* f = wasm_extern_as_func(ex.data[export_index(module, name)]);
  wasm_val_t args[4];
  for (int i = 0; i < n; i++) {
    args[i].kind = WASM_I32;
    args[i].of.i32 = in[i];
  }
  wasm_val_vec_t a = {(size_t)n, args};
  wasm_val_vec_t r = {nout, out};
  wasm_trap_t* t = wasm_func_call(f, &a, &r);
  wasm_extern_vec_delete(&ex);
  return t;
}

static void test_errors(void) {
  precast_error_delete(precast_last_error());
  CHECK(precast_last_error() == NULL, "no last error after taking it");
  CHECK(strcmp(precast_error_message(NULL), "(null error)") == 0, "NULL error message");
  precast_error_delete(NULL);
  wasm_engine_t* e = wasm_engine_new();
  wasm_module_t* m = NULL;
  precast_error_t* err = precast_module_from_file(e, path_of("missing.pcst"), &m);
  CHECK(err != NULL && m == NULL, "a missing file");
  CHECK(strstr(precast_error_message(err), "cannot read artifact") != NULL,
        "the message says why: %s", precast_error_message(err));
  CHECK_LAST_ERROR("missing.pcst"); /* also recorded as the last error */
  precast_error_delete(err);
  wasm_engine_delete(e);
}

static void test_modules(void) {
  wasm_engine_t* engine = wasm_engine_new();
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_file(engine, path_of("basic.pcst"), &m));
  CHECK(m != NULL && strcmp(precast_module_name(m), "basic") == 0, "basic from file");
  wasm_byte_vec_t file, ser;
  read_artifact("basic.pcst", &file);
  wasm_module_serialize(m, &ser);
  CHECK(ser.size == file.size && memcmp(ser.data, file.data, ser.size) == 0,
        "a file module serializes to the file's bytes");
  wasm_byte_vec_delete(&ser);

  wasm_module_t* d = NULL;
  CHECK_OK(precast_module_deserialize(engine, &file, &d));
  CHECK(d != NULL && wasm_module_same(d, d) && !wasm_module_same(d, m), "deserialize");
  CHECK_OK(precast_module_verify_integrity(d));
  wasm_module_delete(d);
  CHECK_OK(precast_module_deserialize(engine, &file, NULL)); /* nowhere to put it: freed */
  wasm_byte_vec_delete(&file);

  /* v128 in types: Precast's value kind. */
  wasm_exporttype_vec_t ex;
  wasm_module_exports(m, &ex);
  const wasm_functype_t* vt =
      wasm_externtype_as_functype_const(wasm_exporttype_type(ex.data[export_index(m, "v128_fn")]));
  CHECK(wasm_valtype_kind(wasm_functype_params(vt)->data[0]) == PRECAST_V128, "v128 kind");
  wasm_exporttype_vec_delete(&ex);
  wasm_module_delete(m);

  wasm_byte_vec_t bytes;
  read_artifact("truncated.pcst", &bytes);
  CHECK_ERR(precast_module_deserialize(engine, &bytes, &d), "artifact");
  CHECK(d == NULL, "no module on error");
  wasm_byte_vec_delete(&bytes);
  CHECK_ERR(precast_module_from_file(engine, path_of("basic.wasm"), &m), "precast compile");
  CHECK_ERR(precast_module_from_file(engine, NULL, &m), "NULL");
  CHECK_ERR(precast_module_from_file(NULL, path_of("basic.pcst"), &m), "engine is NULL");
  CHECK_ERR(precast_module_verify_integrity(NULL), "NULL");
  CHECK(precast_module_name(NULL) == NULL, "no name");

  /* The module linked into this program. */
  wasm_module_t* linked = NULL;
  CHECK_OK(precast_module_from_linked(engine, PRECAST_LINKED_MODULE(ctest), &linked));
  CHECK(strcmp(precast_module_name(linked), "linked") == 0, "the linked module's name");
  CHECK_OK(precast_module_verify_integrity(linked));
  wasm_module_serialize(linked, &ser);
  CHECK(ser.size == 0, "a linked module has no artifact bytes");
  CHECK_LAST_ERROR("linked into the executable");
  wasm_byte_vec_delete(&ser);
  CHECK_ERR(precast_module_from_linked(engine, NULL, &m), "NULL");

  wasm_store_t* store = wasm_store_new(engine);
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_instance_t* inst = wasm_instance_new(store, linked, &none, NULL);
  CHECK(inst != NULL, "instantiate the linked module");
  int32_t args[2] = {30, 12};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call(linked, inst, "add", 2, args, out, 1) == NULL && out[0].of.i32 == 42, "add = 42");
  int32_t n = 20;
  CHECK(call(linked, inst, "fib", 1, &n, out, 1) == NULL && out[0].of.i32 == 6765, "fib(20)");

  /* Trap accessors. */
  int32_t div[2] = {1, 0};
  wasm_trap_t* t = call(linked, inst, "ratio", 2, div, out, 1);
  CHECK(t != NULL, "ratio(1, 0) traps");
  precast_trap_code_t code = 0;
  CHECK(precast_trap_code(t, &code) && code == PRECAST_TRAP_INTEGER_DIVISION_BY_ZERO,
        "trap code %d", code);
  CHECK(strcmp(precast_trap_message(t), "integer divide by zero") == 0, "trap message");
  CHECK(strstr(precast_trap_display(t), "wasm backtrace") != NULL &&
            strstr(precast_trap_display(t), "linked!ratio") != NULL,
        "display: %s", precast_trap_display(t));
  int status = -1;
  CHECK(!precast_trap_exit_status(t, &status) && status == -1, "not an exit");
  wasm_frame_t* origin = wasm_trap_origin(t);
  CHECK(strcmp(precast_frame_func_name(origin), "ratio") == 0, "origin function name");
  CHECK(strcmp(precast_frame_module_name(origin), "linked") == 0, "origin module name");
  CHECK(precast_frame_func_name(NULL) == NULL && precast_frame_module_name(NULL) == NULL,
        "NULL frame");
  wasm_frame_delete(origin);
  wasm_trap_delete(t);
  wasm_message_t msg;
  wasm_name_new_from_string_nt(&msg, "by hand");
  t = wasm_trap_new(store, &msg);
  wasm_name_delete(&msg);
  CHECK(!precast_trap_code(t, &code), "a trap made by hand has no code");
  CHECK(strcmp(precast_trap_display(t), "by hand") == 0, "display of a message-only trap");
  wasm_trap_delete(t);
  CHECK(precast_trap_message(NULL) == NULL && precast_trap_display(NULL) == NULL, "NULL trap");

  wasm_instance_delete(inst);
  wasm_store_delete(store);
  wasm_module_delete(linked);
  wasm_engine_delete(engine);
}

static void test_verification(void) {
  /* FULL: linked modules are checksummed too; corrupted artifacts are refused. */
  wasm_engine_t* full = engine_with(PRECAST_VERIFY_FULL);
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_linked(full, PRECAST_LINKED_MODULE(ctest), &m));
  wasm_module_delete(m);
  CHECK_ERR(precast_module_from_file(full, path_of("corrupt.pcst"), &m), "corrupted");
  wasm_engine_delete(full);

  /* FAST (the default): files are checked. */
  wasm_engine_t* fast = engine_with(PRECAST_VERIFY_FAST);
  CHECK_ERR(precast_module_from_file(fast, path_of("corrupt.pcst"), &m), "corrupted");
  wasm_engine_delete(fast);

  /* UNCHECKED: the code's checksum is skipped at load; verify_integrity finds the damage.
   * (The corrupted module is never run.) */
  wasm_engine_t* unchecked = engine_with(PRECAST_VERIFY_UNCHECKED);
  CHECK_OK(precast_module_from_file(unchecked, path_of("corrupt.pcst"), &m));
  CHECK_ERR(precast_module_verify_integrity(m), "corrupted");
  wasm_module_delete(m);
  wasm_byte_vec_t bytes;
  read_artifact("corrupt.pcst", &bytes);
  CHECK_OK(precast_module_deserialize(unchecked, &bytes, &m));
  CHECK_ERR(precast_module_verify_integrity(m), "corrupted");
  wasm_module_delete(m);
  wasm_byte_vec_delete(&bytes);
  /* Structure and metadata are still checked. */
  CHECK_ERR(precast_module_from_file(unchecked, path_of("truncated.pcst"), &m), "artifact");
  wasm_engine_delete(unchecked);

  wasm_config_t* c = wasm_config_new();
  precast_config_set_verification(c, 9);
  CHECK_LAST_ERROR("not a verification level");
  wasm_config_delete(c);
  precast_config_set_verification(NULL, PRECAST_VERIFY_FULL);
  CHECK_LAST_ERROR("NULL");
}

static void test_signatures(void) {
  /* A trusted key: signed artifacts load, unsigned ones do not. */
  wasm_config_t* c = wasm_config_new();
  CHECK_OK(precast_config_trust_key_file(c, path_of("key.pub")));
  wasm_engine_t* e = wasm_engine_new_with_config(c);
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("linked.signed.pcst"), &m));
  wasm_module_delete(m);
  CHECK_ERR(precast_module_from_file(e, path_of("linked.pcst"), &m), "not signed");
  CHECK_ERR(precast_module_from_linked(e, PRECAST_LINKED_MODULE(ctest), &m), "not signed");
  wasm_engine_delete(e);

  /* The same key given as PEM text. */
  wasm_byte_vec_t pem;
  read_artifact("key.pub", &pem);
  c = wasm_config_new();
  CHECK_OK(precast_config_trust_key_pem(c, pem.data, pem.size));
  e = wasm_engine_new_with_config(c);
  CHECK_OK(precast_module_from_file(e, path_of("linked.signed.pcst"), &m));
  wasm_module_delete(m);
  wasm_engine_delete(e);
  wasm_byte_vec_delete(&pem);

  /* Bad keys. */
  c = wasm_config_new();
  CHECK_ERR(precast_config_trust_key_pem(c, "garbage", 7), "not an ed25519 public key");
  CHECK_ERR(precast_config_trust_key_file(c, path_of("not_a_key.pem")), "not an ed25519 public key");
  CHECK_ERR(precast_config_trust_key_file(c, path_of("missing.pub")), "cannot read the key");
  CHECK_ERR(precast_config_trust_key_pem(c, NULL, 0), "NULL");
  CHECK_ERR(precast_config_trust_key_pem(NULL, "x", 1), "config is NULL");

  /* Required signatures without a trusted key: nothing loads (fail closed). */
  precast_config_require_signatures(c, true);
  e = wasm_engine_new_with_config(c);
  CHECK_ERR(precast_module_from_file(e, path_of("linked.signed.pcst"), &m), "trusts no key");
  wasm_store_t* s = wasm_store_new(e);
  wasm_byte_vec_t bytes;
  read_artifact("linked.signed.pcst", &bytes);
  CHECK(wasm_module_new(s, &bytes) == NULL, "wasm_module_new refuses too");
  CHECK_LAST_ERROR("trusts no key");
  wasm_byte_vec_delete(&bytes);
  wasm_store_delete(s);
  wasm_engine_delete(e);
  c = wasm_config_new();
  precast_config_require_signatures(c, true);
  precast_config_require_signatures(c, false);
  e = wasm_engine_new_with_config(c);
  CHECK_OK(precast_module_from_file(e, path_of("linked.pcst"), &m));
  wasm_module_delete(m);
  wasm_engine_delete(e);
}

static void test_limits(void) {
  /* A smaller wasm stack, and Spectre mitigations required (the default compile has
   * them). */
  wasm_config_t* c = wasm_config_new();
  precast_config_set_max_wasm_stack(c, 64 * 1024);
  precast_config_require_spectre_mitigations(c, true);
  wasm_engine_t* e = wasm_engine_new_with_config(c);
  wasm_store_t* s = wasm_store_new(e);
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("linked.pcst"), &m));
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_instance_t* inst = wasm_instance_new(s, m, &none, NULL);
  int32_t n = 25;
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call(m, inst, "fib", 1, &n, out, 1) == NULL && out[0].of.i32 == 75025,
        "fib(25) fits in 64 KiB");
  wasm_instance_delete(inst);
  wasm_module_delete(m);
  wasm_store_delete(s);
  wasm_engine_delete(e);
}

static void test_memory64_reservation(void) {
  /* A 64-bit memory grows past 4 GiB (the default reservation is 64 GiB), but not past a
   * 5 GiB reservation; wasm stores and loads beyond 4 GiB. */
  uint64_t page = 65536, gib = 1ull << 30;
  for (int limited = 0; limited < 2; limited++) {
    wasm_config_t* c = wasm_config_new();
    if (limited) precast_config_set_memory64_reservation(c, 5 * gib);
    wasm_engine_t* e = wasm_engine_new_with_config(c);
    wasm_store_t* s = wasm_store_new(e);
    wasm_module_t* m = NULL;
    CHECK_OK(precast_module_from_file(e, path_of("memory64.pcst"), &m));
    wasm_extern_vec_t none = WASM_EMPTY_VEC;
    wasm_instance_t* inst = wasm_instance_new(s, m, &none, NULL);
    wasm_extern_vec_t ex;
    wasm_instance_exports(inst, &ex);
    wasm_val_t args[2], out[1] = {WASM_INIT_VAL};
    wasm_val_vec_t av = {1, args}, ov = {1, out};
    args[0] = (wasm_val_t)WASM_I64_VAL((int64_t)(6 * gib / page));
    wasm_trap_t* t = wasm_func_call(wasm_extern_as_func(ex.data[0]), &av, &ov);
    CHECK(t == NULL && out[0].of.i64 == (limited ? -1 : 1), "grow a 64-bit memory to 6 GiB");
    if (limited) {
      args[0] = (wasm_val_t)WASM_I64_VAL((int64_t)(5 * gib / page - 1));
      t = wasm_func_call(wasm_extern_as_func(ex.data[0]), &av, &ov);
      CHECK(t == NULL && out[0].of.i64 == 1, "grow it to the 5 GiB reservation");
    }
    args[0] = (wasm_val_t)WASM_I64_VAL((int64_t)(4 * gib + 12));
    args[1] = (wasm_val_t)WASM_I32_VAL(77);
    wasm_val_vec_t sv = {2, args}, nv = WASM_EMPTY_VEC;
    CHECK(wasm_func_call(wasm_extern_as_func(ex.data[1]), &sv, &nv) == NULL, "store past 4 GiB");
    t = wasm_func_call(wasm_extern_as_func(ex.data[2]), &av, &ov);
    CHECK(t == NULL && out[0].of.i32 == 77, "load past 4 GiB");
    wasm_extern_vec_delete(&ex);
    wasm_instance_delete(inst);
    wasm_module_delete(m);
    wasm_store_delete(s);
    wasm_engine_delete(e);
  }
  precast_config_set_memory64_reservation(NULL, 0);
}

static void test_signal_handlers(void) {
  /* An engine that installs no signal handlers loads only --no-signals artifacts. */
  wasm_config_t* c = wasm_config_new();
  precast_config_set_signal_handlers(c, false);
  wasm_engine_t* e = wasm_engine_new_with_config(c);
  wasm_module_t* m = NULL;
  CHECK_ERR(precast_module_from_file(e, path_of("linked.pcst"), &m), "signal-based traps");
  CHECK_OK(precast_module_from_file(e, path_of("linked.nosignals.pcst"), &m));
  wasm_store_t* s = wasm_store_new(e);
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_instance_t* inst = wasm_instance_new(s, m, &none, NULL);
  CHECK(inst != NULL, "instantiate a --no-signals module");
  int32_t n = 10, div[2] = {1, 0};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call(m, inst, "fib", 1, &n, out, 1) == NULL && out[0].of.i32 == 55, "fib(10)");
  wasm_trap_t* t = call(m, inst, "ratio", 2, div, out, 1);
  precast_trap_code_t code = 0;
  CHECK(t != NULL && precast_trap_code(t, &code) && code == PRECAST_TRAP_INTEGER_DIVISION_BY_ZERO,
        "a trap without signals");
  wasm_trap_delete(t);
  precast_config_set_signal_handlers(NULL, true);
  wasm_instance_delete(inst);
  wasm_module_delete(m);
  wasm_store_delete(s);
  wasm_engine_delete(e);
}

/* The host function `tick` of interrupts.wat, called on every iteration of `host_loop`. With
 * `fuel`, it refuels the guest (50 units) on each of its first 99 calls, noting the fuel it
 * saw; without, it advances the epoch on every call and moves the deadline one epoch ahead
 * on each of the first 99, so the 100th call leaves it reached. */
struct ticker {
  wasm_engine_t* engine;
  wasm_store_t* store;
  bool fuel;
  int calls;
  uint64_t fuel_seen_min, fuel_seen_max;
};

static wasm_trap_t* tick(void* env, const wasm_val_vec_t* args, wasm_val_vec_t* results) {
  (void)args;
  (void)results;
  struct ticker* t = env;
  t->calls++;
  if (t->calls >= 100 && t->fuel) return NULL;
  if (t->fuel) {
    uint64_t left = 0;
    CHECK_OK(precast_store_get_fuel(t->store, &left));
    if (left < t->fuel_seen_min) t->fuel_seen_min = left;
    if (left > t->fuel_seen_max) t->fuel_seen_max = left;
    CHECK_OK(precast_store_set_fuel(t->store, 50));
  } else {
    precast_engine_increment_epoch(t->engine);
    if (t->calls < 100) precast_store_set_epoch_deadline(t->store, 1);
  }
  return NULL;
}

/* A timer thread: advances the epoch of `engine` after 50 ms. */
static void* increment_epoch_later(void* engine) {
  struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL);
  precast_engine_increment_epoch(engine);
  return NULL;
}

static wasm_engine_t* interrupting_engine(bool epoch, bool fuel) {
  wasm_config_t* c = wasm_config_new();
  precast_config_set_epoch_interruption(c, epoch);
  precast_config_set_consume_fuel(c, fuel);
  return wasm_engine_new_with_config(c);
}

/* The trap code of `t` (0 when it is not a wasm trap), and deletes it. */
static precast_trap_code_t trap_code_of(wasm_trap_t* t) {
  precast_trap_code_t code = 0;
  if (t != NULL && !precast_trap_code(t, &code)) code = 0;
  wasm_trap_delete(t);
  return code;
}

static void test_interrupts(void) {
  /* Settings: only an engine configured like the artifact loads it. */
  wasm_engine_t* plain = wasm_engine_new();
  wasm_module_t* m = NULL;
  CHECK_ERR(precast_module_from_file(plain, path_of("interrupts.pcst"), &m), "epoch interruption");
  CHECK(m == NULL, "no module on error");
  wasm_engine_t* epoch_only = interrupting_engine(true, false);
  CHECK_ERR(precast_module_from_file(epoch_only, path_of("interrupts.pcst"), &m), "fuel");
  wasm_engine_delete(epoch_only);
  wasm_engine_t* e = interrupting_engine(true, true);
  CHECK_ERR(precast_module_from_linked(e, PRECAST_LINKED_MODULE(ctest), &m), "epoch interruption");
  CHECK_OK(precast_module_from_file(e, path_of("interrupts.pcst"), &m));
  CHECK(m != NULL && strcmp(precast_module_name(m), "interrupts") == 0, "interrupts loads");

  wasm_store_t* s = wasm_store_new(e);
  struct ticker ticker = {e, s, true, 0, UINT64_MAX, 0};
  wasm_functype_t* unit = wasm_functype_new_0_0();
  wasm_func_t* tick_f = wasm_func_new_with_env(s, unit, tick, &ticker, NULL);
  wasm_extern_t* imports_data[1] = {wasm_func_as_extern(tick_f)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(imports_data);
  wasm_instance_t* inst = wasm_instance_new(s, m, &imports, NULL);
  CHECK(inst != NULL, "instantiate interrupts");
  wasm_val_t out[1] = {WASM_INIT_VAL};

  /* A new store has no fuel and its deadline is reached. */
  uint64_t fuel = 1;
  CHECK_OK(precast_store_get_fuel(s, &fuel));
  CHECK(fuel == 0, "a new store has no fuel: %llu", (unsigned long long)fuel);
  CHECK(trap_code_of(call(m, inst, "answer", 0, NULL, out, 1)) == PRECAST_TRAP_OUT_OF_FUEL,
        "no fuel: answer traps");
  CHECK_OK(precast_store_set_fuel(s, 10));
  CHECK(trap_code_of(call(m, inst, "answer", 0, NULL, out, 1)) == PRECAST_TRAP_INTERRUPT,
        "a new store's deadline is already reached");

  /* Fuel (the deadline out of reach). */
  precast_store_set_epoch_deadline(s, UINT64_MAX);
  CHECK_OK(precast_store_set_fuel(s, 0));
  CHECK(trap_code_of(call(m, inst, "answer", 0, NULL, out, 1)) == PRECAST_TRAP_OUT_OF_FUEL,
        "fuel 0: answer traps");
  CHECK_OK(precast_store_set_fuel(s, 10000));
  CHECK_OK(precast_store_get_fuel(s, &fuel));
  CHECK(fuel == 10000, "set_fuel then get_fuel: %llu", (unsigned long long)fuel);
  wasm_trap_t* t = call(m, inst, "spin", 0, NULL, NULL, 0);
  CHECK(t != NULL && strcmp(precast_trap_message(t), "all fuel consumed") == 0,
        "spin runs out of fuel: %s", t ? precast_trap_message(t) : "no trap");
  CHECK(trap_code_of(t) == PRECAST_TRAP_OUT_OF_FUEL, "trap code OUT_OF_FUEL");
  fuel = 1;
  CHECK_OK(precast_store_get_fuel(s, &fuel));
  CHECK(fuel == 0, "no fuel left after running out: %llu", (unsigned long long)fuel);
  CHECK_OK(precast_store_set_fuel(s, 10000));
  CHECK(call(m, inst, "answer", 0, NULL, out, 1) == NULL && out[0].of.i32 == 42,
        "the store works again with new fuel");
  CHECK_OK(precast_store_get_fuel(s, &fuel));
  CHECK(fuel == 10000 - 1, "answer costs exactly 1 unit (i32.const): %llu left",
        (unsigned long long)fuel);
  CHECK(call(m, inst, "answer", 0, NULL, out, 1) == NULL && out[0].of.i32 == 42, "again");
  CHECK_OK(precast_store_get_fuel(s, &fuel));
  CHECK(fuel == 10000 - 2, "and 1 more: %llu left", (unsigned long long)fuel);
  CHECK_OK(precast_store_get_fuel(s, NULL)); /* nowhere to put it */

  /* A host function refuels the guest through its caller: 50 units on each of its first
   * 99 calls; an iteration costs 2 (`call`, `br`), so the last 50 last 25 more calls. */
  CHECK_OK(precast_store_set_fuel(s, 50));
  CHECK(trap_code_of(call(m, inst, "host_loop", 0, NULL, NULL, 0)) == PRECAST_TRAP_OUT_OF_FUEL,
        "host_loop runs out of fuel");
  CHECK(ticker.calls == 99 + 25, "tick called %d times", ticker.calls);
  /* The first tick sees 49 (the call cost 1), the others 48 (the `br` and the call). */
  CHECK(ticker.fuel_seen_min == 48 && ticker.fuel_seen_max == 49,
        "the host sees the exact fuel: %llu..%llu", (unsigned long long)ticker.fuel_seen_min,
        (unsigned long long)ticker.fuel_seen_max);

  /* Epoch interruption (fuel out of reach): a timer thread advances the epoch. */
  CHECK_OK(precast_store_set_fuel(s, UINT64_MAX / 2));
  precast_store_set_epoch_deadline(s, 1);
  pthread_t timer;
  CHECK(pthread_create(&timer, NULL, increment_epoch_later, e) == 0, "start the timer thread");
  t = call(m, inst, "spin", 0, NULL, NULL, 0);
  CHECK(pthread_join(timer, NULL) == 0, "join the timer thread");
  CHECK(t != NULL && strstr(precast_trap_message(t), "epoch deadline") != NULL,
        "spin is interrupted: %s", t ? precast_trap_message(t) : "no trap");
  CHECK(trap_code_of(t) == PRECAST_TRAP_INTERRUPT, "trap code INTERRUPT");
  CHECK(trap_code_of(call(m, inst, "answer", 0, NULL, out, 1)) == PRECAST_TRAP_INTERRUPT,
        "the deadline stays reached");
  precast_store_set_epoch_deadline(s, 1);
  CHECK(call(m, inst, "answer", 0, NULL, out, 1) == NULL && out[0].of.i32 == 42,
        "the store works again with a new deadline");

  /* A host function advances the epoch and moves the deadline through its caller. */
  ticker.fuel = false;
  ticker.calls = 0;
  CHECK(trap_code_of(call(m, inst, "host_loop", 0, NULL, NULL, 0)) == PRECAST_TRAP_INTERRUPT,
        "host_loop is interrupted");
  CHECK(ticker.calls == 100, "interrupted after the 100th tick, not %d", ticker.calls);

  /* A store of an engine without fuel: fuel calls fail, a deadline is harmless. */
  wasm_store_t* ps = wasm_store_new(plain);
  CHECK_ERR(precast_store_set_fuel(ps, 1), "fuel is not enabled");
  fuel = 1;
  CHECK_ERR(precast_store_get_fuel(ps, &fuel), "fuel is not enabled");
  CHECK(fuel == 0, "0 on failure");
  precast_store_set_epoch_deadline(ps, 5);
  precast_engine_increment_epoch(plain);
  wasm_module_t* linked = NULL;
  CHECK_OK(precast_module_from_linked(plain, PRECAST_LINKED_MODULE(ctest), &linked));
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_instance_t* pinst = wasm_instance_new(ps, linked, &none, NULL);
  int32_t args[2] = {40, 2};
  CHECK(pinst != NULL && call(linked, pinst, "add", 2, args, out, 1) == NULL &&
            out[0].of.i32 == 42,
        "code without interruption runs whatever the epoch");
  wasm_instance_delete(pinst);
  wasm_module_delete(linked);
  wasm_store_delete(ps);

  /* NULL arguments. */
  precast_config_set_epoch_interruption(NULL, true);
  precast_config_set_consume_fuel(NULL, true);
  precast_engine_increment_epoch(NULL);
  CHECK_LAST_ERROR("engine is NULL");
  precast_store_set_epoch_deadline(NULL, 1);
  CHECK_LAST_ERROR("store is NULL");
  CHECK_ERR(precast_store_set_fuel(NULL, 1), "store is NULL");
  fuel = 1;
  CHECK_ERR(precast_store_get_fuel(NULL, &fuel), "store is NULL");
  CHECK(fuel == 0, "0 for a NULL store");

  wasm_instance_delete(inst);
  wasm_func_delete(tick_f);
  wasm_functype_delete(unit);
  wasm_store_delete(s);
  wasm_module_delete(m);
  wasm_engine_delete(e);
  wasm_engine_delete(plain);
}

static const char* expected_stdout =
    "arg: wasi\narg: a\narg: b\nenv: GREETING=hi\nstdin: input!\nfile: hello from a file\n";

static wasm_store_t* wasi_store(wasm_engine_t* e) {
  precast_wasi_config_t* w = precast_wasi_config_new();
  precast_wasi_config_push_arg(w, "wasi");
  precast_wasi_config_push_arg(w, "a");
  precast_wasi_config_push_arg(w, "b");
  precast_wasi_config_push_env(w, "GREETING", "hi");
  wasm_byte_vec_t in;
  wasm_byte_vec_new(&in, 6, "input!");
  precast_wasi_config_set_stdin_bytes(w, &in);
  wasm_byte_vec_delete(&in);
  precast_wasi_config_capture_stdout(w);
  precast_wasi_config_capture_stderr(w);
  CHECK_OK(precast_wasi_config_preopen_dir(w, path_of("data"), "/"));
  CHECK_ERR(precast_wasi_config_preopen_dir(w, path_of("no-such-dir"), "/x"), "cannot preopen");
  wasm_store_t* s = wasm_store_new(e);
  precast_store_set_wasi(s, w);
  return s;
}

/* Runs _start of `inst`; checks it exits with `expect` and what it wrote. */
static void run_start(wasm_store_t* s, const wasm_module_t* m, const wasm_instance_t* inst) {
  wasm_trap_t* t = call(m, inst, "_start", 0, NULL, NULL, 0);
  int status = -1;
  CHECK(t != NULL && precast_trap_exit_status(t, &status) && status == 3,
        "_start exits with its argument count, 3, not %d", status);
  CHECK(strcmp(precast_trap_message(t), "exited with status 3") == 0, "exit message %s",
        precast_trap_message(t));
  CHECK(!precast_trap_code(t, NULL), "an exit is not a wasm trap");
  wasm_trap_delete(t);
  wasm_byte_vec_t out, err;
  precast_store_wasi_stdout(s, &out);
  precast_store_wasi_stderr(s, &err);
  CHECK(out.size == strlen(expected_stdout) && memcmp(out.data, expected_stdout, out.size) == 0,
        "stdout: %.*s", (int)out.size, out.data);
  CHECK(err.size == 4 && memcmp(err.data, "err\n", 4) == 0, "stderr");
  wasm_byte_vec_delete(&out);
  wasm_byte_vec_delete(&err);
}

static void test_resource_limits(void) {
  wasm_engine_t* e = wasm_engine_new();
  wasm_store_t* s = wasm_store_new(e);
  CHECK_OK(precast_store_limiter(s, 2 * 65536, 4, -1, -1, 2));
  wasm_limits_t l = {1, 10};
  wasm_memorytype_t* mt = wasm_memorytype_new(&l);
  wasm_limits_t big = {3, 10};
  wasm_memorytype_t* big_t = wasm_memorytype_new(&big);
  CHECK(wasm_memory_new(s, big_t) == NULL, "a 3-page memory over a 2-page limit");
  CHECK_LAST_ERROR("memory limit of 131072 bytes reached");
  wasm_memory_t* mem = wasm_memory_new(s, mt);
  CHECK(mem != NULL, "a 1-page memory under the limit");
  CHECK(wasm_memory_grow(mem, 1), "grow to the limit");
  CHECK(!wasm_memory_grow(mem, 1), "growth beyond the limit refused");
  CHECK(wasm_memory_size(mem) == 2, "the memory unchanged: %u pages", wasm_memory_size(mem));
  wasm_memory_t* second = wasm_memory_new(s, mt);
  CHECK(second != NULL, "a second memory");
  CHECK(wasm_memory_new(s, mt) == NULL, "a third memory is over the count");
  CHECK_LAST_ERROR("memory count limit of 2");
  /* Tables: 4 elements at most. */
  wasm_limits_t tl = {2, 100};
  wasm_tabletype_t* tt = wasm_tabletype_new(wasm_valtype_new(WASM_FUNCREF), &tl);
  wasm_table_t* table = wasm_table_new(s, tt, NULL);
  CHECK(table != NULL, "a 2-element table");
  CHECK(wasm_table_grow(table, 2, NULL), "grow the table to 4");
  CHECK(!wasm_table_grow(table, 1, NULL), "growth beyond 4 elements refused");
  wasm_tabletype_delete(tt);
  wasm_table_delete(table);
  wasm_memory_delete(second);
  wasm_memory_delete(mem);
  wasm_memorytype_delete(big_t);
  wasm_memorytype_delete(mt);
  CHECK_ERR(precast_store_limiter(NULL, -1, -1, -1, -1, -1), "NULL");
  wasm_store_delete(s);
  wasm_engine_delete(e);
}

static void test_wasi(const char* self) {
  wasm_engine_t* e = wasm_engine_new();
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("wasi.pcst"), &m));
  wasm_store_t* s = wasi_store(e);
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_trap_t* trap = NULL;
  wasm_instance_t* inst = precast_instance_new_with_wasi(s, m, &none, &trap);
  CHECK(inst != NULL && trap == NULL, "instantiate with WASI");
  run_start(s, m, inst);
  wasm_instance_delete(inst);

  /* Non-WASI imports come from the vector: too many, or missing ones, fail cleanly. */
  wasm_foreign_t* f = wasm_foreign_new(s);
  wasm_memory_t* mem;
  {
    wasm_limits_t l = {1, 1};
    wasm_memorytype_t* mt = wasm_memorytype_new(&l);
    mem = wasm_memory_new(s, mt);
    wasm_memorytype_delete(mt);
  }
  wasm_extern_t* extra[1] = {wasm_memory_as_extern(mem)};
  wasm_extern_vec_t one = WASM_ARRAY_VEC(extra);
  CHECK(precast_instance_new_with_wasi(s, m, &one, &trap) == NULL, "too many imports");
  CHECK_TRAP(trap, "more imports");
  CHECK_LAST_ERROR("more imports");
  wasm_module_t* basic = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("basic.pcst"), &basic));
  CHECK(precast_instance_new_with_wasi(s, basic, &none, NULL) == NULL, "missing imports");
  CHECK_LAST_ERROR("unknown import `env::host_add`");
  wasm_memory_delete(mem);
  wasm_foreign_delete(f);
  wasm_store_delete(s);

  /* A store without captured output: empty. */
  s = wasm_store_new(e);
  wasm_byte_vec_t out;
  precast_store_wasi_stdout(s, &out);
  CHECK(out.size == 0, "nothing captured");
  wasm_byte_vec_delete(&out);
  precast_store_set_wasi(s, NULL);
  CHECK_LAST_ERROR("config is NULL");
  precast_wasi_config_delete(precast_wasi_config_new());

  /* Inheriting: this process's arguments, environment and stdio (the Rust test reads what
   * the program prints between the markers). */
  precast_wasi_config_t* w = precast_wasi_config_new();
  precast_wasi_config_inherit_argv(w);
  precast_wasi_config_inherit_env(w);
  precast_wasi_config_inherit_stdin(w);
  precast_wasi_config_inherit_stdout(w);
  precast_wasi_config_inherit_stderr(w);
  precast_wasi_config_inherit_stdio(w);
  precast_wasi_config_push_arg(NULL, "x");
  CHECK_LAST_ERROR("WASI config is NULL");
  precast_store_set_wasi(s, w);
  inst = precast_instance_new_with_wasi(s, m, &none, NULL);
  CHECK(inst != NULL, "instantiate with inherited stdio");
  printf("--- inherited ---\n");
  fflush(stdout);
  wasm_trap_t* t = call(m, inst, "_start", 0, NULL, NULL, 0);
  printf("--- end ---\n");
  int status = -1;
  CHECK(t != NULL && precast_trap_exit_status(t, &status) && status == 2,
        "exit with this process's argument count (2), not %d (%s)", status, self);
  wasm_trap_delete(t);
  wasm_instance_delete(inst);
  wasm_store_delete(s);
  wasm_module_delete(basic);
  wasm_module_delete(m);
  wasm_engine_delete(e);
}

static wasm_trap_t* linker_add(void* env, const wasm_val_vec_t* args, wasm_val_vec_t* results) {
  int* calls = env;
  (*calls)++;
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = args->data[0].of.i32 + args->data[1].of.i32;
  return NULL;
}

static wasm_trap_t* nothing(const wasm_val_vec_t* args, wasm_val_vec_t* results) {
  (void)args;
  (void)results;
  return NULL;
}

static void test_linker(void) {
  wasm_engine_t* e = wasm_engine_new();
  wasm_module_t *basic = NULL, *imports = NULL, *wasi = NULL, *start = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("basic.pcst"), &basic));
  CHECK_OK(precast_module_from_file(e, path_of("imports.pcst"), &imports));
  CHECK_OK(precast_module_from_file(e, path_of("wasi.pcst"), &wasi));
  CHECK_OK(precast_module_from_file(e, path_of("start_trap.pcst"), &start));

  precast_linker_t* l = precast_linker_new(e);
  CHECK(l != NULL, "linker");
  CHECK(precast_linker_new(NULL) == NULL, "no engine");
  CHECK_LAST_ERROR("engine is NULL");

  /* WASI through the linker. */
  CHECK_OK(precast_linker_define_wasi(l));
  wasm_store_t* s = wasi_store(e);
  wasm_instance_t* inst = NULL;
  wasm_trap_t* trap = NULL;
  CHECK_OK(precast_linker_instantiate(l, s, wasi, &inst, &trap));
  CHECK(inst != NULL && trap == NULL, "instantiate WASI through the linker");
  run_start(s, wasi, inst);
  wasm_instance_delete(inst);

  /* basic: a host function for every store, a store's function and global. */
  int calls = 0;
  wasm_functype_t* add_ty = wasm_functype_new_2_1(wasm_valtype_new_i32(), wasm_valtype_new_i32(),
                                                  wasm_valtype_new_i32());
  CHECK_OK(precast_linker_define_func(l, "env", "host_add", add_ty, linker_add, &calls,
                                      count_finalizer));
  CHECK_ERR(precast_linker_define_func(l, "env", "host_add", add_ty, linker_add, &calls, NULL),
            "already defined");
  int before = finalized;
  CHECK_ERR(precast_linker_define_func(l, "env", "x", NULL, linker_add, &calls, count_finalizer),
            "not a function type");
  CHECK(finalized == before + 1, "the environment of a function not defined is finalized");
  wasm_functype_t* unit = wasm_functype_new_0_0();
  wasm_func_t* nop = wasm_func_new(s, unit, nothing);
  CHECK_OK(precast_linker_define(l, s, "env", "host_trap", wasm_func_as_extern(nop)));
  wasm_globaltype_t* gt = wasm_globaltype_new(wasm_valtype_new_i32(), WASM_VAR);
  wasm_val_t v = WASM_I32_VAL(1);
  wasm_global_t* g = wasm_global_new(s, gt, &v);
  CHECK_OK(precast_linker_define(l, s, "env", "g_in", wasm_global_as_extern(g)));
  CHECK_ERR(precast_linker_define(l, s, "env", "g_in", wasm_global_as_extern(g)), "already defined");
  precast_linker_allow_shadowing(l, true);
  CHECK_OK(precast_linker_define(l, s, "env", "g_in", wasm_global_as_extern(g)));
  precast_linker_allow_shadowing(l, false);
  CHECK_ERR(precast_linker_define(l, s, NULL, "x", wasm_global_as_extern(g)), "module name");
  CHECK_ERR(precast_linker_define(NULL, s, "a", "b", NULL), "linker is NULL");

  CHECK_OK(precast_linker_instantiate(l, s, basic, &inst, NULL));
  int32_t args[2] = {40, 2};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call(basic, inst, "call_host", 2, args, out, 1) == NULL && out[0].of.i32 == 42 &&
            calls == 1,
        "call_host through the linker's host function");

  /* imports: basic's memory and table, registered as instance "basic". */
  CHECK_OK(precast_linker_define_instance(l, s, "basic", inst));
  wasm_instance_t* inst2 = NULL;
  CHECK_OK(precast_linker_instantiate(l, s, imports, &inst2, &trap));
  CHECK(call(imports, inst2, "tsize", 0, NULL, out, 1) == NULL && out[0].of.i32 == 2,
        "imports sees basic's table");
  int32_t at = 16;
  CHECK(call(imports, inst2, "load", 1, &at, out, 1) == NULL && out[0].of.i32 == 'p',
        "imports sees basic's memory");
  wasm_extern_t* add = precast_linker_get(l, s, "basic", "add");
  CHECK(add != NULL && wasm_extern_kind(add) == WASM_EXTERN_FUNC, "linker get");
  wasm_extern_delete(add);
  wasm_extern_t* host = precast_linker_get(l, s, "env", "host_add");
  CHECK(host != NULL, "a linker host function made in the store");
  wasm_val_t hargs[2] = {WASM_I32_VAL(5), WASM_I32_VAL(6)};
  wasm_val_vec_t ha = WASM_ARRAY_VEC(hargs);
  wasm_val_vec_t hr = {1, out};
  CHECK(wasm_func_call(wasm_extern_as_func(host), &ha, &hr) == NULL && out[0].of.i32 == 11,
        "call it from the host");
  wasm_extern_delete(host);
  CHECK(precast_linker_get(l, s, "basic", "nope") == NULL, "undefined name");
  CHECK_LAST_ERROR("not defined");

  /* Errors: a missing import, a start function's trap. */
  precast_linker_t* empty = precast_linker_new(e);
  wasm_instance_t* none_inst = (wasm_instance_t*)1;
  CHECK_ERR(precast_linker_instantiate(empty, s, basic, &none_inst, &trap),
            "unknown import `env::host_add`");
  CHECK(none_inst == NULL && trap == NULL, "no instance, no trap");
  CHECK_OK(precast_linker_instantiate(empty, s, start, &none_inst, &trap));
  CHECK(none_inst == NULL, "the start function trapped: no instance");
  CHECK_TRAP(trap, "unreachable");
  CHECK_LAST_ERROR("unreachable");

  /* Unknown imports as default values: host_add and host_trap return zeros. */
  CHECK_OK(precast_linker_define(empty, s, "env", "g_in", wasm_global_as_extern(g)));
  CHECK_OK(precast_linker_define_unknown_imports_as_default_values(empty, basic));
  wasm_instance_t* inst3 = NULL;
  CHECK_OK(precast_linker_instantiate(empty, s, basic, &inst3, NULL));
  CHECK(call(basic, inst3, "call_host", 2, args, out, 1) == NULL && out[0].of.i32 == 0,
        "a default import returns 0");
  CHECK_ERR(precast_linker_define_unknown_imports_as_default_values(empty, NULL), "NULL");
  precast_linker_delete(empty);

  wasm_instance_delete(inst3);
  wasm_instance_delete(inst2);
  wasm_instance_delete(inst);
  wasm_func_delete(nop);
  wasm_global_delete(g);
  wasm_globaltype_delete(gt);
  wasm_functype_delete(unit);
  wasm_functype_delete(add_ty);
  before = finalized;
  precast_linker_delete(l);
  CHECK(finalized == before, "the store's host functions still use the environment");
  wasm_store_delete(s);
  CHECK(finalized == before + 1, "the environment is finalized with its last function");
  wasm_module_delete(basic);
  wasm_module_delete(imports);
  wasm_module_delete(wasi);
  wasm_module_delete(start);
  wasm_engine_delete(e);
}

static void test_profiler(void) {
  char map[64];
  snprintf(map, sizeof map, "/tmp/perf-%d.map", (int)getpid());
  remove(map);
  wasm_config_t* c = wasm_config_new();
  precast_config_set_profiler(c, 7);
  CHECK_LAST_ERROR("7 is not a profiler");
  precast_config_set_profiler(NULL, PRECAST_PROFILER_PERFMAP);
  CHECK_LAST_ERROR("NULL");
  precast_config_set_profiler(c, PRECAST_PROFILER_PERFMAP);
  wasm_engine_t* e = wasm_engine_new_with_config(c);
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("basic.pcst"), &m));
  FILE* f = fopen(map, "r");
  CHECK(f != NULL, "the load wrote %s", map);
  char line[256];
  int entries = 0, trampolines = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long start, size;
    char name[200];
    if (sscanf(line, "%lx %lx %199s", &start, &size, name) == 3 && size > 0 &&
        strncmp(name, "basic!", 6) == 0) {
      entries++;
      if (strstr(name, "-trampoline[")) trampolines++;
    }
  }
  if (f) fclose(f);
  CHECK(entries > trampolines && trampolines > 0,
        "functions and trampolines named basic!NAME (%d entries)", entries);
  remove(map);
  wasm_module_delete(m);
  wasm_engine_delete(e);
  /* The jitdump: perf's header (magic `JiTD`, version 1), then the code records. */
  char dump[64];
  snprintf(dump, sizeof dump, "/tmp/jit-%d.dump", (int)getpid());
  remove(dump);
  c = wasm_config_new();
  precast_config_set_profiler(c, PRECAST_PROFILER_JITDUMP);
  e = wasm_engine_new_with_config(c);
  CHECK_OK(precast_module_from_file(e, path_of("basic.pcst"), &m));
  f = fopen(dump, "rb");
  CHECK(f != NULL, "the load wrote %s", dump);
  uint32_t header[2] = {0, 0};
  long size = 0;
  if (f) {
    CHECK(fread(header, 4, 2, f) == 2, "a header");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
  }
  CHECK(header[0] == 0x4A695444 && header[1] == 1, "the jitdump magic and version");
  CHECK(size > 40 + 64, "code records after the header (%ld bytes)", size);
  remove(dump);
  wasm_module_delete(m);
  wasm_engine_delete(e);
}

/* The GDB JIT interface's list, as a debugger reads it. */
struct jit_code_entry {
  struct jit_code_entry* next;
  struct jit_code_entry* prev;
  const char* symfile_addr;
  uint64_t symfile_size;
};
extern struct {
  uint32_t version;
  uint32_t action_flag;
  struct jit_code_entry* relevant_entry;
  struct jit_code_entry* first_entry;
} __jit_debug_descriptor;

static void test_debugger(void) {
  precast_config_set_debugger(NULL, true);
  CHECK_LAST_ERROR("NULL");
  wasm_config_t* c = wasm_config_new();
  precast_config_set_debugger(c, true);
  wasm_engine_t* e = wasm_engine_new_with_config(c);
  CHECK(__jit_debug_descriptor.first_entry == NULL, "no entry before a load");
  wasm_module_t* m = NULL;
  CHECK_OK(precast_module_from_file(e, path_of("basic.pcst"), &m));
  struct jit_code_entry* entry = __jit_debug_descriptor.first_entry;
  CHECK(entry != NULL && __jit_debug_descriptor.action_flag == 1, "the load registered");
  CHECK(entry && entry->symfile_size > 64 && memcmp(entry->symfile_addr, "\x7f" "ELF", 4) == 0,
        "the entry is an ELF image");
  wasm_module_delete(m);
  CHECK(__jit_debug_descriptor.first_entry == NULL && __jit_debug_descriptor.action_flag == 2,
        "the delete unregistered");
  wasm_engine_delete(e);
  /* Off: nothing registered. */
  e = wasm_engine_new();
  CHECK_OK(precast_module_from_file(e, path_of("basic.pcst"), &m));
  CHECK(__jit_debug_descriptor.first_entry == NULL, "no entry without the setting");
  wasm_module_delete(m);
  wasm_engine_delete(e);
}

int main(int argc, char** argv) {
  if (argc > 1) artifacts_dir = argv[1];
  test_errors();
  test_modules();
  test_verification();
  test_signatures();
  test_limits();
  test_memory64_reservation();
  test_signal_handlers();
  test_interrupts();
  test_resource_limits();
  test_wasi(argv[0]);
  test_linker();
  test_profiler();
  test_debugger();
  printf("%d checks passed\n", checks_passed);
  return 0;
}
