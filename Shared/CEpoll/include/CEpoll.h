#ifndef AMTSWEG_CEPOLL_H
#define AMTSWEG_CEPOLL_H

// Thin wrappers over Linux calls and constants that Swift's Glibc module does not export
// (epoll, eventfd, accept4 flags, MSG_NOSIGNAL). Every function returns what the system call
// returns; errno is left for the caller. Nothing here allocates or keeps state.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One readiness event, flattened so Swift does not meet the packed `struct epoll_event`.
typedef struct {
    uint32_t events;
    uint64_t token;
} cepoll_event_t;

/// Event bits, as plain integers.
extern const uint32_t CEPOLL_IN;
extern const uint32_t CEPOLL_OUT;
extern const uint32_t CEPOLL_ERR;
extern const uint32_t CEPOLL_HUP;
extern const uint32_t CEPOLL_RDHUP;
extern const uint32_t CEPOLL_ET;

extern const int CEPOLL_MSG_NOSIGNAL;

/// `epoll_create1(EPOLL_CLOEXEC)`.
int cepoll_create(void);
/// `epoll_ctl(EPOLL_CTL_ADD, …)` with `token` as the event's user data.
int cepoll_add(int epfd, int fd, uint32_t events, uint64_t token);
/// `epoll_ctl(EPOLL_CTL_MOD, …)`.
int cepoll_modify(int epfd, int fd, uint32_t events, uint64_t token);
/// `epoll_ctl(EPOLL_CTL_DEL, …)`.
int cepoll_remove(int epfd, int fd);
/// `epoll_wait`, copying at most `capacity` events into `out`. Returns the count or -1.
int cepoll_wait(int epfd, cepoll_event_t *out, int capacity, int timeout_ms);

/// `eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`.
int cepoll_eventfd_create(void);
/// Adds one to the eventfd counter (wakes a waiter). Returns 0 or -1.
int cepoll_eventfd_signal(int fd);
/// Resets the eventfd counter. Returns 0 or -1 (EAGAIN when it was already zero).
int cepoll_eventfd_drain(int fd);

/// `accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)`.
int cepoll_accept(int fd);
/// `socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`.
int cepoll_socket_nonblocking(int domain, int type);

/// Names the calling thread (at most 15 bytes show), for `top -H` and debuggers.
void cepoll_name_current_thread(const char *name);

#ifdef __cplusplus
}
#endif

#endif
