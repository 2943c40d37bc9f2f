/* router: segment-wise matching of the raw path. */
#include "router.h"

#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_SEGMENTS 16

struct segment {
    const char *start;
    size_t len;
};

static size_t router_split(const char *path, struct segment *segs, size_t max, bool *too_many);
static bool router_seg_is(const struct segment *s, const char *word);
static bool router_take_param(const struct segment *s, char **out, bool *present);
static bool router_method_allowed(enum route r, const char *method);

static size_t router_split(const char *path, struct segment *segs, size_t max, bool *too_many)
{
    size_t n = 0;
    *too_many = false;
    if (*path == '/')
        path++;
    while (*path) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);
        if (n == max) {
            *too_many = true;
            return n;
        }
        segs[n].start = path;
        segs[n].len = len;
        n++;
        if (!slash)
            break;
        path = slash + 1;
        /* A single trailing slash is ignored, as restify did. */
        if (*path == '\0')
            break;
    }
    return n;
}

static bool router_seg_is(const struct segment *s, const char *word)
{
    return strlen(word) == s->len && memcmp(s->start, word, s->len) == 0;
}

static bool router_take_param(const struct segment *s, char **out, bool *present)
{
    size_t len;
    char *decoded = text_percent_decode(s->start, s->len, &len);
    if (!decoded)
        return false;
    *present = true;
    if (len == 0 || !text_is_clean_utf8(decoded, len)) {
        free(decoded);
        decoded = NULL;
    }
    *out = decoded;
    return true;
}

static bool router_method_allowed(enum route r, const char *method)
{
    switch (r) {
    case ROUTE_ABOUT:
    case ROUTE_GET_ROOM:
    case ROUTE_METRICS:
        return strcmp(method, "GET") == 0;
    case ROUTE_HEALTH:
        return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    case ROUTE_PING:
        return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    case ROUTE_CREATE_ROOM:
    case ROUTE_POST_MESSAGE:
    case ROUTE_SYSTEM_MESSAGE:
        return strcmp(method, "POST") == 0;
    case ROUTE_NONE:
        break;
    }
    return false;
}

bool router_match(const char *method, const char *path, const char *prefix,
                  struct route_match *out)
{
    struct segment segs[ROUTER_MAX_SEGMENTS], pre[ROUTER_MAX_SEGMENTS];
    bool too_many, pre_too_many;
    memset(out, 0, sizeof *out);
    size_t n = router_split(path, segs, ROUTER_MAX_SEGMENTS, &too_many);
    size_t np = router_split(prefix, pre, ROUTER_MAX_SEGMENTS, &pre_too_many);
    if (too_many || pre_too_many)
        return true;

    if (n == 1 && router_seg_is(&segs[0], "about")) {
        out->route = ROUTE_ABOUT;
    } else if (n > np) {
        for (size_t i = 0; i < np; i++)
            if (segs[i].len != pre[i].len || memcmp(segs[i].start, pre[i].start, pre[i].len) != 0)
                return true;
        const struct segment *s = segs + np;
        size_t k = n - np;
        if (k == 1 && router_seg_is(&s[0], "about")) {
            out->route = ROUTE_ABOUT;
        } else if (k == 1 && router_seg_is(&s[0], "metrics")) {
            out->route = ROUTE_METRICS;
        } else if (k == 1 && router_seg_is(&s[0], "health")) {
            out->route = ROUTE_HEALTH;
        } else if (k == 2 && router_seg_is(&s[0], "ping")) {
            out->route = ROUTE_PING;
        } else if (k >= 3 && router_seg_is(&s[0], "auth")) {
            if (k == 3 && router_seg_is(&s[2], "rooms"))
                out->route = ROUTE_CREATE_ROOM;
            else if (k == 3 && router_seg_is(&s[2], "system-messages"))
                out->route = ROUTE_SYSTEM_MESSAGE;
            else if (k == 4 && router_seg_is(&s[2], "rooms"))
                out->route = ROUTE_GET_ROOM;
            else if (k == 5 && router_seg_is(&s[2], "rooms") && router_seg_is(&s[4], "messages"))
                out->route = ROUTE_POST_MESSAGE;
        }
        bool has_token = out->route == ROUTE_PING || out->route == ROUTE_CREATE_ROOM ||
                         out->route == ROUTE_GET_ROOM || out->route == ROUTE_POST_MESSAGE ||
                         out->route == ROUTE_SYSTEM_MESSAGE;
        if (has_token && !router_take_param(&s[1], &out->token, &out->token_present))
            return false;
        if ((out->route == ROUTE_GET_ROOM || out->route == ROUTE_POST_MESSAGE) &&
            !router_take_param(&s[3], &out->room_id, &out->room_present)) {
            router_match_free(out);
            return false;
        }
    }
    out->method_allowed = router_method_allowed(out->route, method);
    return true;
}

