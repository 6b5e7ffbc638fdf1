/* ir/arena.c: the bump allocator every IR object lives in; freed all at once with its module. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

typedef struct chunk {
  struct chunk *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
} chunk;

struct ct_arena {
  chunk *head;
};

enum { CHUNK_MIN = 64 * 1024 };

ct_arena *ct_arena_new(void) {
  ct_arena *a = calloc(1, sizeof *a);
  if (!a) abort();
  return a;
}

void ct_arena_free(ct_arena *a) {
  if (!a) return;
  for (chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(a);
}

void *ct_arena_alloc(ct_arena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  chunk *c = a->head;
  if (!c || c->size - c->used < size) {
    size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
    c = malloc(sizeof *c + cap);
    if (!c) abort();
    c->size = cap;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

char *ct_arena_strndup(ct_arena *a, const char *s, size_t n) {
  char *r = ct_arena_alloc(a, n + 1);
  memcpy(r, s, n);
  r[n] = 0;
  return r;
}

char *ct_arena_strdup(ct_arena *a, const char *s) { return ct_arena_strndup(a, s, strlen(s)); }

void *ct_arena_memdup(ct_arena *a, const void *p, size_t size) {
  void *r = ct_arena_alloc(a, size);
  if (size) memcpy(r, p, size);
  return r;
}
