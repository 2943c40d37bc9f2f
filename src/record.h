/* record: the chat's record on PostgreSQL (message_archive, legal holds,
 * the audit log; migration 0008): history pages for members, and the
 * moderation operations (search, export cursor, redaction, holds, audit
 * log), each one prepared statement on the store's pool. Knows nothing of
 * HTTP; answers are json-c trees in the API's shape (caller puts them). */
#ifndef GANOMEDE_RECORD_H
#define GANOMEDE_RECORD_H

#include <stdbool.h>

#include "store.h"

struct json_object;
struct record_cursor;

/* The messages a search or an export covers; NULL fields are no filter.
 * SINCE and UNTIL are epoch seconds as decimal text ([SINCE, UNTIL)). */
struct record_filter {
    const char *user;
    const char *room;
    const char *since;
    const char *until;
};

/* A history page of live room ROOM_ID: messages with an id below BEFORE (0:
 * from the newest), at most LIMIT, newest first, not redacted, stored since
 * the room was last created. TOKEN, when not NULL, is a table token looked
 * up by the same statement (its user in *CALLER, caller frees;
 * STORE_BAD_TOKEN when unknown). On STORE_OK: *USERS the room's users (a
 * JSON array) and *PAGE {"messages": [{"id", "timestamp", "from", "type",
 * "message"}], "next": "<id>" or null}; the caller puts both. */
__attribute__((warn_unused_result))
enum store_result record_history(struct store *st, const char *room_id, const char *token,
                                 bool fresh,
                                 long long before, long limit, char **caller,
                                 struct json_object **users, struct json_object **page,
                                 const char *req_id);

/* Long-poll's read: the messages of live room ROOM_ID newer than message
 * AFTER, at most LIMIT, from the primary, as record_history (TOKEN, *CALLER,
 * *USERS the same); *PAGE {"messages": newest first, "next": the newest
 * id, or AFTER when there is none}. */
__attribute__((warn_unused_result))
enum store_result record_history_after(struct store *st, const char *room_id, const char *token,
                                       long long after, long limit, char **caller,
                                       struct json_object **users, struct json_object **page,
                                       const char *req_id);

/* A search page: {"messages": [record message], "next": "<id>" or null},
 * newest first, redacted ones as tombstones (see docs/api.md). */
__attribute__((warn_unused_result))
enum store_result record_search(struct store *st, const struct record_filter *f,
                                long long before, long limit, struct json_object **page,
                                const char *req_id);

/* A cursor over everything F covers, newest first, fetched in batches so
 * that memory stays flat whatever the count (exports). The strings of F are
 * copied. NULL when out of memory. */
struct record_cursor *record_cursor_open(struct store *st, const struct record_filter *f,
                                         const char *req_id);

/* The next message (a record message object, caller puts it), or NULL at
 * the end or, with *FAILED, when a batch could not be read (logged). */
struct json_object *record_cursor_next(struct record_cursor *c, bool *failed);

void record_cursor_close(struct record_cursor *c);

/* Redacts message ID (chat_redact_message): STORE_NOT_FOUND when it is not
 * on record; else *RESULT {"id", "status": "redacted"|"already",
 * "redactedAt", "contentWiped"}. */
__attribute__((warn_unused_result))
enum store_result record_redact_message(struct store *st, long long id, const char *actor,
                                        const char *reason, struct json_object **result,
                                        const char *req_id);

/* Redacts everything USER sent (since SINCE, epoch seconds text, when not
 * NULL), BATCH messages per transaction, content wiped when ERASE; *COUNT
 * is how many (also when a later batch failed). STORE_HELD (nothing done)
 * when ERASE and a legal hold covers some of them. */
__attribute__((warn_unused_result))
enum store_result record_redact_user(struct store *st, const char *user, const char *since,
                                     bool erase, const char *actor, const char *reason,
                                     long batch, long *count, const char *req_id);

/* Puts a hold on KIND ("user" or "room") SUBJECT: *HOLD is the new hold. */
__attribute__((warn_unused_result))
enum store_result record_hold_set(struct store *st, const char *kind, const char *subject,
                                  const char *reason, const char *actor,
                                  struct json_object **hold, const char *req_id);

/* Lifts hold ID: STORE_NOT_FOUND when there is none; *RESULT {"id",
 * "status": "lifted"|"already", "liftedAt"}. */
__attribute__((warn_unused_result))
enum store_result record_hold_lift(struct store *st, long long id, const char *actor,
                                   const char *reason, struct json_object **result,
                                   const char *req_id);

/* The holds, newest first (the lifted ones too when ALL): {"holds": [...]}. */
__attribute__((warn_unused_result))
enum store_result record_holds(struct store *st, bool all, struct json_object **list,
                               const char *req_id);

/* An audit page: {"entries": [...], "next": "<id>" or null}. */
__attribute__((warn_unused_result))
enum store_result record_audit_page(struct store *st, long long before, long limit,
                                    struct json_object **page, const char *req_id);

/* Appends an audit row for an action that changes nothing (an export);
 * DETAILS is JSON text. */
__attribute__((warn_unused_result))
enum store_result record_audit_add(struct store *st, const char *actor, const char *action,
                                   const char *subject, const char *reason,
                                   const char *details, const char *req_id);

struct buf;

/* The first line of a CSV export (RFC 4180, CRLF). */
extern const char RECORD_CSV_HEADER[];

/* Appends record message M (record_cursor_next's) to B as one export line,
 * NDJSON or (CSV) the columns of RECORD_CSV_HEADER. False without memory. */
bool record_export_line(struct buf *b, struct json_object *m, bool csv);

/* An export's filter as the audit row's details (JSON text, caller frees;
 * NULL without memory). SINCE and UNTIL as the exporter wrote them. */
char *record_export_details(const char *user, const char *room, const char *since,
                            const char *until, bool csv);

#endif
