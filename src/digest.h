/* digest: the SHA-256 of a token, in the form PostgreSQL reads as a bytea
 * parameter. Tokens never reach PostgreSQL in clear: the database keeps
 * auth_tokens.token_sha256 (migration 0007) and the server sends only the
 * digest, so statement logs (pgaudit's log_parameter, log_statement,
 * auto_explain) never hold a token. OpenSSL's libcrypto computes it (the
 * binary loads it already, through libpq and libcurl). Thread-safe. */
#ifndef GANOMEDE_DIGEST_H
#define GANOMEDE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

/* "\x" and 64 lower-case hex digits, and the NUL. */
#define DIGEST_PARAM_SIZE 67

/* Writes the SHA-256 of TOKEN's bytes into OUT as "\x<64 hex digits>".
 * False (OUT then "") only when libcrypto fails (out of memory). */
__attribute__((warn_unused_result))
bool digest_token_param(const char *token, char out[DIGEST_PARAM_SIZE]);

/* The same for the LEN bytes of DATA (a request body, for its
 * Idempotency-Key). */
__attribute__((warn_unused_result))
bool digest_bytes_param(const void *data, size_t len, char out[DIGEST_PARAM_SIZE]);

#endif
