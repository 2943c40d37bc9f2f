/* router: the route table, and segment-wise matching of the raw path
 * against it. */
#include "router.h"

#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_SEGMENTS 16

/* Every route, one row each. Rows of the same path differ by method (GET
 * history and POST messages share theirs); otherwise the order does not
 * matter. */
static const struct route_def ROUTER_TABLE[] = {
    { ROUTE_ABOUT, "about", "/about", ROUTER_GET },
    { ROUTE_ABOUT, "about", "about", ROUTER_GET },
    { ROUTE_METRICS, "metrics", "metrics", ROUTER_GET },
    { ROUTE_HEALTH, "health", "health", ROUTER_GET | ROUTER_HEAD },
    { ROUTE_PING, "ping", "ping/:token", ROUTER_GET | ROUTER_HEAD },
    { ROUTE_CREATE_ROOM, "create_room", "auth/:authToken/rooms", ROUTER_POST },
    { ROUTE_MY_ROOMS, "my_rooms", "auth/:authToken/rooms", ROUTER_GET },
    { ROUTE_READ_MARKER, "read_marker", "auth/:authToken/rooms/:roomId/read", ROUTER_POST },
    { ROUTE_SYSTEM_MESSAGE, "system_message", "auth/:authToken/system-messages", ROUTER_POST },
    { ROUTE_GET_ROOM, "get_room", "auth/:authToken/rooms/:roomId", ROUTER_GET },
    { ROUTE_POST_MESSAGE, "post_message", "auth/:authToken/rooms/:roomId/messages",
      ROUTER_POST },
    { ROUTE_HISTORY, "history", "auth/:authToken/rooms/:roomId/messages", ROUTER_GET },
    { ROUTE_RECORD_SEARCH, "record_search", "auth/:authToken/archive/messages", ROUTER_GET },
    { ROUTE_RECORD_EXPORT, "record_export", "auth/:authToken/archive/export", ROUTER_GET },
    { ROUTE_REDACT_MESSAGE, "redact_message", "auth/:authToken/archive/messages/:messageId/redact",
      ROUTER_POST },
    { ROUTE_REDACT_USER, "redact_user", "auth/:authToken/archive/users/:username/redact",
      ROUTER_POST },
    { ROUTE_HOLDS, "holds", "auth/:authToken/holds", ROUTER_GET },
    { ROUTE_HOLD_SET, "hold_set", "auth/:authToken/holds", ROUTER_POST },
    { ROUTE_HOLD_LIFT, "hold_lift", "auth/:authToken/holds/:holdId/lift", ROUTER_POST },
    { ROUTE_AUDIT, "audit", "auth/:authToken/audit", ROUTER_GET },
    { ROUTE_EVENTS, "events", "auth/:authToken/events", ROUTER_GET },
    { ROUTE_CONSOLE, "console", "console", ROUTER_GET },
    { ROUTE_CONSOLE_FILE, "console_file", "console/:file", ROUTER_GET },
};
#define ROUTER_ROWS ((int)(sizeof ROUTER_TABLE / sizeof ROUTER_TABLE[0]))

struct segment {
    const char *start;
    size_t len;
};

static size_t router_split(const char *path, struct segment *segs, size_t max, bool *too_many);
static bool router_seg_is(const struct segment *s, const char *word, size_t len);
static bool router_take_param(const struct segment *s, char **out, bool *present);
static unsigned router_method_bit(const char *method);
static bool router_fits(const struct route_def *def, const struct segment *segs, size_t n,
                        const struct segment *pre, size_t np, const struct segment **tail,
                        struct segment *pat);
static bool router_take_params(const struct segment *pat, const struct segment *tail, size_t k,
                               struct route_match *out);

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

static bool router_seg_is(const struct segment *s, const char *word, size_t len)
{
    return s->len == len && memcmp(s->start, word, len) == 0;
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

static unsigned router_method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0)
        return ROUTER_GET;
    if (strcmp(method, "HEAD") == 0)
        return ROUTER_HEAD;
    if (strcmp(method, "POST") == 0)
        return ROUTER_POST;
    return 0;
}

/* True when the path's segments SEGS (N of them) have DEF's shape: the
 * prefix PRE (NP segments) unless the pattern starts at the root, then as
 * many segments as the pattern, its literal ones equal. *TAIL is then the
 * first segment after the prefix, and PAT the pattern's segments. */
