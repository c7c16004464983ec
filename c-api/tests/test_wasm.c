/* Tests of wasm.h, the standard WebAssembly C API: every function it declares, results
 * checked, error paths included. argv[1]: the directory of artifacts the Rust test wrote. */

#include "check.h"


/* ------------------------------------------------------------------------------------ */
/* Host functions and finalizers                                                        */

static int finalized = 0;
static void count_finalizer(void* p) {
  (void)p;
  finalized++;
}

/* host_add's environment: the instance's "add" export, filled in after instantiation, so
 * that host_add calls back into wasm (reentrancy through the caller). */
struct add_env {
  wasm_func_t* add;
  int calls;
};

static wasm_trap_t* host_add(void* env, const wasm_val_vec_t* args, wasm_val_vec_t* results) {
  struct add_env* e = env;
  e->calls++;
  if (args->size != 2 || args->data[0].kind != WASM_I32 || results->size != 1) {
    wasm_message_t m;
    wasm_name_new_from_string_nt(&m, "host_add: bad arguments");
    wasm_trap_t* t = wasm_trap_new(NULL, &m);
    wasm_name_delete(&m);
    return t;
  }
  if (e->add == NULL) {
    results->data[0].kind = WASM_I32;
    results->data[0].of.i32 = args->data[0].of.i32 + args->data[1].of.i32;
    return NULL;
  }
  /* Call wasm from the host function: add(a, b) + 1000. */
  wasm_val_t inner_args[2] = {WASM_I32_VAL(args->data[0].of.i32), WASM_I32_VAL(args->data[1].of.i32)};
  wasm_val_t inner_results[1] = {WASM_INIT_VAL};
  wasm_val_vec_t ia = WASM_ARRAY_VEC(inner_args);
  wasm_val_vec_t ir = WASM_ARRAY_VEC(inner_results);
  wasm_trap_t* t = wasm_func_call(e->add, &ia, &ir);
  if (t != NULL) return t;
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = inner_results[0].of.i32 + 1000;
  return NULL;
}

static wasm_store_t* trap_store = NULL;
static wasm_trap_t* host_trap(const wasm_val_vec_t* args, wasm_val_vec_t* results) {
  (void)args;
  (void)results;
  wasm_message_t m;
  wasm_name_new_from_string_nt(&m, "host says no");
  wasm_trap_t* t = wasm_trap_new(trap_store, &m);
  wasm_name_delete(&m);
  return t;
}

/* ------------------------------------------------------------------------------------ */
/* Vectors                                                                              */

static void test_byte_and_val_vectors(void) {
  wasm_byte_vec_t v;
  wasm_byte_vec_new_empty(&v);
  CHECK(v.size == 0 && v.data == NULL, "empty byte vector");
  wasm_byte_vec_delete(&v);

  wasm_byte_vec_new_uninitialized(&v, 5);
  CHECK(v.size == 5 && v.data != NULL, "uninitialized byte vector");
  CHECK(v.data[0] == 0 && v.data[4] == 0, "uninitialized bytes are zeroed");
  wasm_byte_vec_delete(&v);
  CHECK(v.size == 0 && v.data == NULL, "deleted vector is empty");

  wasm_byte_vec_new(&v, 3, "abc");
  wasm_byte_vec_t c;
  wasm_byte_vec_copy(&c, &v);
  CHECK(c.size == 3 && c.data != v.data && memcmp(c.data, "abc", 3) == 0, "byte copy");
  wasm_byte_vec_delete(&v);
  wasm_byte_vec_delete(&c);
  wasm_byte_vec_delete(NULL);

  wasm_name_t n;
  wasm_name_new_from_string(&n, "hello");
  CHECK(n.size == 5 && name_is(&n, "hello"), "name from string");
  wasm_name_delete(&n);
  wasm_name_new_from_string_nt(&n, "hi");
  CHECK(n.size == 3 && n.data[2] == 0, "name with NUL");
  wasm_name_delete(&n);

  wasm_val_vec_t vals;
  wasm_val_vec_new_empty(&vals);
  CHECK(vals.size == 0, "empty val vector");
  wasm_val_vec_delete(&vals);
  wasm_val_vec_new_uninitialized(&vals, 2);
  CHECK(vals.size == 2 && vals.data[1].kind == WASM_I32 && vals.data[1].of.i32 == 0,
        "uninitialized vals are i32 zeros");
  wasm_val_vec_delete(&vals);
  wasm_val_t items[2] = {WASM_I32_VAL(7), WASM_F64_VAL(2.5)};
  wasm_val_vec_new(&vals, 2, items);
  wasm_val_vec_t vals2;
  wasm_val_vec_copy(&vals2, &vals);
  CHECK(vals2.size == 2 && vals2.data[0].of.i32 == 7 && vals2.data[1].of.f64 == 2.5,
        "val vector copy");
  wasm_val_vec_delete(&vals);
  wasm_val_vec_delete(&vals2);
}

/* ------------------------------------------------------------------------------------ */
/* Types                                                                                */

static void test_valtypes(void) {
  wasm_valkind_t kinds[] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_EXTERNREF, WASM_FUNCREF};
  for (size_t i = 0; i < sizeof kinds; i++) {
    wasm_valtype_t* t = wasm_valtype_new(kinds[i]);
    CHECK(t != NULL && wasm_valtype_kind(t) == kinds[i], "valtype kind %d", kinds[i]);
    wasm_valtype_t* c = wasm_valtype_copy(t);
    CHECK(c != t && wasm_valtype_kind(c) == kinds[i], "valtype copy");
    CHECK(wasm_valtype_is_num(t) == (kinds[i] < WASM_EXTERNREF), "is_num");
    CHECK(wasm_valtype_is_ref(t) == (kinds[i] >= WASM_EXTERNREF), "is_ref");
    wasm_valtype_delete(t);
    wasm_valtype_delete(c);
  }
  CHECK(wasm_valtype_new(77) == NULL, "an invalid kind gives NULL");
  CHECK_LAST_ERROR("not a value kind");

  wasm_valtype_vec_t v;
  wasm_valtype_vec_new_empty(&v);
  CHECK(v.size == 0, "empty valtype vec");
  wasm_valtype_vec_delete(&v);
  wasm_valtype_vec_new_uninitialized(&v, 3);
  CHECK(v.size == 3 && v.data[0] == NULL, "uninitialized valtype vec holds NULLs");
  v.data[1] = wasm_valtype_new_i64();
  wasm_valtype_vec_t c;
  wasm_valtype_vec_copy(&c, &v);
  CHECK(c.size == 3 && c.data[0] == NULL && wasm_valtype_kind(c.data[1]) == WASM_I64 &&
            c.data[1] != v.data[1],
        "valtype vec deep copy");
  wasm_valtype_vec_delete(&v);
  wasm_valtype_vec_delete(&c);
  wasm_valtype_t* two[2] = {wasm_valtype_new_f32(), wasm_valtype_new_f64()};
  wasm_valtype_vec_new(&v, 2, two);
  CHECK(v.size == 2 && v.data[0] == two[0], "valtype vec takes its elements");
  wasm_valtype_vec_delete(&v);
}

