/* The C tests' harness: CHECK counts and stops at the first failure with its place and a
 * message; helpers read the artifacts the Rust test wrote into the directory argv[1]. */

#ifndef PRECAST_TEST_CHECK_H
#define PRECAST_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "precast.h"

static int checks_passed = 0;

#define CHECK(cond, ...)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n  ", __FILE__, __LINE__, #cond);     \
      fprintf(stderr, __VA_ARGS__);                                                   \
      fputc('\n', stderr);                                                            \
      exit(1);                                                                        \
    }                                                                                 \
    checks_passed++;                                                                  \
  } while (0)

/* Checks that the thread's last error exists and contains `part`; clears it. */
#define CHECK_LAST_ERROR(part)                                                        \
  do {                                                                                \
    precast_error_t* e_ = precast_last_error();                                       \
    CHECK(e_ != NULL, "expected a last error containing \"%s\"", part);              \
    CHECK(strstr(precast_error_message(e_), part) != NULL,                            \
          "last error \"%s\" does not contain \"%s\"", precast_error_message(e_), part); \
    precast_error_delete(e_);                                                         \
  } while (0)

/* Checks that `err` (a precast_error_t*) is NULL; prints its message otherwise. */
#define CHECK_OK(err)                                                                 \
  do {                                                                                \
    precast_error_t* e_ = (err);                                                      \
    CHECK(e_ == NULL, "unexpected error: %s", e_ ? precast_error_message(e_) : "");  \
  } while (0)

/* Checks that `err` is an error whose message contains `part`, and deletes it. */
#define CHECK_ERR(err, part)                                                          \
  do {                                                                                \
    precast_error_t* e_ = (err);                                                      \
    CHECK(e_ != NULL, "expected an error containing \"%s\"", part);                  \
    CHECK(strstr(precast_error_message(e_), part) != NULL,                            \
          "error \"%s\" does not contain \"%s\"", precast_error_message(e_), part);   \
    precast_error_delete(e_);                                                         \
  } while (0)

/* Checks that `trap` is a trap whose message contains `part`, and deletes it. */
#define CHECK_TRAP(trap, part)                                                        \
  do {                                                                                \
    wasm_trap_t* t_ = (trap);                                                         \
    CHECK(t_ != NULL, "expected a trap containing \"%s\"", part);                    \
    CHECK(strstr(precast_trap_message(t_), part) != NULL,                             \
          "trap \"%s\" does not contain \"%s\"", precast_trap_message(t_), part);     \
    wasm_trap_delete(t_);                                                             \
  } while (0)

static const char* artifacts_dir = ".";

static const char* path_of(const char* name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", artifacts_dir, name);
  return buf;
}

/* The bytes of file `name` in the artifacts directory. */
static void read_artifact(const char* name, wasm_byte_vec_t* out) {
  FILE* f = fopen(path_of(name), "rb");
  CHECK(f != NULL, "cannot open %s", path_of(name));
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  wasm_byte_vec_new_uninitialized(out, (size_t)len);
  CHECK(fread(out->data, 1, (size_t)len, f) == (size_t)len, "cannot read %s", name);
  fclose(f);
}

static int name_is(const wasm_name_t* n, const char* s) {
  return n != NULL && n->size == strlen(s) && memcmp(n->data, s, n->size) == 0;
}

/* The index of export `name` in `module`'s exports (also its index in the instance's). */
static size_t export_index(const wasm_module_t* module, const char* name) {
  wasm_exporttype_vec_t exports;
  wasm_module_exports(module, &exports);
  size_t found = (size_t)-1;
  for (size_t i = 0; i < exports.size; i++) {
    if (name_is(wasm_exporttype_name(exports.data[i]), name)) found = i;
  }
  wasm_exporttype_vec_delete(&exports);
  CHECK(found != (size_t)-1, "no export %s", name);
  return found;
}

#endif
