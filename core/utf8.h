/* UTF-8 helpers: strict validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
#ifndef MLXC_UTF8_H
#define MLXC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns the length of the longest valid UTF-8 prefix of s[0..n); equal to n when all of s is valid. */
size_t mlxc_utf8_valid_prefix(const char *s, size_t n);

/* 1 if s[0..n) is valid UTF-8. */
static inline int mlxc_utf8_valid(const char *s, size_t n) { return mlxc_utf8_valid_prefix(s, n) == n; }

/* Decodes one code point at s[0..n). Returns its byte length (1..4) and stores it in *cp; on an invalid
 * or truncated sequence returns 0. */
int mlxc_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Encodes cp into out (4 bytes of room); returns the byte length, 0 for an invalid code point. */
int mlxc_utf8_encode(uint32_t cp, char *out);

#endif
