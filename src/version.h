/* version: what /about and --version report. */
#ifndef GANOMEDE_VERSION_H
#define GANOMEDE_VERSION_H

#define CHAT_NAME "ganomede-chat"
#define CHAT_VERSION "2.0.0"
#define CHAT_DESCRIPTION "multi-room persistent chat service of the ganomede game backend (C, PostgreSQL)"

#endif
