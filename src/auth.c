/* auth: token classification with constant-time secret comparison. */
#include "auth.h"

#include "text.h"

#include <string.h>

enum auth_kind auth_classify(const char *token, const char *secret, const char **username)
{
    *username = NULL;
    if (!token || !*token)
        return AUTH_INVALID;
    if (!*secret)
        return AUTH_LOOKUP;
    if (text_secret_equal(token, secret))
        return AUTH_SECRET;
    size_t slen = strlen(secret);
    const char *dot = token + slen;
    /* Compare the prefix in constant time too; strlen(token) only leaks the
     * token's own length. */
    if (strlen(token) > slen && *dot == '.') {
        if (text_secret_prefix(token, secret)) {
            if (dot[1] == '\0')
                return AUTH_INVALID;
            *username = dot + 1;
            return AUTH_USER;
        }
    }
    return AUTH_LOOKUP;
}
