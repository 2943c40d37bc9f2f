/* body: parses a request body into JSON, from application/json or from
 * application/x-www-form-urlencoded (as the original accepted both). */
#ifndef GANOMEDE_BODY_H
#define GANOMEDE_BODY_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* Parses LEN bytes of DATA. CONTENT_TYPE may be NULL; anything but a form
 * is read as JSON. JSON is parsed strictly, UTF-8 validated, nesting limited
 * to MAX_DEPTH. Form values arrive as strings; a repeated key (or "key[]")
 * makes an array.
 *
 * Returns true with *OUT = the root (caller puts it), or *OUT = NULL when
 * the body is empty or blank. Returns false with a short reason in ERR when
 * the bytes are not valid JSON (or not a valid form). */
/* Strict JSON (RFC 8259 numbers, valid UTF-8, at most MAX_DEPTH deep): the
 * LEN bytes of DATA, which must be followed by a NUL, hold exactly one JSON
 * value and nothing after it. True with the value in *OUT (caller puts it;
 * NULL for a JSON null); false with a short reason in ERR. */
__attribute__((warn_unused_result))
bool body_json(const char *data, size_t len, int max_depth, struct json_object **out, char *err,
               size_t errlen);

__attribute__((warn_unused_result))
bool body_parse(const char *content_type, const char *data, size_t len, int max_depth,
                struct json_object **out, char *err, size_t errlen);

/* Why a body is refused before it is parsed: STATUS, error CODE and a
 * MESSAGE that tells the client what to send instead (static strings). */
struct body_refusal {
    unsigned status;
    const char *code;
    const char *message;
};

/* False, with the answer in OUT, for bodies a careless client sends by
 * mistake: a multipart upload (415), or JSON sent as a form (curl -d's
 * default Content-Type; 400 rather than a confusing "bad timestamp").
 * LEN bytes of DATA; CONTENT_TYPE may be NULL. */
__attribute__((warn_unused_result))
bool body_acceptable(const char *content_type, const char *data, size_t len,
                     struct body_refusal *out);

/* The string in V when V is a JSON string of clean UTF-8 (no NUL) and
 * non-empty; else NULL. Borrowed from V. */
const char *body_string_value(struct json_object *v);

/* The string value of KEY in OBJ when it is a JSON string of clean UTF-8
 * (no NUL) and non-empty; else NULL. Borrowed from OBJ. */
const char *body_get_string(struct json_object *obj, const char *key);

#endif
