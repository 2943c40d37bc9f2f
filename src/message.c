/* message: message body validation and timestamps that round-trip. */
#include "message.h"

#include "body.h"
#include "text.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool message_read_timestamp(struct json_object *v, struct message_spec *out);

bool message_is_number_text(const char *s)
{
    return text_is_json_number(s);
}

static bool message_read_timestamp(struct json_object *v, struct message_spec *out)
{
    const char *text = NULL;
    switch (json_object_get_type(v)) {
    case json_type_string:
        text = body_string_value(v);
        out->ts_is_string = true;
        if (!text || !message_is_number_text(text))
            return false;
        break;
    case json_type_int: {
        /* json-c saturates integers it cannot hold: refuse those rather
         * than store a different number. */
        int64_t i = json_object_get_int64(v);
        uint64_t u = json_object_get_uint64(v);
        if (i == INT64_MIN || u == UINT64_MAX || (i == INT64_MAX && u == (uint64_t)INT64_MAX))
            return false;
        text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        break;
    }
    case json_type_double:
        /* A parsed double serializes as the exact text the client sent;
         * json-c also takes "1." or "-.5", which are not JSON. */
        text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text_is_json_number(text))
            return false;
        break;
    default:
        return false;
    }
    if (strlen(text) > MESSAGE_MAX_TIMESTAMP_BYTES)
        return false;
    strcpy(out->ts, text);
    return true;
}

bool message_spec_parse(struct json_object *body, const char *forced_type,
                        long max_message_bytes, struct message_spec *out, char *err,
                        size_t errlen)
{
    const char *bad = NULL;
    struct json_object *ts = NULL;
    memset(out, 0, sizeof *out);
    if (!body || !json_object_is_type(body, json_type_object))
        bad = "bad payload";
    else if (!json_object_object_get_ex(body, "timestamp", &ts) ||
             !message_read_timestamp(ts, out))
        bad = "bad timestamp";
    else if (!(out->type = forced_type ? forced_type : body_get_string(body, "type")))
        bad = "bad type";
    else if (!(out->message = body_get_string(body, "message")) ||
             strlen(out->message) > (size_t)max_message_bytes)
        bad = "bad message";
    if (bad)
        snprintf(err, errlen, "%s", bad);
    return bad == NULL;
}

struct json_object *message_timestamp_json(const char *ts, bool ts_is_string)
{
    if (ts_is_string)
        return json_object_new_string(ts);
    long long as_int;
    char *end = NULL;
    as_int = strtoll(ts, &end, 10);
    if (end && *end == '\0' && as_int != LLONG_MAX && as_int != LLONG_MIN)
        return json_object_new_int64(as_int);
    if (end && *end == '\0' && ts[0] != '-')
        return json_object_new_uint64(strtoull(ts, NULL, 10));
    return json_object_new_double_s(strtod(ts, NULL), ts);
}

struct json_object *message_json(const char *ts, bool ts_is_string, const char *from,
                                 const char *type, const char *message)
{
    struct json_object *m = json_object_new_object();
    json_object_object_add(m, "timestamp", message_timestamp_json(ts, ts_is_string));
    json_object_object_add(m, "from", json_object_new_string(from));
    json_object_object_add(m, "type", json_object_new_string(type));
    json_object_object_add(m, "message", json_object_new_string(message));
    return m;
}
