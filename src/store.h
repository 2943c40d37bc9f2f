/* store: the chat's operations on PostgreSQL (rooms, messages, tokens),
 * each one or two prepared queries. Knows nothing of HTTP. Table tokens
 * are sent to PostgreSQL as their SHA-256 only (digest.h). */
#ifndef GANOMEDE_STORE_H
#define GANOMEDE_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct db_pool;
struct replica_monitor;

struct json_object;
struct room_spec;
struct room_answer;
struct message_spec;

/* A notification a post queued, leased to this server: ID is its outbox
 * row, the rest its columns (PUSH may be NULL). The strings are borrowed
 * for the call. This is how a post hands its notifications to the
 * dispatcher (main sets it to outbox_hand_over) without the store knowing
 * the outbox. */
typedef void store_queued_fn(void *cls, const char *id, const char *to_user, const char *type,
                             const char *data, const char *push);

/* A room's version text (chat_room_version: three bigints) fits in this. */
#define STORE_VERSION_SIZE 72

struct store {
    struct db_pool *pool;      /* borrowed */
    struct db_pool *read_pool; /* borrowed; NULL: no read replica */
    struct replica_monitor *replica; /* says when read_pool may serve */
    long max_messages;
    long room_ttl_seconds;
    bool notify;               /* queue notifications in the outbox */
    bool archive;              /* keep every message in the record (ARCHIVE) */
    long archive_partition_seconds;  /* the expiry job's record maintenance */
    long archive_retention_days;
    long archive_clock_offset_seconds;
    long lease_ms;             /* how long this server's new outbox rows are its own */
    long idempotency_ttl_seconds; /* how long an Idempotency-Key is kept */
    store_queued_fn *queued;   /* gets each notification a post queued (the
                                  dispatcher's hand-over); may be NULL */
    void *queued_cls;
    struct room_cache *rooms;  /* borrowed; NULL: GET room reads every time */
};

enum store_result {
    STORE_OK,
    STORE_VALID,          /* checks passed, nothing written (check-only post) */
    STORE_NOT_FOUND,      /* no such live room, or no such valid token */
    STORE_BAD_TOKEN,      /* the table token is unknown or expired: 401 */
    STORE_NOT_MEMBER,
    STORE_BANNED,
    STORE_CHAT_DISABLED,
    STORE_MUTED,
    STORE_CONFLICT,       /* a live room of that id has another type or users: 409 */
    STORE_HELD,           /* a legal hold covers what was to be erased: 409 */
    STORE_UNAVAILABLE,    /* 503 */
    STORE_POLICIES_DOWN,  /* the usermeta Redis does not answer: 503 */
    STORE_DUPLICATE,      /* an Idempotency-Key seen before: answered as then, nothing stored */
    STORE_KEY_MISMATCH,   /* an Idempotency-Key seen before with another body: 422 */
    STORE_RATE_LIMITED,   /* too many posts: 429 */
    STORE_ERROR,          /* 500 */
};

/* The user of table token TOKEN: STORE_OK with *USERNAME (caller frees), or
 * STORE_NOT_FOUND when unknown or expired. */
__attribute__((warn_unused_result))
enum store_result store_lookup_token(struct store *st, const char *token, char **username,
                                     const char *req_id);

/* STORE_BANNED when USERNAME's policies ban it, else STORE_OK (or a
 * failure). POLICIES: the values read from the usermeta Redis as JSON text
 * (usermeta.h), or NULL to read the usermeta table; the same for every
 * POLICIES below. */
__attribute__((warn_unused_result))
enum store_result store_is_banned(struct store *st, const char *username, const char *policies,
                                  const char *req_id);

/* Where a read goes: the read replica's pool when there is one, it is
 * usable (up, within its lag bound: replica.h), and the reader did not
 * write lately (FRESH false); else the primary's. */
struct db_pool *store_read_pool(struct store *st, bool fresh);

/* The live room ROOM_ID as the API's JSON {id, type, users, messages}
 * (caller puts *ROOM), or STORE_NOT_FOUND. TOKEN, when not NULL, is a table
 * token looked up in the same statement: its user in *CALLER (caller frees),
 * or STORE_BAD_TOKEN (and the room is not read) when unknown or expired.
 * CALLER may be NULL when TOKEN is. Read where store_read_pool(FRESH)
 * says; an answer other than STORE_OK from a replica (a token or room it
 * has not replayed yet, a replica gone) is asked again of the primary. */
