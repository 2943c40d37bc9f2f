/* room_cache: shards, each a chained hash table of answers by room id with
 * its own lock, its own share of the byte budget and its own recency list
 * (most recently used at the head). A room's id picks its shard, so one
 * lock guards everything about a room. Answers are reference counted: the
 * cache holds one reference, each request serving it another. */
#include "room_cache.h"

#include "gzip.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROOM_CACHE_SHARDS 16
#define ROOM_CACHE_MIN_BUCKETS 64

/* An answer with what the cache and the reference count need. The public
 * part comes first, so a struct room_answer * is one of these. */
struct room_entry {
    struct room_answer a;
    atomic_long refs;
    size_t bytes;                 /* what it counts against the budget */
    uint64_t hash;
    struct room_entry *chain;     /* next in its bucket */
    struct room_entry *newer, *older;  /* recency list */
    bool cached;                  /* in a shard now (under its lock) */
};

struct room_shard {
    pthread_mutex_t lock;
    struct room_entry **buckets;
    size_t nbuckets;              /* a power of two */
    size_t count;
    size_t bytes;
    struct room_entry *newest, *oldest;
};

struct room_cache {
    size_t shard_budget;
    uint64_t seed;
    atomic_long hits, misses;
    struct room_shard shards[ROOM_CACHE_SHARDS];
};

static uint64_t room_cache_hash(const struct room_cache *c, const char *room_id);
static struct room_shard *room_cache_shard(struct room_cache *c, uint64_t hash);
static struct room_entry **room_shard_slot(struct room_shard *s, uint64_t hash,
                                           const char *room_id);
static void room_shard_unlist(struct room_shard *s, struct room_entry *e);
static void room_shard_unlink(struct room_shard *s, struct room_entry *e);
static void room_shard_push(struct room_shard *s, struct room_entry *e);
static void room_shard_grow(struct room_shard *s);
static bool room_answer_set_users(struct room_entry *e, struct json_object *users);

struct room_cache *room_cache_new(size_t max_bytes)
{
    if (max_bytes == 0)
        return NULL;
    struct room_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->shard_budget = max_bytes / ROOM_CACHE_SHARDS;
    /* Seeded at random, so that nobody can aim room ids at one chain. */
    if (getrandom(&c->seed, sizeof c->seed, 0) != (ssize_t)sizeof c->seed)
        c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < ROOM_CACHE_SHARDS; i++) {
        struct room_shard *s = &c->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->nbuckets = ROOM_CACHE_MIN_BUCKETS;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        if (!s->buckets) {
            room_cache_free(c);
            return NULL;
        }
    }
    return c;
}