static void test_functypes(void) {
  wasm_functype_t* ft = wasm_functype_new_2_1(wasm_valtype_new_i32(), wasm_valtype_new_f64(),
                                              wasm_valtype_new_externref());
  CHECK(ft != NULL, "functype");
  const wasm_valtype_vec_t* ps = wasm_functype_params(ft);
  const wasm_valtype_vec_t* rs = wasm_functype_results(ft);
  CHECK(ps->size == 2 && wasm_valtype_kind(ps->data[0]) == WASM_I32 &&
            wasm_valtype_kind(ps->data[1]) == WASM_F64,
        "functype params");
  CHECK(rs->size == 1 && wasm_valtype_kind(rs->data[0]) == WASM_EXTERNREF, "functype results");
  wasm_functype_t* copy = wasm_functype_copy(ft);
  CHECK(copy != ft && wasm_functype_params(copy)->size == 2, "functype copy");

  wasm_externtype_t* et = wasm_functype_as_externtype(ft);
  CHECK((void*)et == (void*)ft && wasm_externtype_kind(et) == WASM_EXTERN_FUNC,
        "functype as externtype");
  CHECK(wasm_externtype_as_functype(et) == ft, "externtype as functype");
  CHECK(wasm_externtype_as_globaltype(et) == NULL, "a functype is no globaltype");
  CHECK(wasm_externtype_as_tabletype(et) == NULL, "a functype is no tabletype");
  CHECK(wasm_externtype_as_memorytype(et) == NULL, "a functype is no memorytype");
  const wasm_externtype_t* cet = wasm_functype_as_externtype_const(ft);
  CHECK(wasm_externtype_as_functype_const(cet) == ft, "const casts");
  CHECK(wasm_externtype_as_globaltype_const(cet) == NULL, "const cast to the wrong kind");

  wasm_functype_t* all[6] = {
      wasm_functype_new_0_0(),
      wasm_functype_new_1_0(wasm_valtype_new_i32()),
      wasm_functype_new_3_0(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i32()),
      wasm_functype_new_0_2(wasm_valtype_new_i32(), wasm_valtype_new_i64()),
      wasm_functype_new_3_2(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i32(),
                            wasm_valtype_new_i32(), wasm_valtype_new_funcref()),
      wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i32()),
  };
  CHECK(wasm_functype_params(all[0])->size == 0 && wasm_functype_results(all[0])->size == 0,
        "0_0");
  CHECK(wasm_functype_params(all[2])->size == 3, "3_0");
  CHECK(wasm_functype_results(all[3])->size == 2, "0_2");
  CHECK(wasm_valtype_kind(wasm_functype_results(all[4])->data[1]) == WASM_FUNCREF, "3_2");

  wasm_functype_vec_t fv;
  wasm_functype_vec_new(&fv, 6, all);
  wasm_functype_vec_t fc;
  wasm_functype_vec_copy(&fc, &fv);
  CHECK(fc.size == 6 && wasm_functype_params(fc.data[1])->size == 1, "functype vec copy");
  wasm_functype_vec_delete(&fv);
  wasm_functype_vec_delete(&fc);
  wasm_functype_vec_new_empty(&fv);
  wasm_functype_vec_delete(&fv);
  wasm_functype_vec_new_uninitialized(&fv, 1);
  CHECK(fv.size == 1 && fv.data[0] == NULL, "uninitialized functype vec");
  wasm_functype_vec_delete(&fv);

  /* A NULL element in an owned params vector: the type is refused, nothing leaks. */
  wasm_valtype_vec_t bad, none;
  wasm_valtype_vec_new_uninitialized(&bad, 1);
  wasm_valtype_vec_new_empty(&none);
  CHECK(wasm_functype_new(&bad, &none) == NULL, "a NULL value type is refused");
  CHECK_LAST_ERROR("NULL");

  wasm_functype_delete(ft);
  wasm_functype_delete(copy);
}

