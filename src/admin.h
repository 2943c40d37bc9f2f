/* admin: the operators' command line, `ganomede-chat token|policy|room|
 * redact|hold|export ...`
 * (docs/operations.md, "Command line"): table tokens, user policies and
 * rooms, acting on the tables (DATABASE_URL); where the original's Redis
 * links are configured for tokens or policies, it says so and does
 * nothing. Every change is written to the audit log with --actor and
 * --reason. Plain output on a terminal, JSON with --json. */
#ifndef GANOMEDE_ADMIN_H
#define GANOMEDE_ADMIN_H

#include <stdbool.h>

#include "config.h"

/* True when CMD is one of admin's commands. */
bool admin_is_command(const char *cmd);

/* Runs ARGV (ARGV[0] the command). Exit code: 0 done, 1 not found or
 * refused (or the database failed), 2 usage. */
int admin_main(const struct config *cfg, int argc, char **argv);

#endif