static bool router_fits(const struct route_def *def, const struct segment *segs, size_t n,
                        const struct segment *pre, size_t np, const struct segment **tail,
                        struct segment *pat)
{
    bool from_root = def->pattern[0] == '/';
    bool too_many;
    size_t k = router_split(def->pattern, pat, ROUTER_MAX_SEGMENTS, &too_many);
    size_t skip = from_root ? 0 : np;
    if (n != skip + k)
        return false;
    for (size_t i = 0; i < skip; i++)
        if (!router_seg_is(&segs[i], pre[i].start, pre[i].len))
            return false;
    *tail = segs + skip;
    for (size_t i = 0; i < k; i++)
        if (pat[i].start[0] != ':' && !router_seg_is(&(*tail)[i], pat[i].start, pat[i].len))
            return false;
    return true;
}

/* Decodes the parameters of a matched path into OUT; false when out of
 * memory (OUT then freed). */
static bool router_take_params(const struct segment *pat, const struct segment *tail, size_t k,
                               struct route_match *out)
{
    for (size_t i = 0; i < k; i++) {
        bool ok = true;
        if (router_seg_is(&pat[i], ":authToken", 10) || router_seg_is(&pat[i], ":token", 6))
            ok = router_take_param(&tail[i], &out->token, &out->token_present);
        else if (router_seg_is(&pat[i], ":roomId", 7))
            ok = router_take_param(&tail[i], &out->room_id, &out->room_present);
        else if (pat[i].start[0] == ':')
            ok = router_take_param(&tail[i], &out->subject, &out->subject_present);
        if (!ok) {
            router_match_free(out);
            return false;
        }
    }
    return true;
}

bool router_match(const char *method, const char *path, const char *prefix,
                  struct route_match *out)
{
    struct segment segs[ROUTER_MAX_SEGMENTS], pre[ROUTER_MAX_SEGMENTS], pat[ROUTER_MAX_SEGMENTS];
    bool too_many, pre_too_many;
    memset(out, 0, sizeof *out);
    out->row = -1;
    size_t n = router_split(path, segs, ROUTER_MAX_SEGMENTS, &too_many);
    size_t np = router_split(prefix, pre, ROUTER_MAX_SEGMENTS, &pre_too_many);
    if (too_many || pre_too_many)
        return true;
    /* The first row of the path's shape, unless a later one of the same
     * shape takes the method (then that one). */
    unsigned bit = router_method_bit(method);
    int found = -1;
    const struct segment *tail = NULL, *row_tail = NULL;
    struct segment row_pat[ROUTER_MAX_SEGMENTS];
    for (int row = 0; row < ROUTER_ROWS; row++) {
        if (!router_fits(&ROUTER_TABLE[row], segs, n, pre, np, &row_tail, row_pat))
            continue;
        if (found < 0 || (ROUTER_TABLE[row].methods & bit)) {
            found = row;
            tail = row_tail;
            memcpy(pat, row_pat, sizeof pat);
        }
        if (ROUTER_TABLE[row].methods & bit)
            break;
    }
    if (found < 0)
        return true;
    const struct route_def *def = &ROUTER_TABLE[found];
    if (!router_take_params(pat, tail, n - (def->pattern[0] == '/' ? 0 : np), out))
        return false;
    out->row = found;
    out->route = def->route;
    out->method_allowed = (def->methods & bit) != 0;
    return true;
}

void router_match_free(struct route_match *m)
{
    free(m->token);
    free(m->room_id);
    free(m->subject);
    m->token = NULL;
    m->room_id = NULL;
    m->subject = NULL;
}

const struct route_def *router_row(int row)
{
    return row >= 0 && row < ROUTER_ROWS ? &ROUTER_TABLE[row] : NULL;
}

const char *router_route_name(enum route r)
{
    for (int row = 0; row < ROUTER_ROWS; row++)
        if (ROUTER_TABLE[row].route == r)
            return ROUTER_TABLE[row].name;
    return "not_found";
}

void router_restify_name(int row, const char *method, const char *prefix, char *out,
                         size_t outlen)
{
    const struct route_def *def = router_row(row);
    if (outlen == 0)
        return;
    if (!def) {
        snprintf(out, outlen, "%s", "invalid_route");
        return;
    }
    /* restify: lower-case method and path, every non-word character
     * dropped; a root pattern has no prefix. */
    char full[256];
    if (def->pattern[0] == '/')
        snprintf(full, sizeof full, "%s%s", method, def->pattern);
    else
        snprintf(full, sizeof full, "%s%s/%s", method, prefix, def->pattern);
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
