-- 0001: the chat schema. Every table is keyed by room id first, so the
-- schema can later be distributed by room id (Citus) unchanged.

-- A room: the fixed list of users lives in room_users. last_seq is the
-- sequence of the newest message; bumping it takes the row lock that
-- serializes writers of one room, so message order is commit order.
CREATE TABLE rooms (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    last_seq    bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX rooms_expires_at_idx ON rooms (expires_at);

CREATE TABLE room_users (
    room_id   text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    username  text NOT NULL,
    PRIMARY KEY (room_id, username)
);

-- ts is the message timestamp exactly as the client sent it: the JSON
-- number's text, or the string's content when ts_is_string.
CREATE TABLE messages (
    room_id       text        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           bigint      NOT NULL,
    ts            text        NOT NULL,
    ts_is_string  boolean     NOT NULL,
    sender        text        NOT NULL,
    type          text        NOT NULL,
    message       text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq)
);

-- Shared with the other ganomede services (the authdb of the original):
-- another service may have created it first.
CREATE TABLE IF NOT EXISTS auth_tokens (
    token       text PRIMARY KEY,
    username    text NOT NULL,
    expires_at  timestamptz
);

-- Shared with the usermeta service: $banned, $chatdisabled, $muted, $blocked.
CREATE TABLE IF NOT EXISTS usermeta (
    username  text NOT NULL,
    key       text NOT NULL,
    value     text,
    PRIMARY KEY (username, key)
);

-- The transactional outbox: one row per notification to deliver, written in
-- the transaction that stores the message, deleted once the notifications
-- service answered 2xx. next_attempt_at doubles as a lease: a dispatcher
-- that claims a row pushes it forward, so other servers skip it meanwhile.
-- failed_at is set past the retry limit; such rows stay for operators.
CREATE TABLE notification_outbox (
    id               bigserial   PRIMARY KEY,
    room_id          text        NOT NULL,
    to_user          text        NOT NULL,
    type             text        NOT NULL,   -- 'message' or 'chat-disabled'
    data             text        NOT NULL,   -- JSON object
    push             text,                   -- JSON value, as the client sent it
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    failed_at        timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at)
    WHERE failed_at IS NULL;