void room_cache_free(struct room_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ROOM_CACHE_SHARDS; i++) {
        struct room_shard *s = &c->shards[i];
        while (s->oldest) {
            struct room_entry *e = s->oldest;
            room_shard_unlink(s, e);
            room_answer_release(&e->a);
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

/* FNV-1a over the seed and the id. */
static uint64_t room_cache_hash(const struct room_cache *c, const char *room_id)
{
    uint64_t h = 14695981039346656037u ^ c->seed;
    for (const unsigned char *p = (const unsigned char *)room_id; *p; p++) {
        h ^= *p;
        h *= 1099511628211u;
    }
    return h;
}

/* The high bits pick the shard, the low ones the bucket within it. */
static struct room_shard *room_cache_shard(struct room_cache *c, uint64_t hash)
{
    return &c->shards[(hash >> 56) % ROOM_CACHE_SHARDS];
}

/* Where ROOM_ID's entry is linked in S's table (*slot is NULL when absent). */
static struct room_entry **room_shard_slot(struct room_shard *s, uint64_t hash,
                                           const char *room_id)
{
    struct room_entry **slot = &s->buckets[hash & (s->nbuckets - 1)];
    while (*slot && ((*slot)->hash != hash || strcmp((*slot)->a.room_id, room_id) != 0))
        slot = &(*slot)->chain;
    return slot;
}

/* Takes E out of S's recency list (S's lock held). */
static void room_shard_unlist(struct room_shard *s, struct room_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = e->older = NULL;
}

/* Takes E out of S's table and recency list (S's lock held). */
static void room_shard_unlink(struct room_shard *s, struct room_entry *e)
{
    struct room_entry **slot = room_shard_slot(s, e->hash, e->a.room_id);
    if (*slot == e)
        *slot = e->chain;
    room_shard_unlist(s, e);
    e->chain = NULL;
    e->cached = false;
    s->count--;
    s->bytes -= e->bytes;
}

/* Puts E at the head of S's recency list (S's lock held). */
static void room_shard_push(struct room_shard *s, struct room_entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    s->newest = e;
    if (!s->oldest)
        s->oldest = e;
}

/* Doubles S's table once it holds twice as many entries as buckets; when
 * memory runs out the chains just grow longer. */
static void room_shard_grow(struct room_shard *s)
{
    if (s->count < 2 * s->nbuckets)
        return;
    size_t n = s->nbuckets * 2;
    struct room_entry **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        while (s->buckets[i]) {
            struct room_entry *e = s->buckets[i];
            s->buckets[i] = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

struct room_answer *room_cache_get(struct room_cache *c, const char *room_id)
{
    if (!c)
        return NULL;
    uint64_t hash = room_cache_hash(c, room_id);
    struct room_shard *s = room_cache_shard(c, hash);
    pthread_mutex_lock(&s->lock);
    struct room_entry *e = *room_shard_slot(s, hash, room_id);
    if (e) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        room_shard_unlist(s, e);
        room_shard_push(s, e);
    }
    pthread_mutex_unlock(&s->lock);
    return e ? &e->a : NULL;
}

void room_cache_put(struct room_cache *c, struct room_answer *answer)
{
    struct room_entry *e = (struct room_entry *)answer;
    if (!c || !e || e->bytes > c->shard_budget)
        return;
    uint64_t hash = room_cache_hash(c, e->a.room_id);
    struct room_shard *s = room_cache_shard(c, hash);
    struct room_entry *gone = NULL;   /* released after the lock */
    pthread_mutex_lock(&s->lock);
    if (!e->cached) {
        struct room_entry *old = *room_shard_slot(s, hash, e->a.room_id);
        if (old) {
            room_shard_unlink(s, old);
            old->chain = gone;
            gone = old;
        }
        while (s->oldest && s->bytes + e->bytes > c->shard_budget) {
            struct room_entry *victim = s->oldest;
            room_shard_unlink(s, victim);
            victim->chain = gone;
            gone = victim;
        }
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        e->hash = hash;
        struct room_entry **slot = room_shard_slot(s, hash, e->a.room_id);
        e->chain = *slot;
        *slot = e;
        e->cached = true;
        room_shard_push(s, e);
        s->count++;
        s->bytes += e->bytes;
        room_shard_grow(s);
    }
    pthread_mutex_unlock(&s->lock);
    while (gone) {
        struct room_entry *next = gone->chain;
        room_answer_release(&gone->a);
        gone = next;
    }
}

void room_cache_count(struct room_cache *c, bool hit)
{
    if (c)
        atomic_fetch_add_explicit(hit ? &c->hits : &c->misses, 1, memory_order_relaxed);
}

struct room_cache_stats room_cache_stats(struct room_cache *c)
{
    struct room_cache_stats st = { 0 };
    if (!c)
        return st;
    for (size_t i = 0; i < ROOM_CACHE_SHARDS; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        st.entries += (long)c->shards[i].count;
        st.bytes += (long)c->shards[i].bytes;
        pthread_mutex_unlock(&c->shards[i].lock);
    }
    st.hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    st.misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
    return st;
}

/* E's users from USERS, in one allocation with their names. */
static bool room_answer_set_users(struct room_entry *e, struct json_object *users)
{
    bool ok = json_object_is_type(users, json_type_array);
    size_t n = ok ? json_object_array_length(users) : 0, bytes = n * sizeof(char *);
    for (size_t i = 0; ok && i < n; i++) {
        struct json_object *u = json_object_array_get_idx(users, i);
        ok = json_object_is_type(u, json_type_string);
        bytes += ok ? (size_t)json_object_get_string_len(u) + 1 : 0;
    }
    char **names = ok ? malloc(bytes ? bytes : 1) : NULL;
    if (names) {
        char *text = (char *)(names + n);
        for (size_t i = 0; i < n; i++) {
            struct json_object *u = json_object_array_get_idx(users, i);
            size_t len = (size_t)json_object_get_string_len(u);
            memcpy(text, json_object_get_string(u), len + 1);
            names[i] = text;
            text += len + 1;
        }
        e->a.users = (const char *const *)names;
        e->a.nusers = n;
        e->bytes += bytes;
    }
    return names != NULL;
}

struct room_answer *room_answer_new(const char *room_id, const char *version,
                                    struct json_object *users, const char *json, size_t len,
                                    bool gzip)
{
    struct room_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    char *id = strdup(room_id), *v = strdup(version);
    e->a.room_id = id;
    e->a.version = v;
    e->a.plain_len = len;
    size_t zlen = len;
    const char *from = json;
    /* gzip_compress's buffer has room for the worst case (more than the
     * JSON itself): kept, it would hold ten times the bytes counted. */
    char *z = gzip ? gzip_compress(json, len, &zlen) : NULL;
    if (z)
        from = z;
    char *body = gzip && !z ? NULL : malloc(zlen ? zlen : 1);
    if (body)
        memcpy(body, from, zlen);
    free(z);
    e->a.body = body;
    e->a.body_len = zlen;
    e->a.gzipped = gzip;
    e->bytes = sizeof *e + zlen + (id ? strlen(id) + 1 : 0) + (v ? strlen(v) + 1 : 0);
    if (!id || !v || !body || !room_answer_set_users(e, users)) {
        room_answer_release(&e->a);
        return NULL;
    }
    return &e->a;
}

bool room_answer_has_user(const struct room_answer *a, const char *username)
{
    for (size_t i = 0; username && i < a->nusers; i++)
        if (strcmp(a->users[i], username) == 0)
            return true;
    return false;
}

struct room_answer *room_answer_ref(struct room_answer *a)
{
    struct room_entry *e = (struct room_entry *)a;
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return a;
}

void room_answer_release(struct room_answer *a)
{
    struct room_entry *e = (struct room_entry *)a;
    if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    union { const void *in; void *out; } un;
    un.in = e->a.room_id;
    free(un.out);
    un.in = e->a.version;
    free(un.out);
    un.in = e->a.users;
    free(un.out);
    un.in = e->a.body;
    free(un.out);
    free(e);
}
