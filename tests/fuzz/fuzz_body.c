/* libFuzzer target: request bodies (JSON and form) through the validation
 * of every route that takes one. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "message.h"
#include "room.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The first byte picks the content type; the rest is the body, which
     * the HTTP layer keeps NUL-terminated. */
    const char *type = (data[0] & 1) ? "application/x-www-form-urlencoded" : "application/json";
    char *body = malloc(size);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    struct json_object *root = NULL;
    char err[256];
    static const struct room_limits limits = { 100, 200, 128 };
    struct body_refusal no;
    if (!body_acceptable(type, body, size - 1, &no) && (no.status < 400 || no.status > 499))
        abort();
    if (body_parse(type, body, size - 1, 32, &root, err, sizeof err)) {
        struct room_spec spec;
        if (room_spec_parse(root, &limits, &spec, err, sizeof err)) {
            if (!text_is_clean_utf8(spec.id, strlen(spec.id)))
                abort();
            free(room_spec_users_literal(&spec));
            room_spec_free(&spec);
        }
        struct message_spec msg;
        if (message_spec_parse(root, NULL, 8192, &msg, err, sizeof err)) {
            /* A valid timestamp must come back as the same text. */
            struct json_object *ts = message_timestamp_json(msg.ts, msg.ts_is_string);
            if (!msg.ts_is_string &&
                strcmp(json_object_to_json_string_ext(ts, JSON_C_TO_STRING_PLAIN), msg.ts) != 0)
                abort();
            json_object_put(ts);
        }
        json_object_put(root);
    }
    free(body);
    return 0;
}