void router_match_free(struct route_match *m)
{
    free(m->token);
    free(m->room_id);
    m->token = NULL;
    m->room_id = NULL;
}

const char *router_route_name(enum route r)
{
    switch (r) {
    case ROUTE_ABOUT: return "about";
    case ROUTE_PING: return "ping";
    case ROUTE_CREATE_ROOM: return "create_room";
    case ROUTE_GET_ROOM: return "get_room";
    case ROUTE_POST_MESSAGE: return "post_message";
    case ROUTE_SYSTEM_MESSAGE: return "system_message";
    case ROUTE_METRICS: return "metrics";
    case ROUTE_HEALTH: return "health";
    case ROUTE_NONE: break;
    }
    return "not_found";
}

void router_restify_name(enum route r, const char *method, const char *prefix, char *out,
                         size_t outlen)
{
    const char *pattern = NULL;
    switch (r) {
    case ROUTE_ABOUT: pattern = "about"; break;
    case ROUTE_PING: pattern = "ping/:token"; break;
    case ROUTE_CREATE_ROOM: pattern = "auth/:authToken/rooms"; break;
    case ROUTE_GET_ROOM: pattern = "auth/:authToken/rooms/:roomId"; break;
    case ROUTE_POST_MESSAGE: pattern = "auth/:authToken/rooms/:roomId/messages"; break;
    case ROUTE_SYSTEM_MESSAGE: pattern = "auth/:authToken/system-messages"; break;
    case ROUTE_METRICS: pattern = "metrics"; break;
    case ROUTE_HEALTH: pattern = "health"; break;
    case ROUTE_NONE: break;
    }
    if (!pattern || outlen == 0) {
        snprintf(out, outlen, "%s", "invalid_route");
        return;
    }
    /* restify: lower-case method and path, every non-word character dropped. */
    char full[256];
    snprintf(full, sizeof full, "%s%s/%s", method, prefix, pattern);
    size_t o = 0;
    for (const char *p = full; *p && o + 1 < outlen; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
            out[o++] = c;
    }
    out[o] = '\0';
}

char *router_redact_path(const char *path, const char *secret)
{
    static const char REDACTED[] = "[redacted]";
    size_t cap = strlen(path) + 1;
    /* Bytes that are not printable, clean UTF-8 are written %XX, so the
     * copy is safe in JSON and logs. Worst case every one-byte segment
     * grows to "[redacted]". */
    bool clean = text_is_clean_utf8(path, cap - 1);
    char *out = malloc(cap * sizeof REDACTED);
    if (!out)
        return NULL;
    size_t o = 0;
    bool after_auth = false;
    /* Segment by segment, empty ones included: the one after "auth" is
     * the token even when it is empty ("auth//rooms": nothing to hide, and
     * "rooms" is not it). */
    for (const char *p = path;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        bool has_secret = len && *secret && memmem(p, len, secret, strlen(secret)) != NULL;
        if (len && (after_auth || has_secret)) {
            memcpy(out + o, REDACTED, sizeof REDACTED - 1);
            o += sizeof REDACTED - 1;
        } else {
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c < 0x20 || c == 0x7f || (!clean && c >= 0x80))
                    o += (size_t)snprintf(out + o, 4, "%%%02X", c);
                else
                    out[o++] = (char)c;
            }
        }
        after_auth = len == 4 && memcmp(p, "auth", 4) == 0;
        if (!slash)
            break;
        out[o++] = '/';
        p = slash + 1;
    }
    out[o] = '\0';
    return out;
}
