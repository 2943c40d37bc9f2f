/* message: validation of a message body ({timestamp, type, message}) in
 * the original's order and words ("bad timestamp", "bad type"...). */
#ifndef GANOMEDE_MESSAGE_H
#define GANOMEDE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define MESSAGE_MAX_TIMESTAMP_BYTES 64

struct message_spec {
    /* The timestamp exactly as sent: a JSON number's own text, or a string's
     * content when ts_is_string. */
    char ts[MESSAGE_MAX_TIMESTAMP_BYTES + 1];
    bool ts_is_string;
    const char *type;     /* borrowed from the body */
    const char *message;  /* borrowed from the body */
};

/* Validates BODY. FORCED_TYPE (may be NULL) replaces the body's type, as
 * system messages are always of type "event". A message longer than
 * MAX_MESSAGE_BYTES is a "bad message". Returns false with the reason in
 * ERR (the 400 message: "bad payload", "bad timestamp", "bad type" or
 * "bad message") when invalid, as room_spec_parse does. OUT borrows from
 * BODY. */
__attribute__((warn_unused_result))
bool message_spec_parse(struct json_object *body, const char *forced_type,
                        long max_message_bytes, struct message_spec *out, char *err,
                        size_t errlen);

/* True when S is a decimal number in JSON syntax (what a string timestamp
 * must hold), e.g. "1429084016939" or "-1.5e3". */
bool message_is_number_text(const char *s);

/* The JSON value of a stored timestamp: a string, or a number that
 * serializes to exactly TS. Caller owns the result. */
struct json_object *message_timestamp_json(const char *ts, bool ts_is_string);

/* A stored message as the API returns it: {timestamp, from, type, message}
 * in that order (TS as message_timestamp_json reads it). Caller owns it. */
struct json_object *message_json(const char *ts, bool ts_is_string, const char *from,
                                 const char *type, const char *message);

#endif
