#ifndef C_MAILPORT_SYSTEM_H
#define C_MAILPORT_SYSTEM_H
// Linux interfaces that Swift's Glibc module does not export. epoll is the readiness API the discovery stage's
// connect loop is built on (<sys/epoll.h> is not part of the Glibc module map).
#include <sys/epoll.h>
#endif
