/* usermeta: keys built per user and policy, one MGET, the values folded
 * into one JSON object per user. */
#include "usermeta.h"

#include "redis_link.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys the rules read (chat_user_policies). */
static const char *const USERMETA_KEYS[] = { "$banned", "$muted", "$chatdisabled", "$blocked" };
#define USERMETA_NKEYS (sizeof USERMETA_KEYS / sizeof USERMETA_KEYS[0])

/* {"<user>": {"<key>": "<value>"}} of the VALUES read for KEYS (user i,
 * policy k at i * USERMETA_NKEYS + k), as JSON text; NULL without memory. */
static char *usermeta_json(const char *const *users, size_t n, char *const *values)
{
    struct json_object *all = json_object_new_object();
    for (size_t i = 0; all && i < n; i++) {
        struct json_object *mine = NULL;
        for (size_t k = 0; k < USERMETA_NKEYS; k++) {
            const char *v = values[i * USERMETA_NKEYS + k];
            if (!v)
                continue;
            if (!mine) {
                mine = json_object_new_object();
                json_object_object_add(all, users[i], mine);
            }
            json_object_object_add(mine, USERMETA_KEYS[k], json_object_new_string(v));
        }
    }
    char *text = all ? strdup(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN))
                     : NULL;
    json_object_put(all);
    return text;
}

bool usermeta_fetch(struct redis_link *link, const char *const *users, size_t n,
                    char **policies, const char *req_id)
{
    *policies = NULL;
    if (!link)
        return true;
    size_t nkeys = n * USERMETA_NKEYS;
    char **keys = calloc(nkeys ? nkeys : 1, sizeof *keys);
    char **values = calloc(nkeys ? nkeys : 1, sizeof *values);
    bool ok = keys && values;
    for (size_t i = 0; ok && i < nkeys; i++) {
        const char *user = users[i / USERMETA_NKEYS], *key = USERMETA_KEYS[i % USERMETA_NKEYS];
        size_t len = strlen(user) + 1 + strlen(key) + 1;
        keys[i] = malloc(len);
        ok = keys[i] != NULL;
        if (ok)
            snprintf(keys[i], len, "%s:%s", user, key);
    }
    ok = ok && redis_link_mget(link, (const char *const *)keys, nkeys, values, req_id) == REDIS_OK;
    if (ok)
        ok = (*policies = usermeta_json(users, n, values)) != NULL;
    if (keys && values) {
        for (size_t i = 0; i < nkeys; i++)
            free(keys[i]);
        redis_link_values_free(values, nkeys);
    }
    free(keys);
    free(values);
    return ok;
}

bool usermeta_fetch_room(struct redis_link *link, const char *room_id, const char *sender,
                         char **policies, const char *req_id)
{
    *policies = NULL;
    if (!link)
        return true;
    char *parts = strdup(room_id);
    size_t max = 2;
    for (const char *p = room_id; *p; p++)
        max += *p == '/';
    const char **users = calloc(max, sizeof *users);
    if (!parts || !users) {
        free(parts);
        free(users);
        return false;
    }
    size_t n = 0;
    if (strcmp(sender, "$$") != 0)
        users[n++] = sender;
    char *save = NULL;
    for (char *part = strtok_r(parts, "/", &save); part; part = strtok_r(NULL, "/", &save))
        if (strcmp(part, sender) != 0)
            users[n++] = part;
    bool ok = usermeta_fetch(link, users, n, policies, req_id);
    free(users);
    free(parts);
    return ok;
}
