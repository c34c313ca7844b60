// Compiled so SwiftPM treats CMailPortSystem as a C target; its header declares the Linux interfaces Swift uses.
#define _GNU_SOURCE
#include "CMailPortSystem.h"
#include <string.h>
#include <sys/uio.h>

int mailport_send_batch(int fd, const struct mailport_packet *packets, unsigned int count) {
    enum { most = 256 };
    struct mmsghdr messages[most];
    struct iovec vectors[most];
    if (count > most) count = most;
    memset(messages, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        vectors[i].iov_base = (void *)packets[i].bytes;
        vectors[i].iov_len = packets[i].length;
        messages[i].msg_hdr.msg_name = (void *)packets[i].address;
        messages[i].msg_hdr.msg_namelen = packets[i].address_length;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    return sendmmsg(fd, messages, count, 0);
}
