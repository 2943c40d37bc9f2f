/* Unit tests of body, room and message: what a client may send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "message.h"
#include "room.h"

static const struct room_limits LIMITS = { 100, 200, 128 };
static const struct room_limits TWO_USERS = { 2, 200, 128 };

static struct json_object *parse(const char *type, const char *text)
{
    struct json_object *o = NULL;
    char err[128];
    assert_true(body_parse(type, text, strlen(text), 32, &o, err, sizeof err));
    return o;
}

static void test_json_bodies(void **state)
{
    (void)state;
    struct json_object *o = NULL;
    char err[128];
    assert_false(body_parse(NULL, "{bad", 4, 32, &o, err, sizeof err));
    assert_false(body_parse(NULL, "{} x", 4, 32, &o, err, sizeof err));
    assert_false(body_parse(NULL, "{\"a\":\"\xff\"}", 9, 32, &o, err, sizeof err));
    assert_false(body_parse(NULL, "[[[[[1]]]]]", 11, 4, &o, err, sizeof err));
    /* json-c reads these; they are not JSON and must not come back out. */
    const char *not_json[] = { "{\"timestamp\":NaN}", "{\"push\":[Infinity]}", "{\"t\":1e999}",
                               "{\"t\":1.}", "{\"t\":-.5}" };
    for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++)
        assert_false(body_parse(NULL, not_json[i], strlen(not_json[i]), 32, &o, err, sizeof err));
    assert_true(body_parse(NULL, "null", 4, 32, &o, err, sizeof err));
    assert_null(o);
    assert_true(body_parse(NULL, "  ", 2, 32, &o, err, sizeof err));
    assert_null(o);
    o = parse("application/json", "\"x\"");
    assert_true(json_object_is_type(o, json_type_string));
    json_object_put(o);
}

static void test_form_bodies(void **state)
{
    (void)state;
    struct json_object *o = parse("application/x-www-form-urlencoded; charset=utf-8",
                                  "type=t&users=alice&users=bob&message=hi+there%21&empty=");
    assert_string_equal(body_get_string(o, "message"), "hi there!");
    struct json_object *users = json_object_object_get(o, "users");
    assert_int_equal(json_object_array_length(users), 2);
    assert_null(body_get_string(o, "empty"));
    json_object_put(o);
    o = parse("application/x-www-form-urlencoded", "users[]=solo");
    assert_true(json_object_is_type(json_object_object_get(o, "users"), json_type_array));
    json_object_put(o);
    char err[128];
    assert_false(body_parse("application/x-www-form-urlencoded", "a=%00", 5, 32, &o, err,
                            sizeof err));
}

static void test_room_spec(void **state)
{
    (void)state;
    struct room_spec spec;
    char err[160];
    struct json_object *o = parse(NULL, "{\"type\":\"g/v1\",\"users\":[\"bob\",\"B\",\"alice\"],\"id\":\"x\"}");
    assert_true(room_spec_parse(o, &LIMITS, &spec, err, sizeof err));
    assert_string_equal(spec.id, "g/v1/B/alice/bob");
    assert_true(room_spec_has_user(&spec, "alice"));
    assert_false(room_spec_has_user(&spec, "carol"));
    char *lit = room_spec_users_literal(&spec);
    assert_string_equal(lit, "{\"B\",\"alice\",\"bob\"}");
    free(lit);
    room_spec_free(&spec);
    json_object_put(o);

    const char *bad[] = {
        "[]", "{\"users\":[\"a\"]}", "{\"type\":\"\",\"users\":[\"a\"]}",
        "{\"type\":1,\"users\":[\"a\"]}", "{\"type\":\"t\"}", "{\"type\":\"t\",\"users\":[]}",
        "{\"type\":\"t\",\"users\":\"a\"}", "{\"type\":\"t\",\"users\":[1]}",
        "{\"type\":\"t\",\"users\":[\"\"]}", "{\"type\":\"t\",\"users\":[\"a\",\"a\"]}",
        "{\"type\":\"t\",\"users\":[\"a\\u0000b\"]}", "{\"type\":\"t\",\"users\":[\"a\",\"b\",\"c\"]}",
        "{\"type\":\"t\\n\",\"users\":[\"a\"]}", "{\"type\":\"t\",\"users\":[\"a\\u0007\"]}",
        "{\"type\":\"t\",\"users\":[\"a/b\"]}", "{\"type\":\"t\",\"users\":[\"a\",\"/\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = parse(NULL, bad[i]);
        assert_false(room_spec_parse(o, &TWO_USERS, &spec, err, sizeof err));
        json_object_put(o);
    }
}

