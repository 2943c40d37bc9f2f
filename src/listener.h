/* listener: the server's listening socket, bound before anything else is
 * opened, so that a second server on a busy port says why and exits at
 * once instead of first opening its database connections. */
#ifndef GANOMEDE_LISTENER_H
#define GANOMEDE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

/* A listening TCP socket on ADDRESS (LISTEN_ADDRESS: an IPv4 or IPv6
 * address or a host name; "" for every interface, IPv6 and IPv4 when the
 * host has IPv6) and PORT. Returns the descriptor (the caller closes it),
 * or -1 with the reason in ERR, e.g. "cannot listen on 0.0.0.0:8000:
 * Address already in use". *IPV6 says whether it is an IPv6 socket. */
__attribute__((warn_unused_result))
int listener_open(const char *address, long port, bool *ipv6, char *err, size_t errlen);

/* ADDRESS and PORT as a person writes them: "[::]:8000", "127.0.0.1:8000". */
void listener_describe(const char *address, long port, char *out, size_t outlen);

#endif
