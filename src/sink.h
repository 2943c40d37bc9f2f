/* sink: `ganomede-chat notify-sink`, a stand-in notifications service for
 * development: it answers 200 to every POST of a notification and prints
 * each as a readable line (or its JSON without the secret) on stderr, so
 * that `make run` shows who would have been notified of what. Not for
 * production: it keeps nothing. */
#ifndef GANOMEDE_SINK_H
#define GANOMEDE_SINK_H

/* ARGV after "notify-sink": --port P (default 8080), --json. Listens on
 * 127.0.0.1 until SIGINT or SIGTERM, or until its parent process is gone.
 * Exit code: 0, 1 when the port cannot be bound, 2 usage. */
int sink_main(int argc, char **argv);

#endif
