/* A C host for Precast: runs a WASI command from an artifact file, then a module linked
 * into this executable (see README.md for how to build it).
 *
 *   ./c-host hello.pcst
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "precast.h"

/* The descriptor of `precast compile math.wat -o math.o --link-name math`. */
PRECAST_DECLARE_LINKED_MODULE(math);

static void die(const char* what, precast_error_t* error) {
  fprintf(stderr, "c-host: %s: %s\n", what, error ? precast_error_message(error) : "failed");
  precast_error_delete(error);
  exit(1);
}

/* The host function the math module imports as host::double. */
static wasm_trap_t* host_double(const wasm_val_vec_t* args, wasm_val_vec_t* results) {
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = args->data[0].of.i32 * 2;
  return NULL;
}

/* The exported function `name` of `instance` (an instance of `module`). */
static wasm_func_t* get_func(const wasm_module_t* module, const wasm_extern_vec_t* exports,
                             const char* name) {
  wasm_exporttype_vec_t types;
  wasm_module_exports(module, &types);
  wasm_func_t* found = NULL;
  for (size_t i = 0; i < types.size; i++) {
    const wasm_name_t* n = wasm_exporttype_name(types.data[i]);
    if (n->size == strlen(name) && memcmp(n->data, name, n->size) == 0) {
      found = wasm_extern_as_func(exports->data[i]);
    }
  }
  wasm_exporttype_vec_delete(&types);
  if (found == NULL) die(name, NULL);
  return found;
}

/* Calls an (i32, ...) -> i32 function; prints its result or its trap. */
static void show(const char* label, wasm_func_t* f, int argc, const int32_t* argv) {
  wasm_val_t args[2];
  for (int i = 0; i < argc; i++) {
    args[i].kind = WASM_I32;
    args[i].of.i32 = argv[i];
  }
  wasm_val_t results[1] = {WASM_INIT_VAL};
  wasm_val_vec_t a = {(size_t)argc, args};
  wasm_val_vec_t r = WASM_ARRAY_VEC(results);
  wasm_trap_t* trap = wasm_func_call(f, &a, &r);
  if (trap == NULL) {
    printf("%s = %d\n", label, results[0].of.i32);
  } else {
    printf("%s: trap: %s\n", label, precast_trap_message(trap));
    wasm_trap_delete(trap);
  }
}

static void run_wasi(wasm_engine_t* engine, const char* path) {
  wasm_module_t* module = NULL;
  precast_error_t* error = precast_module_from_file(engine, path, &module);
  if (error) die(path, error);

  precast_wasi_config_t* wasi = precast_wasi_config_new();
  precast_wasi_config_push_arg(wasi, "hello");
  precast_wasi_config_inherit_stdout(wasi);
  precast_wasi_config_inherit_stderr(wasi);
  wasm_store_t* store = wasm_store_new(engine);
  precast_store_set_wasi(store, wasi);

  wasm_extern_vec_t no_imports = WASM_EMPTY_VEC;
  wasm_trap_t* trap = NULL;
  wasm_instance_t* instance = precast_instance_new_with_wasi(store, module, &no_imports, &trap);
  if (instance == NULL) die("instantiate", precast_last_error());
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_val_vec_t none = WASM_EMPTY_VEC;
  fflush(stdout); /* the program writes to file descriptor 1 directly */
  trap = wasm_func_call(get_func(module, &exports, "_start"), &none, &none);
  int status = 0;
  if (trap != NULL && !precast_trap_exit_status(trap, &status)) {
    fprintf(stderr, "%s\n", precast_trap_display(trap));
    exit(134);
  }
  printf("the WASI program exited with status %d\n", status);
  if (trap) wasm_trap_delete(trap);
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_store_delete(store);
  wasm_module_delete(module);
}

static void run_linked(wasm_engine_t* engine) {
  wasm_module_t* module = NULL;
  precast_error_t* error = precast_module_from_linked(engine, PRECAST_LINKED_MODULE(math), &module);
  if (error) die("the linked module", error);
  printf("linked module: %s\n", precast_module_name(module));

  wasm_store_t* store = wasm_store_new(engine);
  wasm_functype_t* type = wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i32());
  wasm_func_t* dbl = wasm_func_new(store, type, host_double);
  wasm_functype_delete(type);
  wasm_extern_t* imports[1] = {wasm_func_as_extern(dbl)};
  wasm_extern_vec_t import_vec = WASM_ARRAY_VEC(imports);
  wasm_trap_t* trap = NULL;
  wasm_instance_t* instance = wasm_instance_new(store, module, &import_vec, &trap);
  if (instance == NULL) die("instantiate", precast_last_error());
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);

  int32_t two_three[2] = {2, 3}, twenty = 20, five = 5, one_zero[2] = {1, 0};
  show("math.add(2, 3)", get_func(module, &exports, "add"), 2, two_three);
  show("math.fib(20)", get_func(module, &exports, "fib"), 1, &twenty);
  show("math.quadruple(5)", get_func(module, &exports, "quadruple"), 1, &five);
  show("math.ratio(1, 0)", get_func(module, &exports, "ratio"), 2, one_zero);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_func_delete(dbl);
  wasm_store_delete(store);
  wasm_module_delete(module);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s HELLO.pcst\n", argv[0]);
    return 2;
  }
  wasm_engine_t* engine = wasm_engine_new();
  run_wasi(engine, argv[1]);
  run_linked(engine);
  wasm_engine_delete(engine);
  return 0;
}