static void test_other_types(void) {
  /* Global types. */
  wasm_globaltype_t* gt = wasm_globaltype_new(wasm_valtype_new_i64(), WASM_VAR);
  CHECK(wasm_valtype_kind(wasm_globaltype_content(gt)) == WASM_I64, "globaltype content");
  CHECK(wasm_globaltype_mutability(gt) == WASM_VAR, "globaltype mutability");
  wasm_globaltype_t* gc = wasm_globaltype_copy(gt);
  CHECK(wasm_globaltype_mutability(gc) == WASM_VAR, "globaltype copy");
  CHECK(wasm_externtype_kind(wasm_globaltype_as_externtype(gt)) == WASM_EXTERN_GLOBAL, "kind");
  CHECK(wasm_externtype_as_globaltype(wasm_globaltype_as_externtype(gt)) == gt, "cast back");
  CHECK(wasm_externtype_as_globaltype_const(wasm_globaltype_as_externtype_const(gt)) == gt,
        "const cast back");
  CHECK(wasm_globaltype_new(wasm_valtype_new_i32(), 7) == NULL, "bad mutability");
  CHECK_LAST_ERROR("mutability");

  /* Table types. */
  wasm_limits_t tl = {2, 10};
  wasm_tabletype_t* tt = wasm_tabletype_new(wasm_valtype_new_funcref(), &tl);
  CHECK(wasm_valtype_kind(wasm_tabletype_element(tt)) == WASM_FUNCREF, "tabletype element");
  CHECK(wasm_tabletype_limits(tt)->min == 2 && wasm_tabletype_limits(tt)->max == 10, "limits");
  wasm_tabletype_t* tc = wasm_tabletype_copy(tt);
  CHECK(wasm_tabletype_limits(tc)->max == 10, "tabletype copy");
  CHECK(wasm_externtype_kind(wasm_tabletype_as_externtype(tt)) == WASM_EXTERN_TABLE, "kind");
  CHECK(wasm_externtype_as_tabletype(wasm_tabletype_as_externtype(tt)) == tt, "cast back");
  CHECK(wasm_externtype_as_tabletype_const(wasm_tabletype_as_externtype_const(tt)) == tt,
        "const cast back");
  CHECK(wasm_tabletype_new(wasm_valtype_new_i32(), &tl) == NULL, "tables hold references");
  CHECK_LAST_ERROR("reference type");

  /* Memory types. */
  wasm_limits_t ml = {1, wasm_limits_max_default};
  wasm_memorytype_t* mt = wasm_memorytype_new(&ml);
  CHECK(wasm_memorytype_limits(mt)->min == 1 &&
            wasm_memorytype_limits(mt)->max == wasm_limits_max_default,
        "memorytype limits");
  wasm_memorytype_t* mc = wasm_memorytype_copy(mt);
  CHECK(wasm_memorytype_limits(mc)->min == 1, "memorytype copy");
  CHECK(wasm_externtype_kind(wasm_memorytype_as_externtype(mt)) == WASM_EXTERN_MEMORY, "kind");
  CHECK(wasm_externtype_as_memorytype(wasm_memorytype_as_externtype(mt)) == mt, "cast back");
  CHECK(wasm_externtype_as_memorytype_const(wasm_memorytype_as_externtype_const(mt)) == mt,
        "const cast back");
  CHECK(wasm_memorytype_new(NULL) == NULL, "NULL limits");
  CHECK_LAST_ERROR("NULL");

  /* Vectors of each. */
  wasm_globaltype_vec_t gv, gv2;
  wasm_globaltype_vec_new(&gv, 1, &gc);
  wasm_globaltype_vec_copy(&gv2, &gv);
  CHECK(gv2.size == 1 && wasm_globaltype_mutability(gv2.data[0]) == WASM_VAR, "globaltype vec");
  wasm_globaltype_vec_delete(&gv);
  wasm_globaltype_vec_delete(&gv2);
  wasm_globaltype_vec_new_empty(&gv);
  wasm_globaltype_vec_delete(&gv);
  wasm_globaltype_vec_new_uninitialized(&gv, 2);
  CHECK(gv.size == 2, "uninitialized globaltype vec");
  wasm_globaltype_vec_delete(&gv);

  wasm_tabletype_vec_t tv, tv2;
  wasm_tabletype_vec_new(&tv, 1, &tc);
  wasm_tabletype_vec_copy(&tv2, &tv);
  CHECK(tv2.size == 1 && wasm_tabletype_limits(tv2.data[0])->min == 2, "tabletype vec");
  wasm_tabletype_vec_delete(&tv);
  wasm_tabletype_vec_delete(&tv2);
  wasm_tabletype_vec_new_empty(&tv);
  wasm_tabletype_vec_delete(&tv);
  wasm_tabletype_vec_new_uninitialized(&tv, 2);
  CHECK(tv.size == 2, "uninitialized tabletype vec");
  wasm_tabletype_vec_delete(&tv);

  wasm_memorytype_vec_t mv, mv2;
  wasm_memorytype_vec_new(&mv, 1, &mc);
  wasm_memorytype_vec_copy(&mv2, &mv);
  CHECK(mv2.size == 1 && wasm_memorytype_limits(mv2.data[0])->min == 1, "memorytype vec");
  wasm_memorytype_vec_delete(&mv);
  wasm_memorytype_vec_delete(&mv2);
  wasm_memorytype_vec_new_empty(&mv);
  wasm_memorytype_vec_delete(&mv);
  wasm_memorytype_vec_new_uninitialized(&mv, 2);
  CHECK(mv.size == 2, "uninitialized memorytype vec");
  wasm_memorytype_vec_delete(&mv);

  /* Extern types: copies and vectors. */
  wasm_externtype_t* ec = wasm_externtype_copy(wasm_memorytype_as_externtype(mt));
  CHECK(wasm_externtype_kind(ec) == WASM_EXTERN_MEMORY, "externtype copy");
  wasm_externtype_vec_t ev, ev2;
  wasm_externtype_vec_new(&ev, 1, &ec);
  wasm_externtype_vec_copy(&ev2, &ev);
  CHECK(ev2.size == 1 && wasm_externtype_kind(ev2.data[0]) == WASM_EXTERN_MEMORY,
        "externtype vec");
  wasm_externtype_vec_delete(&ev);
  wasm_externtype_vec_delete(&ev2);
  wasm_externtype_vec_new_empty(&ev);
  wasm_externtype_vec_delete(&ev);
  wasm_externtype_vec_new_uninitialized(&ev, 1);
  CHECK(ev.size == 1 && ev.data[0] == NULL, "uninitialized externtype vec");
  wasm_externtype_vec_delete(&ev);

  /* Import and export types. */
  wasm_name_t mod, nm, nm2;
  wasm_name_new_from_string(&mod, "env");
  wasm_name_new_from_string(&nm, "g");
  wasm_importtype_t* it =
      wasm_importtype_new(&mod, &nm, wasm_globaltype_as_externtype(wasm_globaltype_copy(gt)));
  CHECK(name_is(wasm_importtype_module(it), "env") && name_is(wasm_importtype_name(it), "g"),
        "importtype names");
  CHECK(wasm_externtype_kind(wasm_importtype_type(it)) == WASM_EXTERN_GLOBAL, "importtype type");
  wasm_importtype_t* ic = wasm_importtype_copy(it);
  CHECK(name_is(wasm_importtype_name(ic), "g"), "importtype copy");
  wasm_importtype_vec_t iv, iv2;
  wasm_importtype_vec_new(&iv, 1, &ic);
  wasm_importtype_vec_copy(&iv2, &iv);
  CHECK(iv2.size == 1 && name_is(wasm_importtype_module(iv2.data[0]), "env"), "importtype vec");
  wasm_importtype_vec_delete(&iv);
  wasm_importtype_vec_delete(&iv2);
  wasm_importtype_vec_new_empty(&iv);
  wasm_importtype_vec_delete(&iv);
  wasm_importtype_vec_new_uninitialized(&iv, 1);
  CHECK(iv.size == 1, "uninitialized importtype vec");
  wasm_importtype_vec_delete(&iv);
  wasm_importtype_delete(it);

  wasm_name_new_from_string(&nm2, "run");
  wasm_exporttype_t* xt =
      wasm_exporttype_new(&nm2, wasm_functype_as_externtype(wasm_functype_new_0_0()));
  CHECK(name_is(wasm_exporttype_name(xt), "run"), "exporttype name");
  CHECK(wasm_externtype_kind(wasm_exporttype_type(xt)) == WASM_EXTERN_FUNC, "exporttype type");
  wasm_exporttype_t* xc = wasm_exporttype_copy(xt);
  CHECK(name_is(wasm_exporttype_name(xc), "run"), "exporttype copy");
  wasm_exporttype_vec_t xv, xv2;
  wasm_exporttype_vec_new(&xv, 1, &xc);
  wasm_exporttype_vec_copy(&xv2, &xv);
  CHECK(xv2.size == 1 && name_is(wasm_exporttype_name(xv2.data[0]), "run"), "exporttype vec");
  wasm_exporttype_vec_delete(&xv);
  wasm_exporttype_vec_delete(&xv2);
  wasm_exporttype_vec_new_empty(&xv);
  wasm_exporttype_vec_delete(&xv);
  wasm_exporttype_vec_new_uninitialized(&xv, 1);
  CHECK(xv.size == 1, "uninitialized exporttype vec");
  wasm_exporttype_vec_delete(&xv);
  wasm_exporttype_delete(xt);

  wasm_globaltype_delete(gt);
  wasm_tabletype_delete(tt);
  wasm_memorytype_delete(mt);
  wasm_externtype_delete(NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Modules                                                                              */

static void test_module_errors(wasm_store_t* store) {
  wasm_byte_vec_t wasm;
  read_artifact("basic.wasm", &wasm);
  CHECK(wasm_module_new(store, &wasm) == NULL, "wasm bytes cannot be compiled here");
  CHECK_LAST_ERROR("precast compile");
  CHECK(!wasm_module_validate(store, &wasm), "nor validated");
  CHECK_LAST_ERROR("ahead of time");
  wasm_byte_vec_delete(&wasm);

  wasm_byte_vec_t bad;
  read_artifact("truncated.pcst", &bad);
  CHECK(wasm_module_deserialize(store, &bad) == NULL, "a truncated artifact is refused");
  CHECK_LAST_ERROR("artifact");
  wasm_byte_vec_delete(&bad);

  read_artifact("corrupt.pcst", &bad);
  CHECK(wasm_module_new(store, &bad) == NULL, "a corrupted artifact is refused");
  CHECK_LAST_ERROR("corrupted");
  CHECK(!wasm_module_validate(store, &bad), "and does not validate");
  CHECK_LAST_ERROR("corrupted");
  wasm_byte_vec_delete(&bad);

  wasm_byte_vec_new(&bad, 4, "junk");
  CHECK(wasm_module_new(store, &bad) == NULL, "junk is refused");
  CHECK_LAST_ERROR("not a Precast artifact");
  wasm_byte_vec_delete(&bad);
  CHECK(wasm_module_new(store, NULL) == NULL, "NULL bytes");
  CHECK_LAST_ERROR("NULL");
}

static wasm_module_t* load(wasm_store_t* store, const char* name) {
  wasm_byte_vec_t bytes;
  read_artifact(name, &bytes);
  CHECK(wasm_module_validate(store, &bytes), "%s validates", name);
  wasm_module_t* m = wasm_module_new(store, &bytes);
  CHECK(m != NULL, "%s loads", name);
  wasm_byte_vec_t again;
  wasm_module_serialize(m, &again);
  CHECK(again.size == bytes.size && memcmp(again.data, bytes.data, bytes.size) == 0,
        "serialize gives the artifact bytes back");
  wasm_byte_vec_delete(&again);
  wasm_byte_vec_delete(&bytes);
  return m;
}

static void test_module_reflection(wasm_module_t* m) {
  wasm_importtype_vec_t imports;
  wasm_module_imports(m, &imports);
  CHECK(imports.size == 3, "basic has 3 imports, not %zu", imports.size);
  CHECK(name_is(wasm_importtype_module(imports.data[0]), "env") &&
            name_is(wasm_importtype_name(imports.data[0]), "host_add"),
        "import 0 name");
  const wasm_functype_t* ft = wasm_externtype_as_functype_const(wasm_importtype_type(imports.data[0]));
  CHECK(ft != NULL && wasm_functype_params(ft)->size == 2 && wasm_functype_results(ft)->size == 1,
        "import 0 type");
  const wasm_globaltype_t* gt =
      wasm_externtype_as_globaltype_const(wasm_importtype_type(imports.data[2]));
  CHECK(gt != NULL && wasm_globaltype_mutability(gt) == WASM_VAR &&
            wasm_valtype_kind(wasm_globaltype_content(gt)) == WASM_I32,
        "import 2 is a mutable i32 global");
  wasm_importtype_vec_delete(&imports);

  wasm_exporttype_vec_t exports;
  wasm_module_exports(m, &exports);
  CHECK(exports.size == 22, "basic has 22 exports, not %zu", exports.size);
  size_t mem = export_index(m, "memory"), tab = export_index(m, "table");
  const wasm_memorytype_t* mt = wasm_externtype_as_memorytype_const(wasm_exporttype_type(exports.data[mem]));
  CHECK(mt != NULL && wasm_memorytype_limits(mt)->min == 1 && wasm_memorytype_limits(mt)->max == 3,
        "memory export type");
  const wasm_tabletype_t* tt = wasm_externtype_as_tabletype_const(wasm_exporttype_type(exports.data[tab]));
  CHECK(tt != NULL && wasm_tabletype_limits(tt)->min == 2 &&
            wasm_valtype_kind(wasm_tabletype_element(tt)) == WASM_FUNCREF,
        "table export type");
  const wasm_functype_t* mix =
      wasm_externtype_as_functype_const(wasm_exporttype_type(exports.data[export_index(m, "mix")]));
  CHECK(wasm_functype_params(mix)->size == 3 && wasm_functype_results(mix)->size == 2 &&
            wasm_valtype_kind(wasm_functype_results(mix)->data[1]) == WASM_I64,
        "mix's type");
  wasm_exporttype_vec_delete(&exports);
}

static void test_module_refs(wasm_engine_t* engine, wasm_store_t* store, wasm_module_t* m) {
  wasm_module_t* copy = wasm_module_copy(m);
  CHECK(copy != m && wasm_module_same(m, copy), "module copy is the same module");
  static int info;
  wasm_module_set_host_info(m, &info);
  CHECK(wasm_module_get_host_info(m) == &info, "module host info");
  wasm_module_set_host_info_with_finalizer(m, &info, count_finalizer);
  CHECK(wasm_module_get_host_info(copy) == &info, "copies share host info");
  wasm_ref_t* r = wasm_module_as_ref(copy);
  CHECK(wasm_ref_as_module(r) == copy && wasm_ref_as_func(r) == NULL, "module as ref");
  CHECK(wasm_ref_as_module_const(wasm_module_as_ref_const(copy)) == copy, "const module casts");

  /* Sharing: another store of the engine obtains the module. */
  wasm_shared_module_t* shared = wasm_module_share(m);
  CHECK(shared != NULL, "share");
  wasm_store_t* other = wasm_store_new(engine);
  wasm_module_t* obtained = wasm_module_obtain(other, shared);
  CHECK(obtained != NULL && wasm_module_same(obtained, m), "obtain");
  wasm_module_delete(obtained);
  wasm_engine_t* engine2 = wasm_engine_new();
  wasm_store_t* foreign_store = wasm_store_new(engine2);
  CHECK(wasm_module_obtain(foreign_store, shared) == NULL, "another engine cannot obtain it");
  CHECK_LAST_ERROR("another engine");
  wasm_shared_module_delete(shared);
  wasm_store_delete(foreign_store);
  wasm_engine_delete(engine2);
  wasm_store_delete(other);
  (void)store;

  int before = finalized;
  wasm_module_delete(copy);
  CHECK(finalized == before, "the module's host info lives while a handle does");
}

/* ------------------------------------------------------------------------------------ */
/* Instances and calls                                                                  */

static wasm_extern_vec_t exports;
static wasm_module_t* basic;

static wasm_extern_t* ex_(const char* name) { return exports.data[export_index(basic, name)]; }
static wasm_func_t* fn(const char* name) { return wasm_extern_as_func(ex_(name)); }

/* Calls `f` with i32 arguments; returns the trap (results in `out`). */
static wasm_trap_t* call_i32(wasm_func_t* f, int n, const int32_t* in, wasm_val_t* out, size_t nout) {
  wasm_val_t args[4];
  for (int i = 0; i < n; i++) {
    args[i].kind = WASM_I32;
    args[i].of.i32 = in[i];
  }
  wasm_val_vec_t a = {(size_t)n, args};
  wasm_val_vec_t r = {nout, out};
  return wasm_func_call(f, &a, &r);
}

static void test_calls(void) {
  wasm_val_t out[2] = {WASM_INIT_VAL, WASM_INIT_VAL};
  int32_t two_three[2] = {2, 3};
  CHECK(call_i32(fn("add"), 2, two_three, out, 1) == NULL, "add(2, 3)");
  CHECK(out[0].kind == WASM_I32 && out[0].of.i32 == 5, "add(2, 3) = 5, not %d", out[0].of.i32);

  /* The host import calls back into wasm's add. */
  int32_t a[2] = {20, 22};
  CHECK(call_i32(fn("call_host"), 2, a, out, 1) == NULL, "call_host");
  CHECK(out[0].of.i32 == 1042, "call_host(20, 22) = 1042, not %d", out[0].of.i32);

  /* i64, f32 and f64 in and out. */
  wasm_val_t mix_args[3] = {WASM_I64_VAL(0x100000000LL), WASM_F32_VAL(1.5f), WASM_F64_VAL(0.25)};
  wasm_val_vec_t ma = WASM_ARRAY_VEC(mix_args);
  wasm_val_vec_t mr = WASM_ARRAY_VEC(out);
  CHECK(wasm_func_call(fn("mix"), &ma, &mr) == NULL, "mix");
  CHECK(out[0].kind == WASM_F64 && out[0].of.f64 == 1.75, "mix result 0 = 1.75");
  CHECK(out[1].kind == WASM_I64 && out[1].of.i64 == 0x200000000LL, "mix result 1");

  /* A function reference returned by wasm is callable and the same as the table's. */
  int32_t zero = 0;
  CHECK(call_i32(fn("get_fn"), 1, &zero, out, 1) == NULL, "get_fn");
  CHECK(out[0].kind == WASM_FUNCREF && out[0].of.ref != NULL, "get_fn returns a funcref");
  wasm_func_t* inc = wasm_ref_as_func(out[0].of.ref);
  CHECK(inc != NULL && wasm_func_param_arity(inc) == 1 && wasm_func_result_arity(inc) == 1,
        "the reference is a function of one parameter and one result");
  wasm_ref_t* t0 = wasm_table_get(wasm_extern_as_table(ex_("table")), 0);
  CHECK(wasm_ref_same(t0, out[0].of.ref), "the same function as table[0]");
  wasm_ref_delete(t0);
  int32_t seven = 7;
  wasm_val_t r1[1] = {WASM_INIT_VAL};
  CHECK(call_i32(inc, 1, &seven, r1, 1) == NULL && r1[0].of.i32 == 8, "inc(7) = 8");
  wasm_val_delete(&out[0]);
  CHECK(out[0].of.ref == NULL, "a deleted value holds no reference");

  /* Indirect calls. */
  int32_t idx_arg[2] = {1, 21};
  CHECK(call_i32(fn("call_table"), 2, idx_arg, out, 1) == NULL && out[0].of.i32 == 42,
        "call_table(1, 21) = 42");
}

static void test_traps(void) {
  wasm_val_t out[1] = {WASM_INIT_VAL};
  int32_t div[2] = {7, 0};
  wasm_trap_t* t = call_i32(fn("divide"), 2, div, out, 1);
  CHECK(t != NULL, "divide by zero traps");
  wasm_message_t msg;
  wasm_trap_message(t, &msg);
  CHECK(msg.size == strlen("integer divide by zero") + 1 && msg.data[msg.size - 1] == 0 &&
            strcmp(msg.data, "integer divide by zero") == 0,
        "trap message \"%s\"", msg.data);
  wasm_name_delete(&msg);

  wasm_frame_t* origin = wasm_trap_origin(t);
  CHECK(origin != NULL, "the trap has an origin");
  CHECK(wasm_frame_func_index(origin) == 7, "the origin is divide (function 7), not %u",
        wasm_frame_func_index(origin));
  CHECK(wasm_frame_func_offset(origin) == 0, "no function offsets in AOT code");
  CHECK(wasm_frame_module_offset(origin) > 0, "the code offset of the frame");
  CHECK(wasm_frame_instance(origin) == NULL, "frames do not record instances");
  wasm_frame_t* fc = wasm_frame_copy(origin);
  CHECK(wasm_frame_func_index(fc) == 7, "frame copy");
  wasm_frame_delete(fc);

  wasm_frame_vec_t trace;
  wasm_trap_trace(t, &trace);
  CHECK(trace.size >= 1 && wasm_frame_func_index(trace.data[0]) == 7, "trace starts at divide");
  wasm_frame_vec_t trace2;
  wasm_frame_vec_copy(&trace2, &trace);
  CHECK(trace2.size == trace.size && trace2.data[0] != trace.data[0], "frame vec copy");
  wasm_frame_vec_delete(&trace2);
  wasm_frame_vec_delete(&trace);
  wasm_frame_vec_new(&trace, 1, &origin); /* takes the origin */
  CHECK(trace.size == 1, "frame vec new");
  wasm_frame_vec_delete(&trace);
  wasm_frame_vec_new_empty(&trace);
  CHECK(trace.size == 0, "empty frame vec");
  wasm_frame_vec_delete(&trace);
  wasm_frame_vec_new_uninitialized(&trace, 2);
  CHECK(trace.size == 2 && trace.data[1] == NULL, "uninitialized frame vec");
  wasm_frame_vec_delete(&trace);

  wasm_trap_t* tc = wasm_trap_copy(t);
  CHECK(wasm_trap_same(t, tc), "trap copy is the same trap");
  static int tinfo;
  wasm_trap_set_host_info(t, &tinfo);
  CHECK(wasm_trap_get_host_info(tc) == &tinfo, "trap host info");
  wasm_trap_set_host_info_with_finalizer(tc, &tinfo, count_finalizer);
  wasm_ref_t* tr = wasm_trap_as_ref(t);
  CHECK(wasm_ref_as_trap(tr) == t && wasm_ref_as_module(tr) == NULL, "trap as ref");
  CHECK(wasm_ref_as_trap_const(wasm_trap_as_ref_const(t)) == t, "const trap casts");
  wasm_trap_delete(tc);
  int before = finalized;
  wasm_trap_delete(t);
  CHECK(finalized == before + 1, "the trap's host info is finalized with its last handle");

  CHECK_TRAP(call_i32(fn("boom"), 0, NULL, NULL, 0), "unreachable");
  int32_t one = 1;
  CHECK_TRAP(call_i32(fn("recurse"), 1, &one, out, 1), "call stack exhausted");
  CHECK_TRAP(call_i32(fn("call_host_trap"), 0, NULL, NULL, 0), "host says no");
  int32_t idx[2] = {5, 1};
  CHECK_TRAP(call_i32(fn("call_table"), 2, idx, out, 1), "undefined element");

  /* Calls the embedder gets wrong are traps too. */
  CHECK_TRAP(call_i32(fn("add"), 1, &one, out, 1), "takes 2 arguments");
  CHECK_TRAP(call_i32(fn("add"), 2, div, out, 0), "returns 1 results");
  wasm_val_t f[2] = {WASM_F32_VAL(1.0f), WASM_I32_VAL(1)};
  wasm_val_vec_t fa = WASM_ARRAY_VEC(f);
  wasm_val_vec_t fr = {1, out};
  CHECK_TRAP(wasm_func_call(fn("add"), &fa, &fr), "kind f32 where i32 is expected");
  wasm_val_t v[1] = {WASM_I32_VAL(0)};
  wasm_val_vec_t va = WASM_ARRAY_VEC(v);
  CHECK_TRAP(wasm_func_call(fn("v128_fn"), &va, &fr), "v128");
  CHECK_TRAP(wasm_func_call(NULL, NULL, NULL), "NULL");

  /* wasm_trap_new: a message, no frames. */
  wasm_message_t m;
  wasm_name_new_from_string_nt(&m, "made by hand");
  wasm_trap_t* mine = wasm_trap_new(trap_store, &m);
  wasm_name_delete(&m);
  wasm_trap_message(mine, &m);
  CHECK(strcmp(m.data, "made by hand") == 0, "wasm_trap_new message");
  wasm_name_delete(&m);
  CHECK(wasm_trap_origin(mine) == NULL, "no origin");
  wasm_trap_delete(mine);
}

static void test_globals(wasm_global_t* g_in) {
  wasm_global_t* counter = wasm_extern_as_global(ex_("counter"));
  wasm_val_t v;
  wasm_global_get(counter, &v);
  CHECK(v.kind == WASM_I32 && v.of.i32 == 5, "counter = 5");
  wasm_val_t nine = WASM_I32_VAL(9);
  wasm_global_set(counter, &nine);
  wasm_global_get(counter, &v);
  CHECK(v.of.i32 == 9, "counter set to 9");

  wasm_global_t* pi = wasm_extern_as_global(ex_("pi"));
  wasm_global_get(pi, &v);
  CHECK(v.kind == WASM_F64 && v.of.f64 == 3.5, "pi = 3.5");
  wasm_val_t other = WASM_F64_VAL(3.0);
  wasm_global_set(pi, &other);
  CHECK_LAST_ERROR("immutable");
  wasm_global_get(wasm_extern_as_global(ex_("big")), &v);
  CHECK(v.kind == WASM_I64 && v.of.i64 == 0x123456789LL, "big");
  wasm_global_set(counter, &other);
  CHECK_LAST_ERROR("where i32 is expected");

  wasm_globaltype_t* gt = wasm_global_type(pi);
  CHECK(wasm_globaltype_mutability(gt) == WASM_CONST &&
            wasm_valtype_kind(wasm_globaltype_content(gt)) == WASM_F64,
        "pi's type");
  wasm_globaltype_delete(gt);

  /* The imported global is shared with wasm. */
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call_i32(fn("read_g_in"), 0, NULL, out, 1) == NULL && out[0].of.i32 == 40, "g_in = 40");
  CHECK(call_i32(fn("bump_g_in"), 0, NULL, NULL, 0) == NULL, "bump");
  wasm_global_get(g_in, &v);
  CHECK(v.of.i32 == 41, "wasm's write is seen by the host");

  /* An externref global holds a foreign object. */
  wasm_foreign_t* foreign = wasm_foreign_new(trap_store);
  wasm_val_t fv = WASM_REF_VAL(wasm_foreign_as_ref(foreign));
  wasm_global_t* eg = wasm_extern_as_global(ex_("ext_global"));
  wasm_global_set(eg, &fv);
  wasm_global_get(eg, &v);
  CHECK(v.kind == WASM_EXTERNREF && v.of.ref != NULL &&
            wasm_foreign_same(wasm_ref_as_foreign(v.of.ref), foreign),
        "the externref global gives the foreign object back");
  wasm_val_t vc;
  wasm_val_copy(&vc, &v);
  CHECK(vc.of.ref != v.of.ref && wasm_ref_same(vc.of.ref, v.of.ref), "val copy copies the ref");
  wasm_val_delete(&vc);
  wasm_val_delete(&v);
  wasm_foreign_delete(foreign);
}

static void test_tables(void) {
  wasm_table_t* t = wasm_extern_as_table(ex_("table"));
  CHECK(wasm_table_size(t) == 2, "table size 2");
  CHECK(wasm_table_get(t, 100) == NULL, "out of bounds get is NULL");
  CHECK_LAST_ERROR("out of bounds");
  CHECK(wasm_table_grow(t, 3, NULL), "grow by 3");
  CHECK(wasm_table_size(t) == 5, "table size 5");
  CHECK(wasm_table_get(t, 4) == NULL, "new elements are null");
  wasm_tabletype_t* tt = wasm_table_type(t);
  CHECK(wasm_tabletype_limits(tt)->min == 5 && wasm_tabletype_limits(tt)->max == 10,
        "the type has the current size");
  wasm_tabletype_delete(tt);
  CHECK(!wasm_table_grow(t, 20, NULL), "cannot grow past the maximum");
  CHECK_LAST_ERROR("grow");

  wasm_ref_t* dbl = wasm_table_get(t, 1);
  CHECK(wasm_table_set(t, 4, dbl), "set element 4");
  int32_t idx_arg[2] = {4, 8};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call_i32(fn("call_table"), 2, idx_arg, out, 1) == NULL && out[0].of.i32 == 16,
        "call_table(4, 8) = 16");
  CHECK(!wasm_table_set(t, 50, dbl), "set out of bounds");
  CHECK_LAST_ERROR("out of bounds");
  wasm_foreign_t* f = wasm_foreign_new(trap_store);
  CHECK(!wasm_table_set(t, 0, wasm_foreign_as_ref(f)), "a foreign object is no function");
  CHECK_LAST_ERROR("wasm_func_t");
  wasm_foreign_delete(f);
  CHECK(wasm_table_set(t, 4, NULL), "set null");
  CHECK_TRAP(call_i32(fn("call_table"), 2, idx_arg, out, 1), "uninitialized element");
  wasm_ref_delete(dbl);
}

