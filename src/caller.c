/* caller: classification (auth.c), lookups (the store) and the token cache,
 * put together once for every route. */
#include "caller.h"

#include "body.h"
#include "reply.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* How deep an authdb account may nest (ganomede-users writes a flat one). */
#define CALLER_AUTHDB_DEPTH 16

static bool caller_lookup(const struct caller_env *env, struct caller *who,
                          struct http_response *resp, const char *req_id);

/* The user of an authdb value, as node-authdb stores an account: a JSON
 * object whose "username" is a non-empty string (other fields ignored).
 * NULL (an invalid token) for anything else. */
static char *caller_authdb_username(const char *value)
{
    struct json_object *account = NULL, *name = NULL;
    char err[64], *user = NULL;
    if (value && body_json(value, strlen(value), CALLER_AUTHDB_DEPTH, &account, err, sizeof err) &&
        json_object_is_type(account, json_type_object) &&
        json_object_object_get_ex(account, "username", &name) &&
        json_object_is_type(name, json_type_string) && json_object_get_string_len(name) > 0)
        user = strdup(json_object_get_string(name));
    json_object_put(account);
    return user;
}

/* A player token read in the authdb Redis: the key is the token itself. */
static bool caller_from_authdb(const struct caller_env *env, struct caller *who,
                               struct http_response *resp, const char *req_id)
{
    char *value = NULL;
    const char *key = who->token;
    if (redis_link_mget(env->authdb, &key, 1, &value, req_id) != REDIS_OK) {
        reply_link_down(resp, "authdb");
        return false;
    }
    who->owned = caller_authdb_username(value);
    free(value);
    if (!who->owned) {
        reply_not_authorized(resp);
        return false;
    }
    who->kind = AUTH_USER;
    who->username = who->owned;
    return true;
}

bool caller_classify(const struct caller_env *env, const char *token, struct caller *who,
                     struct http_response *resp, const char *req_id)
{
    memset(who, 0, sizeof *who);
    const char *name = NULL;
    who->token = token;
    who->kind = auth_classify(token, env->api_secret, &name);
    switch (who->kind) {
    case AUTH_SECRET:
        who->username = "$$";
        return true;
    case AUTH_USER:
        who->username = name;
        return true;
    case AUTH_LOOKUP:
        return !env->authdb || caller_from_authdb(env, who, resp, req_id);
    case AUTH_INVALID:
        break;
    }
    reply_not_authorized(resp);
    return false;
}

/* Looks a table token up on its own query and remembers its user; nothing
 * to do for the other kinds. */
static bool caller_lookup(const struct caller_env *env, struct caller *who,
                          struct http_response *resp, const char *req_id)
{
    if (who->kind != AUTH_LOOKUP)
        return true;
    char *name = NULL;
    enum store_result r = store_lookup_token(env->store, who->token, &name, req_id);
    if (r == STORE_OK) {
        caller_learned(env, who, name);
        return true;
    }
    reply_store_failure(resp, r == STORE_NOT_FOUND ? STORE_BAD_TOKEN : r);
    return false;
}

bool caller_resolve(const struct caller_env *env, const char *token, struct caller *who,
                    struct http_response *resp, const char *req_id)
{
    return caller_classify(env, token, who, resp, req_id) &&
           caller_lookup(env, who, resp, req_id);
}

void caller_learned(const struct caller_env *env, struct caller *who, char *name)
{
    free(who->owned);
    who->owned = name;
    who->kind = AUTH_USER;
    who->username = name;
    who->guessed = false;
    token_cache_put(env->cache, who->token, name);
}

bool caller_write(const struct caller_env *env, const char *token, struct caller *who,
                  caller_write_fn *write, void *cls, enum store_result *r,
                  struct http_response *resp, const char *req_id)
{
    if (!caller_classify(env, token, who, resp, req_id))
        return false;
    if (who->kind == AUTH_LOOKUP &&
        token_cache_get(env->cache, token, who->cached, sizeof who->cached)) {
        who->username = who->cached;
        who->guessed = true;
        *r = write(cls, who);
        if (*r != STORE_BAD_TOKEN)
            return true;
        token_cache_forget(env->cache, token);
        who->username = NULL;
        who->guessed = false;
    }
    if (!caller_lookup(env, who, resp, req_id))
        return false;
    *r = write(cls, who);
    return true;
}

void caller_free(struct caller *who)
{
    free(who->owned);
    who->owned = NULL;
}
