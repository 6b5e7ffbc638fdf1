/* passes/passes_internal.h: what the passes share with each other (walking blocks, recognizing
 * constants, replacing values); private to passes/. */
#ifndef CT_PASSES_INTERNAL_H
#define CT_PASSES_INTERNAL_H

#include <stdbool.h>

#include "ir.h"
#include "pass.h"

/* True for a `constant` node without data: every element equals `value`. */
bool pass_is_splat(const ct_node *n);
/* When v is defined by a splat constant (any shape) or a one-element constant, its value. */
bool pass_const_value(const ct_value *v, double *out);
/* When v is a constant whose every element equals want. */
bool pass_const_is(const ct_value *v, double want);
/* Replaces every use of n's only result with `with`, then erases n. */
void pass_replace_node(ct_node *n, ct_value *with);
/* Attributes equal (same names, kinds and values, in the same order). */
bool pass_attrs_equal(const ct_node *a, const ct_node *b);
/* Calls fn on every block of g: the body first, then nested bodies (pre-order). */
void pass_for_each_block(ct_graph *g, void (*fn)(ct_block *b, void *ctx), void *ctx);
/* Bytes of one element of dt. */
int64_t pass_dtype_size(ct_dtype dt);
/* Element count of t under bind (symbols evaluated). */
int64_t pass_numel_at(const ct_type *t, const int64_t *bind);
/* The module's symbols bound from a pass's arguments: bind[s] = value of "NAME=v" (default
 * dflt) for every symbol s of m. bind must hold 64 entries. Fails on a malformed value. */
ct_status pass_binding(const ct_module *m, const ct_pass_args *args, int64_t dflt, int64_t *bind,
                       const char *pass, ct_diag *diag);
/* Counts the nodes of g, nested bodies included (return nodes excluded). */
int pass_count_nodes(const ct_graph *g);

#endif
