#ifndef C_MAILPORT_SYSTEM_H
#define C_MAILPORT_SYSTEM_H
// Linux interfaces that Swift's Glibc module does not export. epoll is the readiness API the discovery stage's
// connect loop is built on (<sys/epoll.h> is not part of the Glibc module map); sendmmsg (a GNU extension) sends
// SYN discovery's packets in batches.
#include <sys/epoll.h>
#include <stddef.h>
#include <sys/socket.h>

/// One packet of a batch: bytes, and where they go (a sockaddr_in or sockaddr_in6).
struct mailport_packet {
    const void *bytes;
    size_t length;
    const struct sockaddr *address;
    socklen_t address_length;
};

/// Sends up to `count` packets with one sendmmsg(2) call; returns how many were sent, or -1 with errno set.
int mailport_send_batch(int fd, const struct mailport_packet *packets, unsigned int count);
#endif
