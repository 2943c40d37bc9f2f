/* body: strict JSON and urlencoded-form parsing with json-c. */
#include "body.h"

#include "text.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool body_is_form(const char *content_type);
static bool body_is_json_container(const char *data, size_t len);
static bool body_numbers_are_json(struct json_object *o);
static bool body_parse_form(const char *data, size_t len, struct json_object **out,
                            char *err, size_t errlen);
static char *body_form_decode(const char *in, size_t len, size_t *out_len);
static bool body_form_add(struct json_object *root, char *key, size_t klen, char *value,
                          size_t vlen);

static bool body_is_form(const char *content_type)
{
    static const char FORM[] = "application/x-www-form-urlencoded";
    return content_type && strncasecmp(content_type, FORM, sizeof FORM - 1) == 0;
}

/* True when DATA (LEN bytes, NUL-terminated) is a JSON object or array. */
static bool body_is_json_container(const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", data[i]) && data[i] != '\0')
        i++;
    if (i == len || (data[i] != '{' && data[i] != '['))
        return false;
    struct json_object *o = NULL;
    char err[8];
    bool json = body_json(data, len, 32, &o, err, sizeof err) &&
                (json_object_is_type(o, json_type_object) ||
                 json_object_is_type(o, json_type_array));
    json_object_put(o);
    return json;
}

bool body_acceptable(const char *content_type, const char *data, size_t len,
                     struct body_refusal *out)
{
    static const char MULTIPART[] = "multipart/";
    if (content_type && strncasecmp(content_type, MULTIPART, sizeof MULTIPART - 1) == 0) {
        out->status = 415;
        out->code = "UnsupportedMediaType";
        out->message = "multipart bodies are not accepted: send the body as JSON with "
                       "Content-Type: application/json";
        return false;
    }
    /* A real form never reads as a JSON object or array: this one is
     * JSON that curl -d (or a client's default) labelled as a form. */
    if (body_is_form(content_type) && body_is_json_container(data, len)) {
        out->status = 400;
        out->code = "InvalidContent";
        out->message = "the body is JSON but Content-Type says "
                       "application/x-www-form-urlencoded (curl -d's default): send it with "
                       "Content-Type: application/json";
        return false;
    }
    return true;
}

bool body_parse(const char *content_type, const char *data, size_t len, int max_depth,
                struct json_object **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t blank = 0;
    while (blank < len && strchr(" \t\r\n", data[blank]) && data[blank] != '\0')
        blank++;
    if (blank == len)
        return true;
    if (body_is_form(content_type))
        return body_parse_form(data, len, out, err, errlen);
    return body_json(data, len, max_depth, out, err, errlen);
}

bool body_json(const char *data, size_t len, int max_depth, struct json_object **out, char *err,
               size_t errlen)
{
    struct json_tokener *tok = json_tokener_new_ex(max_depth);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* The buffer is NUL-terminated: passing the NUL ends a bare number. */
    struct json_object *root = json_tokener_parse_ex(tok, data, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    /* A JSON null parses to NULL: valid JSON, no object (the routes answer
     * 400 BadRequest for it). */
    bool ok = jerr == json_tokener_success && json_tokener_get_parse_end(tok) >= len;
    if (ok && !body_numbers_are_json(root)) {
        snprintf(err, errlen, "numbers must be finite JSON numbers");
        ok = false;
    } else if (!ok) {
        snprintf(err, errlen, "%s",
                 jerr == json_tokener_success ? "unexpected data after the JSON value"
                                              : json_tokener_error_desc(jerr));
    }
    if (!ok) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    *out = root;
    return ok;
}

/* json-c also reads NaN, Infinity, "1." and "-.5": none is JSON, and they
 * would come back out (in a push value, say) as invalid JSON. Recursion is
 * bounded by the tokener's depth limit. */
static bool body_numbers_are_json(struct json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double:
        return text_is_json_number(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!body_numbers_are_json(json_object_array_get_idx(o, i)))
                return false;
        return true;
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            (void)key;
            if (!body_numbers_are_json(val))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

static char *body_form_decode(const char *in, size_t len, size_t *out_len)
{
    char *plus_free = malloc(len + 1);
    if (!plus_free)
        return NULL;
    for (size_t i = 0; i < len; i++)
        plus_free[i] = in[i] == '+' ? ' ' : in[i];
    char *decoded = text_percent_decode(plus_free, len, out_len);
    free(plus_free);
    return decoded;
}

static bool body_form_add(struct json_object *root, char *key, size_t klen, char *value,
                          size_t vlen)
{
    bool force_array = klen > 2 && strcmp(key + klen - 2, "[]") == 0;
    if (force_array)
        key[klen - 2] = '\0';
    struct json_object *val = json_object_new_string_len(value, (int)vlen);
    struct json_object *existing = NULL;
    if (!val)
        return false;
    if (!json_object_object_get_ex(root, key, &existing)) {
        if (!force_array)
            return json_object_object_add(root, key, val) == 0;
        struct json_object *arr = json_object_new_array();
        json_object_array_add(arr, val);
        return json_object_object_add(root, key, arr) == 0;
    }
    if (json_object_is_type(existing, json_type_array))
        return json_object_array_add(existing, val) == 0;
    struct json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_get(existing));
    json_object_array_add(arr, val);
    return json_object_object_add(root, key, arr) == 0;
}

static bool body_parse_form(const char *data, size_t len, struct json_object **out,
                            char *err, size_t errlen)
{
    struct json_object *root = json_object_new_object();
    const char *p = data, *end = data + len;
    bool ok = true;
    while (ok && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = eq ? eq : pair_end;
        if (key_end > p) {
            size_t klen, vlen = 0;
            char *key = body_form_decode(p, (size_t)(key_end - p), &klen);
            char *value = eq ? body_form_decode(eq + 1, (size_t)(pair_end - eq - 1), &vlen)
                             : body_form_decode("", 0, &vlen);
            ok = key && value && text_is_clean_utf8(key, klen) &&
                 text_is_clean_utf8(value, vlen) && body_form_add(root, key, klen, value, vlen);
            free(key);
            free(value);
        }
        p = pair_end + 1;
    }
    if (!ok) {
        snprintf(err, errlen, "invalid form body");
        json_object_put(root);
        root = NULL;
    }
    *out = root;
    return ok;
}

const char *body_get_string(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return body_string_value(v);
}

const char *body_string_value(struct json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (len == 0 || !text_is_clean_utf8(s, len))
        return NULL;
    return s;
}
