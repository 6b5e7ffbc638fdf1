/* runtime/package_internal.h: little-endian field access shared by the .ctm reader and writer
 * (runtime/package.c, runtime/package_write.c). */
#ifndef CT_PACKAGE_INTERNAL_H
#define CT_PACKAGE_INTERNAL_H

#include <stdint.h>

static inline uint32_t ct_pkg_rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ct_pkg_rd64(const uint8_t *p) {
  return (uint64_t)ct_pkg_rd32(p) | (uint64_t)ct_pkg_rd32(p + 4) << 32;
}
static inline void ct_pkg_wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ct_pkg_wr64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

#endif