static void test_memory(void) {
  wasm_memory_t* m = wasm_extern_as_memory(ex_("memory"));
  CHECK(wasm_memory_size(m) == 1, "one page");
  CHECK(wasm_memory_data_size(m) == MEMORY_PAGE_SIZE, "64 KiB");
  byte_t* data = wasm_memory_data(m);
  CHECK(data != NULL && memcmp(data + 16, "precast", 7) == 0, "the data segment");
  data[100] = 77;
  int32_t at = 100;
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call_i32(fn("peek"), 1, &at, out, 1) == NULL && out[0].of.i32 == 77,
        "wasm reads what the host wrote");
  CHECK(wasm_memory_grow(m, 1), "grow");
  CHECK(wasm_memory_size(m) == 2 && wasm_memory_data_size(m) == 2 * MEMORY_PAGE_SIZE, "2 pages");
  CHECK(call_i32(fn("mem_pages"), 0, NULL, out, 1) == NULL && out[0].of.i32 == 2,
        "wasm sees 2 pages");
  CHECK(!wasm_memory_grow(m, 5), "cannot grow past the maximum");
  CHECK_LAST_ERROR("grow");
  wasm_memorytype_t* mt = wasm_memory_type(m);
  CHECK(wasm_memorytype_limits(mt)->min == 2 && wasm_memorytype_limits(mt)->max == 3,
        "memory type");
  wasm_memorytype_delete(mt);
  CHECK(wasm_memory_data(NULL) == NULL, "NULL memory");
  CHECK_LAST_ERROR("NULL");
}