__attribute__((warn_unused_result))
enum store_result store_get_room(struct store *st, const char *room_id, const char *token,
                                 bool fresh, char **caller, struct json_object **room,
                                 const char *req_id);

/* store_get_room for GET room, through ST's room cache: when the cache
 * holds the room's answer at the version PostgreSQL still has, that answer
 * (no message read); else a new one, kept in the cache. On STORE_OK,
 * *ANSWER is a reference the caller releases (room_answer_release) and
 * *CALLER as store_get_room's. */
__attribute__((warn_unused_result))
enum store_result store_get_room_answer(struct store *st, const char *room_id,
                                        const char *token, bool fresh, char **caller,
                                        struct room_answer **answer, const char *req_id);

/* Creates SPEC's room or refreshes the live one, in one statement
 * (open_room.sql); CALLER (NULL for the API secret) is checked for a ban
 * first (STORE_BANNED). TOKEN, when not NULL, is the table token whose
 * remembered user CALLER is: the statement checks it (STORE_BAD_TOKEN).
 * STORE_CONFLICT, with nothing changed, when the live room of SPEC's id
 * has another type or other users. The live room's expiry is written only
 * when it moves by more than 1 % of the TTL. On STORE_OK, *ANSWER is the
 * room's answer with its messages (a reference the caller releases: the
 * room cache's when the room is there at the version it holds). */
__attribute__((warn_unused_result))
enum store_result store_create_room(struct store *st, const struct room_spec *spec,
                                    const char *caller, const char *token,
                                    const char *policies, struct room_answer **answer,
                                    const char *req_id);

/* A write's Idempotency-Key (docs/api.md): KEY (NULL: none) and the
 * request body it was sent with (compared by its SHA-256). */
struct store_idempotency {
    const char *key;
    const char *body;
    size_t body_len;
};

/* Posts MSG from SENDER ("$$" with IS_SECRET) to ROOM_ID after the sender
 * and room checks, and queues its notifications (with PUSH, the body's push
 * value, may be NULL) in the same transaction, each passed to st->queued.
 * TOKEN, when not NULL, is the table token SENDER was taken from without a
 * lookup (a cached name): the same statement checks it first, and
 * STORE_BAD_TOKEN says it is not (or no longer) SENDER's valid token.
 * MSG NULL runs the checks only (STORE_VALID when all pass). STORE_MUTED
 * means nothing was stored and the caller answers 200. */
__attribute__((warn_unused_result))
enum store_result store_post_message(struct store *st, const char *room_id, const char *sender,
                                     const char *token, bool is_secret,
                                     const struct message_spec *msg, struct json_object *push,
                                     const char *policies, const struct store_idempotency *idem,
                                     const char *req_id);

/* Creates SPEC's room when missing and appends MSG from "$$";
 * STORE_CONFLICT (nothing stored) as store_create_room. */
__attribute__((warn_unused_result))
enum store_result store_system_message(struct store *st, const struct room_spec *spec,
                                       const struct message_spec *msg, const char *policies,
                                       const struct store_idempotency *idem, const char *req_id);

/* The newest migration applied, in *VERSION, and the one this binary needs,
 * in *REQUIRED (known without the database); *READ_ONLY when the server
 * refuses writes (a standby). */
__attribute__((warn_unused_result))
enum store_result store_schema_version(struct store *st, long *version, long *required,
                                       bool *read_only, const char *req_id);

/* How many connections the store's pool has, and how many are in use. */
void store_pool_stats(struct store *st, long *size, long *in_use);

/* Notifications waiting, and kept as failed, in the outbox. */
__attribute__((warn_unused_result))
enum store_result store_outbox_stats(struct store *st, long *pending, long *failed,
                                     const char *req_id);

/* What the expiry job did to the record: partitions created ahead,
 * partitions dropped by retention, rows they held (those under a hold
 * kept). */
struct store_archive_report {
    long created;
    long dropped;
    long rows_dropped;
    long rows_kept;
};

/* Deletes expired rooms in transactions of at most BATCH rooms until none
 * is left, then maintains the record (partitions ahead, retention: *ARCHIVE),
 * holding the expiry lock (one runner across every server) on one
 * connection of the pool meanwhile. *SKIPPED (nothing done, STORE_OK) when
 * another server holds it. *DELETED counts the rooms deleted, also when a
 * later step failed. */
__attribute__((warn_unused_result))
enum store_result store_expire_rooms(struct store *st, long batch, long *deleted, bool *skipped,
                                     struct store_archive_report *archive, const char *req_id);

#endif