static void test_message_spec(void **state)
{
    (void)state;
    struct message_spec m;
    char err[64];
    struct json_object *o = parse(NULL, "{\"timestamp\":1429084016939,\"type\":\"text\",\"message\":\"hey\",\"push\":{}}");
    assert_true(message_spec_parse(o, NULL, 100, &m, err, sizeof err));
    assert_string_equal(m.ts, "1429084016939");
    assert_false(m.ts_is_string);
    json_object_put(o);
    o = parse(NULL, "{\"timestamp\":\"1429084016939\",\"type\":\"t\",\"message\":\"m\"}");
    assert_true(message_spec_parse(o, "event", 100, &m, err, sizeof err));
    assert_true(m.ts_is_string);
    assert_string_equal(m.type, "event");
    json_object_put(o);
    o = parse(NULL, "{\"timestamp\":1.50,\"type\":\"t\",\"message\":\"m\"}");
    assert_true(message_spec_parse(o, NULL, 100, &m, err, sizeof err));
    assert_string_equal(m.ts, "1.50");
    json_object_put(o);

    static const struct { const char *body, *error; } bad[] = {
        { "[1]", "bad payload" },
        { "{\"type\":\"t\",\"message\":\"m\"}", "bad timestamp" },
        { "{\"timestamp\":\"abc\",\"type\":\"t\",\"message\":\"m\"}", "bad timestamp" },
        { "{\"timestamp\":\"\",\"type\":\"t\",\"message\":\"m\"}", "bad timestamp" },
        { "{\"timestamp\":true,\"type\":\"t\",\"message\":\"m\"}", "bad timestamp" },
        { "{\"timestamp\":1,\"message\":\"m\"}", "bad type" },
        { "{\"timestamp\":1,\"type\":\"\",\"message\":\"m\"}", "bad type" },
        { "{\"timestamp\":1,\"type\":\"t\",\"message\":5}", "bad message" },
        { "{\"timestamp\":1,\"type\":\"t\",\"message\":\"a\\u0000\"}", "bad message" },
        { "{\"timestamp\":1,\"type\":\"t\",\"message\":\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789x\"}", "bad message" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = parse(NULL, bad[i].body);
        assert_false(message_spec_parse(o, NULL, 100, &m, err, sizeof err));
        assert_string_equal(err, bad[i].error);
        json_object_put(o);
    }
}

static void test_timestamps_round_trip(void **state)
{
    (void)state;
    const char *numbers[] = { "1429084016939", "9007199254740992", "1.50", "-3", "1e3",
                              "18446744073709551614" };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        struct json_object *j = message_timestamp_json(numbers[i], false);
        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), numbers[i]);
        json_object_put(j);
    }
    struct json_object *j = message_timestamp_json("12", true);
    assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), "\"12\"");
    json_object_put(j);
    assert_true(message_is_number_text("-0.5E+3"));
    assert_false(message_is_number_text("01"));
    assert_false(message_is_number_text("0x10"));
    assert_false(message_is_number_text(" 1"));
    assert_false(message_is_number_text("Infinity"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_bodies),
        cmocka_unit_test(test_form_bodies),
        cmocka_unit_test(test_room_spec),
        cmocka_unit_test(test_message_spec),
        cmocka_unit_test(test_timestamps_round_trip),
    };
    return cmocka_run_group_tests_name("validation", tests, NULL, NULL);
}
