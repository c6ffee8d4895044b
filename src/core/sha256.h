/*
 * SHA-256 (FIPS 180-4), used where sparsify needs a strong identity of bytes:
 * the model and data list a checkpoint belongs to, and the calibration stats
 * digest the determinism tests compare. No installed library linked by
 * sparsify provides it, and it is short.
 */
#ifndef SPARSIFY_CORE_SHA256_H
#define SPARSIFY_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sp_sha256 {
    uint32_t h[8];
    uint64_t len;      /* bytes hashed so far */
    uint8_t buf[64];
    size_t fill;
};

void sp_sha256_init(struct sp_sha256 *s);
void sp_sha256_update(struct sp_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; `s` must be re-initialized before reuse. */
void sp_sha256_final(struct sp_sha256 *s, uint8_t out[32]);
/* 64 lowercase hex digits and a NUL. */
void sp_sha256_hex(const uint8_t d[32], char hex[65]);

#endif
