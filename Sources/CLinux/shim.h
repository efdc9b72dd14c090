#ifndef WEBHOOKD_CLINUX_SHIM_H
#define WEBHOOKD_CLINUX_SHIM_H
// epoll, eventfd and timerfd are not exported by Swift's Glibc module (STYLE.md §3, pitfall 10).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif
