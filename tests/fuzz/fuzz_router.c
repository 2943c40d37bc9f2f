/* libFuzzer target: path splitting, percent-decoding and redaction of any
 * bytes a client can put in a request line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libmicrohttpd hands us a NUL-terminated path. */
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    static const char *const methods[] = { "GET", "POST", "HEAD", "DELETE" };
    struct route_match m;
    if (router_match(methods[size % 4], path, "chat/v1", &m)) {
        if (m.token && !text_is_clean_utf8(m.token, strlen(m.token)))
            abort();
        if (m.room_id && !text_is_clean_utf8(m.room_id, strlen(m.room_id)))
            abort();
        router_match_free(&m);
    }
    char *redacted = router_redact_path(path, "s3cret");
    if (redacted && strstr(redacted, "s3cret"))
        abort();
    free(redacted);
    size_t len;
    free(text_percent_decode(path, size, &len));
    free(path);
    return 0;
}