static void test_externrefs(void) {
  wasm_foreign_t* f = wasm_foreign_new(trap_store);
  wasm_val_t args[1] = {WASM_REF_VAL(wasm_foreign_as_ref(f))};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  wasm_val_vec_t a = WASM_ARRAY_VEC(args);
  wasm_val_vec_t r = WASM_ARRAY_VEC(out);
  CHECK(wasm_func_call(fn("echo_ext"), &a, &r) == NULL, "echo_ext");
  CHECK(out[0].kind == WASM_EXTERNREF && out[0].of.ref != NULL, "an externref comes back");
  CHECK(wasm_foreign_same(wasm_ref_as_foreign(out[0].of.ref), f), "the same foreign object");
  wasm_val_delete(&out[0]);

  /* A function passed as an externref comes back as that function. */
  args[0].of.ref = wasm_func_as_ref(fn("add"));
  CHECK(wasm_func_call(fn("echo_ext"), &a, &r) == NULL, "echo_ext(func)");
  CHECK(wasm_func_same(wasm_ref_as_func(out[0].of.ref), fn("add")), "the same function");
  wasm_val_delete(&out[0]);

  args[0].of.ref = NULL;
  CHECK(wasm_func_call(fn("is_null_ext"), &a, &r) == NULL && out[0].of.i32 == 1, "null");
  args[0].of.ref = wasm_foreign_as_ref(f);
  CHECK(wasm_func_call(fn("is_null_ext"), &a, &r) == NULL && out[0].of.i32 == 0, "not null");

  /* Foreign objects: copies, host info, casts. */
  wasm_foreign_t* fc = wasm_foreign_copy(f);
  CHECK(fc != f && wasm_foreign_same(f, fc), "foreign copy");
  static int info;
  wasm_foreign_set_host_info(f, &info);
  CHECK(wasm_foreign_get_host_info(fc) == &info, "foreign host info");
  wasm_foreign_set_host_info_with_finalizer(f, &info, count_finalizer);
  CHECK(wasm_ref_as_foreign(wasm_foreign_as_ref(f)) == f, "foreign as ref");
  CHECK(wasm_ref_as_foreign_const(wasm_foreign_as_ref_const(f)) == f, "const foreign casts");
  CHECK(wasm_ref_as_trap(wasm_foreign_as_ref(f)) == NULL, "a foreign object is no trap");
  wasm_foreign_t* other = wasm_foreign_new(trap_store);
  CHECK(!wasm_foreign_same(f, other), "two foreign objects differ");
  wasm_foreign_delete(other);
  wasm_foreign_delete(fc);
  wasm_foreign_delete(f); /* the store still holds it: it was passed to wasm */
}

