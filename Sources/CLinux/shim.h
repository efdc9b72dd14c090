#ifndef WEBHOOKD_CLINUX_SHIM_H
#define WEBHOOKD_CLINUX_SHIM_H
// epoll, eventfd, signalfd and friends are not exported by Swift's Glibc module (STYLE.md §3, pitfall 10).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

// accept4(2) and naming a thread are GNU extensions that Swift's Glibc module (built without _GNU_SOURCE) does
// not declare. Defining _GNU_SOURCE here would give this module a second, different copy of <sys/socket.h>
// (transparent-union sockaddr arguments), so these helpers go through the stable kernel interfaces instead.

/// accept4(2), through syscall(2): same arguments, same result and errno.
static inline int CLinux_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return (int)syscall(SYS_accept4, fd, address, length, flags);
}

/// prctl(PR_SET_NAME, name): names the calling thread (15 bytes, longer names are truncated).
static inline int CLinux_prctl_PR_SET_NAME(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
/// posix_spawn_file_actions_addchdir_np (glibc 2.29): the child starts in `path`. A GNU extension as well,
/// declared here for the same reason; used by the tests' subprocess helper.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
static inline int CLinux_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

#endif
