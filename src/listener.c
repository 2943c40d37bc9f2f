/* listener: getaddrinfo, socket, bind, listen; the errno of the step that
 * failed goes into the message. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections the kernel queues while every worker is busy. */
#define LISTENER_BACKLOG 1024

static int listener_try(const struct addrinfo *ai, int *err_no);
static int listener_first(const char *address, const char *service, int family, bool *ipv6,
                          int *err_no, int *gai);

void listener_describe(const char *address, long port, char *out, size_t outlen)
{
    const char *host = *address ? address : "::";
    if (strchr(host, ':'))
        snprintf(out, outlen, "[%s]:%ld", host, port);
    else
        snprintf(out, outlen, "%s:%ld", host, port);
}

/* One candidate address: a bound, listening socket, or -1 with *ERR_NO. */
static int listener_try(const struct addrinfo *ai, int *err_no)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    int on = 1, off = 0;
    /* A restarted server may bind while old connections sit in TIME_WAIT;
     * a port another server listens on stays refused (no SO_REUSEPORT). */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    /* "::" takes IPv4 clients too, as Node.js's listen() does. */
    if (ai->ai_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTENER_BACKLOG) != 0) {
        *err_no = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* The first address of FAMILY for ADDRESS ("" : every interface) that
 * binds: its socket, or -1 with *ERR_NO (errno) or *GAI (getaddrinfo). */
static int listener_first(const char *address, const char *service, int family, bool *ipv6,
                          int *err_no, int *gai)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_family = family,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *list = NULL;
    *gai = getaddrinfo(*address ? address : NULL, service, &hints, &list);
    if (*gai != 0)
        return -1;
    int fd = -1;
    for (const struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = listener_try(ai, err_no);
        *ipv6 = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(list);
    return fd;
}

int listener_open(const char *address, long port, bool *ipv6, char *err, size_t errlen)
{
    char where[300], service[16];
    listener_describe(address, port, where, sizeof where);
    snprintf(service, sizeof service, "%ld", port);
    int err_no = 0, gai = 0;
    /* Every interface: IPv6 with IPv4 mapped in, or IPv4 alone on a host
     * without IPv6. */
    int fd = listener_first(address, service, *address ? AF_UNSPEC : AF_INET6, ipv6, &err_no,
                            &gai);
    if (fd < 0 && !*address && (gai != 0 || err_no == EAFNOSUPPORT))
        fd = listener_first(address, service, AF_INET, ipv6, &err_no, &gai);
    if (fd >= 0)
        return fd;
    if (gai != 0)
        snprintf(err, errlen, "cannot listen on %s (LISTEN_ADDRESS): %s", where,
                 gai_strerror(gai));
    else
        snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(err_no));
    return -1;
}