static void test_extern_refs(wasm_func_t* host) {
  wasm_extern_t* e = wasm_func_as_extern(host);
  CHECK((void*)e == (void*)host && wasm_extern_kind(e) == WASM_EXTERN_FUNC, "func as extern");
  CHECK(wasm_extern_as_func(e) == host && wasm_extern_as_global(e) == NULL &&
            wasm_extern_as_table(e) == NULL && wasm_extern_as_memory(e) == NULL,
        "extern casts");
  CHECK(wasm_extern_as_func_const(wasm_func_as_extern_const(host)) == host, "const casts");
  wasm_externtype_t* et = wasm_extern_type(e);
  CHECK(wasm_externtype_kind(et) == WASM_EXTERN_FUNC &&
            wasm_functype_params(wasm_externtype_as_functype(et))->size == 2,
        "extern type");
  wasm_externtype_delete(et);
  wasm_functype_t* ft = wasm_func_type(host);
  CHECK(wasm_functype_params(ft)->size == 2 && wasm_functype_results(ft)->size == 1, "func type");
  wasm_functype_delete(ft);

  wasm_global_t* g = wasm_extern_as_global(ex_("counter"));
  CHECK(wasm_extern_kind(wasm_global_as_extern(g)) == WASM_EXTERN_GLOBAL, "global kind");
  CHECK(wasm_extern_as_global_const(wasm_global_as_extern_const(g)) == g, "global casts");
  wasm_table_t* t = wasm_extern_as_table(ex_("table"));
  CHECK(wasm_extern_kind(wasm_table_as_extern(t)) == WASM_EXTERN_TABLE, "table kind");
  CHECK(wasm_extern_as_table_const(wasm_table_as_extern_const(t)) == t, "table casts");
  wasm_memory_t* m = wasm_extern_as_memory(ex_("memory"));
  CHECK(wasm_extern_kind(wasm_memory_as_extern(m)) == WASM_EXTERN_MEMORY, "memory kind");
  CHECK(wasm_extern_as_memory_const(wasm_memory_as_extern_const(m)) == m, "memory casts");
  et = wasm_extern_type(wasm_memory_as_extern(m));
  CHECK(wasm_externtype_as_memorytype(et) != NULL, "memory extern type");
  wasm_externtype_delete(et);

  /* Copies, sameness, host info and ref casts, for each kind. */
  static int info[6];
  wasm_func_t* fcopy = wasm_func_copy(host);
  CHECK(wasm_func_same(fcopy, host), "func copy");
  wasm_func_set_host_info_with_finalizer(host, &info[0], count_finalizer);
  CHECK(wasm_func_get_host_info(fcopy) == &info[0], "func host info");
  wasm_func_set_host_info(fcopy, &info[0]);
  CHECK(wasm_ref_as_func(wasm_func_as_ref(host)) == host, "func ref casts");
  CHECK(wasm_ref_as_func_const(wasm_func_as_ref_const(host)) == host, "const func ref casts");
  wasm_func_delete(fcopy);

  wasm_global_t* gcopy = wasm_global_copy(g);
  CHECK(wasm_global_same(gcopy, g) && !wasm_global_same(g, wasm_extern_as_global(ex_("pi"))),
        "global copy");
  wasm_global_set_host_info(g, &info[1]);
  wasm_global_set_host_info_with_finalizer(gcopy, &info[1], count_finalizer);
  CHECK(wasm_global_get_host_info(g) == &info[1], "global host info");
  CHECK(wasm_ref_as_global(wasm_global_as_ref(g)) == g, "global ref casts");
  CHECK(wasm_ref_as_global_const(wasm_global_as_ref_const(g)) == g, "const global ref casts");
  wasm_global_delete(gcopy);

  wasm_table_t* tcopy = wasm_table_copy(t);
  CHECK(wasm_table_same(tcopy, t), "table copy");
  wasm_table_set_host_info(t, &info[2]);
  wasm_table_set_host_info_with_finalizer(tcopy, &info[2], count_finalizer);
  CHECK(wasm_table_get_host_info(t) == &info[2], "table host info");
  CHECK(wasm_ref_as_table(wasm_table_as_ref(t)) == t, "table ref casts");
  CHECK(wasm_ref_as_table_const(wasm_table_as_ref_const(t)) == t, "const table ref casts");
  wasm_table_delete(tcopy);

  wasm_memory_t* mcopy = wasm_memory_copy(m);
  CHECK(wasm_memory_same(mcopy, m), "memory copy");
  wasm_memory_set_host_info(m, &info[3]);
  wasm_memory_set_host_info_with_finalizer(mcopy, &info[3], count_finalizer);
  CHECK(wasm_memory_get_host_info(m) == &info[3], "memory host info");
  CHECK(wasm_ref_as_memory(wasm_memory_as_ref(m)) == m, "memory ref casts");
  CHECK(wasm_ref_as_memory_const(wasm_memory_as_ref_const(m)) == m, "const memory ref casts");
  wasm_memory_delete(mcopy);

  wasm_extern_t* ecopy = wasm_extern_copy(e);
  CHECK(wasm_extern_same(ecopy, e), "extern copy");
  CHECK(wasm_extern_get_host_info(ecopy) == &info[0], "an extern shares its function's info");
  wasm_extern_set_host_info(ecopy, &info[0]);
  wasm_extern_set_host_info_with_finalizer(ecopy, &info[0], count_finalizer);
  CHECK(wasm_ref_as_extern(wasm_extern_as_ref(e)) == e, "extern ref casts");
  CHECK(wasm_ref_as_extern_const(wasm_extern_as_ref_const(e)) == e, "const extern ref casts");
  wasm_extern_delete(ecopy);

  /* wasm_ref_* on any reference. */
  wasm_ref_t* r = wasm_ref_copy(wasm_func_as_ref(host));
  CHECK(wasm_ref_same(r, wasm_func_as_ref(host)) && wasm_ref_same(NULL, NULL) &&
            !wasm_ref_same(r, NULL),
        "ref copy and same");
  CHECK(wasm_ref_get_host_info(r) == &info[0], "ref host info");
  wasm_ref_set_host_info(r, &info[0]);
  wasm_ref_set_host_info_with_finalizer(r, &info[0], count_finalizer);
  wasm_ref_delete(r);

  /* Extern vectors. */
  wasm_extern_vec_t v, c;
  wasm_extern_vec_new_empty(&v);
  CHECK(v.size == 0, "empty extern vec");
  wasm_extern_vec_delete(&v);
  wasm_extern_vec_new_uninitialized(&v, 2);
  CHECK(v.size == 2 && v.data[0] == NULL, "uninitialized extern vec");
  v.data[0] = wasm_extern_copy(e);
  wasm_extern_vec_copy(&c, &v);
  CHECK(c.size == 2 && wasm_extern_same(c.data[0], e) && c.data[1] == NULL, "extern vec copy");
  wasm_extern_vec_delete(&v);
  wasm_extern_vec_delete(&c);
  wasm_extern_t* one = wasm_extern_copy(e);
  wasm_extern_vec_new(&v, 1, &one);
  CHECK(v.size == 1 && v.data[0] == one, "extern vec new");
  wasm_extern_vec_delete(&v);
}

