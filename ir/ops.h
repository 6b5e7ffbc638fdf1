/* ir/ops.h: the op enum and the op info table, expanded from ops.def. Plain data shared by every
 * stage, the runtime's kernel table included; it declares no IR structure. */
#ifndef CTORCH_OPS_H
#define CTORCH_OPS_H

#include "ctorch/types.h"

typedef enum ct_op {
#define OP(id, name, cls, min_in, max_in, n_out, flags, attrs) CT_OP_##id,
#include "ops.def"
#undef OP
  CT_OP_COUNT
} ct_op;

typedef enum ct_op_class {
  CT_OPC_SOURCE,
  CT_OPC_ELEMENTWISE,
  CT_OPC_REDUCTION,
  CT_OPC_SHAPE,
  CT_OPC_LIBRARY,
  CT_OPC_CONTROL
} ct_op_class;

enum {
  CT_OPF_DIFF = 1u << 0,    /* has a derivative rule */
  CT_OPF_COMMUTE = 1u << 1, /* binary and commutative */
  CT_OPF_BOOLOUT = 1u << 2, /* result dtype is bool */
  CT_OPF_NOGRAD = 1u << 3,  /* results never carry gradient */
  CT_OPF_BODY = 1u << 4     /* holds a nested block */
};

/* One attribute of an op's schema, parsed from the attrs string of ops.def. */
typedef struct ct_attr_spec {
  const char *name;
  ct_attr_kind kind;
  int has_default;
  ct_attr dflt; /* valid when has_default; arrays point into static storage */
} ct_attr_spec;

typedef struct ct_op_info {
  const char *name;
  ct_op_class cls;
  int min_in, max_in; /* max_in -1: variadic */
  int n_out;          /* -1: variadic */
  unsigned flags;
  const char *attrs;  /* the schema string as written in ops.def */
} ct_op_info;

extern const ct_op_info ct_op_table[CT_OP_COUNT];

static inline const char *ct_op_name(ct_op op) {
  return (unsigned)op < CT_OP_COUNT ? ct_op_table[op].name : "?";
}
/* Looks an op up by its IR name; returns CT_OP_COUNT when unknown. */
ct_op ct_op_lookup(const char *name, size_t len);
/* The parsed attribute schema of op: *n_specs entries, in schema order. Thread-safe after the
 * first call returns (the table is built once, at first use). */
const ct_attr_spec *ct_op_attr_specs(ct_op op, int *n_specs);
/* Index of attribute name in op's schema, or -1. */
int ct_op_attr_index(ct_op op, const char *name);

#endif
