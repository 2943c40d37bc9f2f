/* room_cache: the answers of GET room this server gave lately, each with the
 * room's version (migration 0014), so that a room read again costs
 * PostgreSQL one indexed row (is the version still this one? is the token
 * valid?) instead of its hundred messages. Exact across server copies: every
 * read still asks PostgreSQL, which answers with the messages whenever the
 * version moved (a post, a redaction, a room created again).
 *
 * Answers are immutable once made and shared by reference count, so one
 * thread sends an answer while another replaces or evicts it. Bodies are
 * kept gzipped: sent as they are to clients that take gzip, inflated (a few
 * microseconds) for the others. The cache holds at most its budget of bytes
 * (ROOM_CACHE_BYTES), least recently used out first. Thread-safe. */
#ifndef GANOMEDE_ROOM_CACHE_H
#define GANOMEDE_ROOM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct room_cache;

/* One room's answer: read-only for everyone once made. */
struct room_answer {
    const char *room_id;
    const char *version;       /* chat_room_version's text */
    const char *const *users;  /* the room's users, NUSERS of them */
    size_t nusers;
    const char *body;          /* the JSON answer, gzipped when GZIPPED */
    size_t body_len;
    size_t plain_len;          /* the JSON's length before gzip */
    bool gzipped;
};

/* Counters and sizes, for /metrics. */
struct room_cache_stats {
    long entries;
    long bytes;
    long hits;     /* reads answered from the cache */
    long misses;   /* reads that had to take the messages */
};

/* A cache of at most MAX_BYTES, or NULL when MAX_BYTES is 0 (off) or memory
 * runs out. Every function below accepts a NULL cache: nothing is kept. */
struct room_cache *room_cache_new(size_t max_bytes);
void room_cache_free(struct room_cache *c);

/* The answer of ROOM_ID that C holds (a reference the caller releases with
 * room_answer_release), or NULL. */
struct room_answer *room_cache_get(struct room_cache *c, const char *room_id);

/* Keeps ANSWER (C takes its own reference; the caller keeps its one) in
 * place of any other of its room, evicting the least recently used ones
 * until C is within its budget. An answer larger than a shard's budget is
 * not kept. */
void room_cache_put(struct room_cache *c, struct room_answer *answer);

/* Counts a read that the cache answered (HIT) or not. */
void room_cache_count(struct room_cache *c, bool hit);

/* C's counters now (all zero for NULL). */
struct room_cache_stats room_cache_stats(struct room_cache *c);

/* A new answer for ROOM_ID at VERSION with USERS (a JSON array of strings,
 * borrowed) and the JSON body JSON (LEN bytes), all copied; gzipped when
 * GZIP. One reference, the caller's. NULL when out of memory or when USERS
 * is not an array of strings. */
struct room_answer *room_answer_new(const char *room_id, const char *version,
                                    struct json_object *users, const char *json, size_t len,
                                    bool gzip);

/* True when USERNAME is one of A's users. */
bool room_answer_has_user(const struct room_answer *a, const char *username);

/* Takes one more reference to A (for a response that outlives the
 * request); returns A. */
struct room_answer *room_answer_ref(struct room_answer *a);

/* Drops one reference to A (NULL: nothing); the last frees it. */
void room_answer_release(struct room_answer *a);

#endif