static void test_instance_refs(wasm_instance_t* inst) {
  wasm_instance_t* c = wasm_instance_copy(inst);
  CHECK(wasm_instance_same(c, inst), "instance copy");
  static int info;
  wasm_instance_set_host_info(inst, &info);
  CHECK(wasm_instance_get_host_info(c) == &info, "instance host info");
  wasm_instance_set_host_info_with_finalizer(c, &info, count_finalizer);
  CHECK(wasm_ref_as_instance(wasm_instance_as_ref(inst)) == inst, "instance ref casts");
  CHECK(wasm_ref_as_instance_const(wasm_instance_as_ref_const(inst)) == inst, "const casts");
  CHECK(wasm_ref_as_extern(wasm_instance_as_ref(inst)) == NULL, "an instance is no extern");
  wasm_instance_delete(c);
}

/* The imports module with a host memory and table. */
static void test_host_entities(wasm_store_t* store) {
  wasm_module_t* m = load(store, "imports.pcst");
  wasm_limits_t ml = {1, 4};
  wasm_memorytype_t* mt = wasm_memorytype_new(&ml);
  wasm_memory_t* mem = wasm_memory_new(store, mt);
  wasm_memorytype_delete(mt);
  CHECK(mem != NULL && wasm_memory_size(mem) == 1, "host memory");
  wasm_memory_data(mem)[5] = 55;

  wasm_limits_t tl = {3, 8};
  wasm_tabletype_t* tt = wasm_tabletype_new(wasm_valtype_new_funcref(), &tl);
  wasm_ref_t* inc = wasm_table_get(wasm_extern_as_table(ex_("table")), 0);
  wasm_table_t* tab = wasm_table_new(store, tt, inc);
  wasm_tabletype_delete(tt);
  CHECK(tab != NULL && wasm_table_size(tab) == 3, "host table");

  wasm_extern_t* items[2] = {wasm_memory_as_extern(mem), wasm_table_as_extern(tab)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(items);
  wasm_trap_t* trap = NULL;
  wasm_instance_t* inst = wasm_instance_new(store, m, &imports, &trap);
  CHECK(inst != NULL && trap == NULL, "instantiate with host memory and table");
  wasm_extern_vec_t ex;
  wasm_instance_exports(inst, &ex);
  CHECK(ex.size == 3, "3 exports");
  int32_t five = 5;
  wasm_val_t out[1] = {WASM_INIT_VAL};
  CHECK(call_i32(wasm_extern_as_func(ex.data[0]), 1, &five, out, 1) == NULL && out[0].of.i32 == 55,
        "wasm reads the host memory");
  CHECK(call_i32(wasm_extern_as_func(ex.data[1]), 0, NULL, out, 1) == NULL && out[0].of.i32 == 3,
        "wasm sees the host table");
  int32_t forty = 40;
  CHECK(call_i32(wasm_extern_as_func(ex.data[2]), 1, &forty, out, 1) == NULL && out[0].of.i32 == 41,
        "wasm calls basic's inc through the host table");

  /* Wrong imports: a missing one, and one of the wrong kind. */
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  CHECK(wasm_instance_new(store, m, &none, &trap) == NULL, "missing imports");
  CHECK_TRAP(trap, "imports");
  CHECK_LAST_ERROR("imports");
  wasm_extern_t* swapped[2] = {wasm_table_as_extern(tab), wasm_memory_as_extern(mem)};
  wasm_extern_vec_t bad = WASM_ARRAY_VEC(swapped);
  CHECK(wasm_instance_new(store, m, &bad, NULL) == NULL, "imports of the wrong kind");
  CHECK_LAST_ERROR("incompatible import");

  /* Host entity construction errors. */
  wasm_globaltype_t* gt = wasm_globaltype_new(wasm_valtype_new_i32(), WASM_CONST);
  wasm_val_t wrong = WASM_F32_VAL(1.0f);
  CHECK(wasm_global_new(store, gt, &wrong) == NULL, "a global of the wrong value");
  CHECK_LAST_ERROR("where i32 is expected");
  wasm_globaltype_delete(gt);
  CHECK(wasm_table_new(store, NULL, NULL) == NULL, "a table without type");
  CHECK_LAST_ERROR("table type");
  CHECK(wasm_memory_new(NULL, NULL) == NULL, "a memory without store");
  CHECK_LAST_ERROR("NULL");

  wasm_extern_vec_delete(&ex);
  wasm_instance_delete(inst);
  wasm_ref_delete(inc);
  wasm_memory_delete(mem);
  wasm_table_delete(tab);
  wasm_module_delete(m);
}

int main(int argc, char** argv) {
  if (argc > 1) artifacts_dir = argv[1];
  test_byte_and_val_vectors();
  test_valtypes();
  test_functypes();
  test_other_types();

  wasm_config_t* config = wasm_config_new();
  CHECK(config != NULL, "config");
  wasm_config_delete(wasm_config_new());
  wasm_engine_t* engine = wasm_engine_new_with_config(config);
  CHECK(engine != NULL, "engine");
  wasm_store_t* store = wasm_store_new(engine);
  CHECK(store != NULL, "store");
  trap_store = store;

  test_module_errors(store);
  basic = load(store, "basic.pcst");
  test_module_reflection(basic);
  test_module_refs(engine, store, basic);

  /* Imports: host_add (with env, calling back into wasm), host_trap, a mutable global. */
  struct add_env env = {NULL, 0};
  wasm_functype_t* add_ty = wasm_functype_new_2_1(wasm_valtype_new_i32(), wasm_valtype_new_i32(),
                                                  wasm_valtype_new_i32());
  wasm_func_t* host_add_f = wasm_func_new_with_env(store, add_ty, host_add, &env, count_finalizer);
  CHECK(host_add_f != NULL && wasm_func_param_arity(host_add_f) == 2, "host function with env");
  wasm_functype_t* unit = wasm_functype_new_0_0();
  wasm_func_t* host_trap_f = wasm_func_new(store, unit, host_trap);
  CHECK(host_trap_f != NULL && wasm_func_result_arity(host_trap_f) == 0, "host function");
  CHECK(wasm_func_new(store, unit, NULL) == NULL, "no callback");
  CHECK_LAST_ERROR("callback is NULL");
  int before = finalized;
  CHECK(wasm_func_new_with_env(NULL, unit, host_add, &env, count_finalizer) == NULL, "no store");
  CHECK(finalized == before + 1, "the environment of a function not made is finalized");
  CHECK_LAST_ERROR("NULL");
  wasm_globaltype_t* g_ty = wasm_globaltype_new(wasm_valtype_new_i32(), WASM_VAR);
  wasm_val_t forty = WASM_I32_VAL(40);
  wasm_global_t* g_in = wasm_global_new(store, g_ty, &forty);
  CHECK(g_in != NULL, "host global");

  /* Calling the host function directly, before any module of its type is instantiated. */
  wasm_val_t hargs[2] = {WASM_I32_VAL(1), WASM_I32_VAL(2)};
  wasm_val_t hres[1] = {WASM_INIT_VAL};
  wasm_val_vec_t ha = WASM_ARRAY_VEC(hargs);
  wasm_val_vec_t hr = WASM_ARRAY_VEC(hres);
  CHECK(wasm_func_call(host_add_f, &ha, &hr) == NULL && hres[0].of.i32 == 3, "host call 1+2");

  wasm_extern_t* imp[3] = {wasm_func_as_extern(host_add_f), wasm_func_as_extern(host_trap_f),
                           wasm_global_as_extern(g_in)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(imp);
  wasm_trap_t* trap = (wasm_trap_t*)1;
  wasm_instance_t* inst = wasm_instance_new(store, basic, &imports, &trap);
  CHECK(inst != NULL && trap == NULL, "instantiate basic");
  wasm_instance_exports(inst, &exports);
  CHECK(exports.size == 22, "22 exports");
  env.add = fn("add");

  test_calls();
  CHECK(env.calls == 2, "host_add ran twice, not %d", env.calls);
  test_traps();
  test_globals(g_in);
  test_tables();
  test_memory();
  test_externrefs();
  test_extern_refs(host_add_f);
  test_instance_refs(inst);
  test_host_entities(store);

  /* A start function that traps. */
  wasm_module_t* st = load(store, "start_trap.pcst");
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  CHECK(wasm_instance_new(store, st, &none, &trap) == NULL, "start trap");
  CHECK_TRAP(trap, "unreachable");
  wasm_module_delete(st);

  /* Freeing: every finalizer runs once the store and its last objects are gone. */
  before = finalized;
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(inst);
  wasm_func_delete(host_add_f);
  wasm_func_delete(host_trap_f);
  wasm_global_delete(g_in);
  wasm_functype_delete(add_ty);
  wasm_functype_delete(unit);
  wasm_globaltype_delete(g_ty);
  wasm_store_delete(store);
  /* The function environment, the host infos of func (set 3 times, same pointer), global,
   * table, memory, instance, and the foreign object kept by the store as an externref. */
  CHECK(finalized == before + 7, "%d finalizers ran, expected 7", finalized - before);
  before = finalized;
  wasm_module_delete(basic);
  CHECK(finalized == before + 1, "the module's host info is finalized with its last handle");
  wasm_engine_delete(engine);
  wasm_engine_delete(wasm_engine_new());

  printf("%d checks passed\n", checks_passed);
  return 0;
}
