/* digest: SHA-256 through OpenSSL's EVP interface. */
#include "digest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static void digest_fetch(void);

static pthread_once_t digest_once = PTHREAD_ONCE_INIT;
/* Fetched once: OpenSSL 3 would otherwise look the algorithm up (under a
 * lock) on every call. Kept for the life of the process. */
static EVP_MD *digest_sha256;

static void digest_fetch(void)
{
    digest_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

bool digest_token_param(const char *token, char out[DIGEST_PARAM_SIZE])
{
    return digest_bytes_param(token, strlen(token), out);
}

bool digest_bytes_param(const void *data, size_t size, char out[DIGEST_PARAM_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    out[0] = '\0';
    pthread_once(&digest_once, digest_fetch);
    if (!digest_sha256 || !EVP_Digest(data, size, md, &len, digest_sha256, NULL) || len != 32)
        return false;
    out[0] = '\\';
    out[1] = 'x';
    for (unsigned int i = 0; i < len; i++) {
        out[2 + 2 * i] = hex[md[i] >> 4];
        out[3 + 2 * i] = hex[md[i] & 0x0F];
    }
    out[2 + 2 * len] = '\0';
    return true;
}
