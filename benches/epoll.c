/*
 * epoll.c: the floor for the httpfault benchmarks. A minimal single-threaded, non-blocking
 * epoll HTTP/1.1 server that answers every request with fixed bytes. Not a real HTTP server:
 * it only looks for the end of a request head ("\r\n\r\n"); GET requests without a body.
 *
 *   epoll PORT classic   head with Content-Length: 13, then "Hello,", then SO_LINGER 0 + close (RST)
 *   epoll PORT ok        healthy keep-alive 200 with "Hello, world!"
 *   epoll PORT delay MS  like ok, but each response is sent MS ms after its request was read
 *                        (all delays are equal, so a FIFO queue + one timerfd is an exact timer wheel)
 *   epoll PORT hold      accept, read, never answer; close when the client leaves
 *
 * Prints "listening on http://127.0.0.1:PORT" (the real port; PORT may be 0) on stdout.
 * Build: gcc -O2 -pthread -o epoll epoll.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { M_CLASSIC, M_OK, M_DELAY, M_HOLD };

static const char CLASSIC[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Length: 13\r\n\r\nHello,";
static const char OK[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Length: 13\r\n\r\nHello, world!";

#define BUFSZ 1024 /* request heads in this benchmark are < 100 bytes */
#define MAXFD 65536

struct conn {
    int fd;
    unsigned gen;      /* bumped on close, so stale timer entries are ignored */
    int pending;       /* delay mode: a response is scheduled */
    size_t len;
    char buf[BUFSZ];
};

static struct conn *conns[MAXFD];
static int mode, delay_ms, ep, tfd = -1;

/* delay mode: FIFO of (fd, gen, deadline) */
struct tq { int fd; unsigned gen; uint64_t at; };
static struct tq *q;
static size_t qcap, qhead, qtail; /* ring buffer */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void arm(uint64_t at) {
    struct itimerspec its = {0};
    its.it_value.tv_sec = at / 1000000000ull;
    its.it_value.tv_nsec = at % 1000000000ull;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void q_push(int fd, unsigned gen, uint64_t at) {
    if (qtail - qhead == qcap) {
        size_t ncap = qcap ? qcap * 2 : 1024;
        struct tq *n = malloc(ncap * sizeof *n);
        for (size_t i = 0; i < qcap; i++) n[i] = q[(qhead + i) % qcap];
        free(q);
        q = n; qtail = qtail - qhead; qhead = 0; qcap = ncap;
    }
    int was_empty = qhead == qtail;
    q[qtail % qcap] = (struct tq){fd, gen, at};
    qtail++;
    if (was_empty) arm(at);
}

static void conn_close(struct conn *c, int rst) {
    if (rst) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    c->fd = -1;
    c->gen++;
    c->pending = 0;
    c->len = 0;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                /* tiny responses: the socket buffer is never full in this benchmark; wait briefly */
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
                continue;
            }
            return -1;
        }
        p += w; n -= w;
    }
    return 0;
}

/* consume complete request heads from c->buf; returns number consumed */
static int take_request(struct conn *c) {
    char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!e) return 0;
    size_t used = (size_t)(e - c->buf) + 4;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    return 1;
}

static void on_readable(struct conn *c) {
    for (;;) {
        if (c->len == BUFSZ) { conn_close(c, 0); return; } /* head too large */
        ssize_t r = recv(c->fd, c->buf + c->len, BUFSZ - c->len, 0);
        if (r == 0) { conn_close(c, 0); return; }
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            conn_close(c, 0);
            return;
        }
        c->len += r;
    }
    while (!c->pending && take_request(c)) {
        switch (mode) {
        case M_CLASSIC:
            send_all(c->fd, CLASSIC, sizeof CLASSIC - 1);
            conn_close(c, 1);
            return;
        case M_OK:
            if (send_all(c->fd, OK, sizeof OK - 1) < 0) { conn_close(c, 0); return; }
            break;
        case M_DELAY:
            c->pending = 1;
            q_push(c->fd, c->gen, now_ns() + (uint64_t)delay_ms * 1000000ull);
            break;
        case M_HOLD:
            c->len = 0; /* discard, never answer */
            break;
        }
    }
}

static void on_timer(void) {
    uint64_t exp;
    if (read(tfd, &exp, sizeof exp) < 0 && errno != EAGAIN) return;
    uint64_t t = now_ns();
    while (qhead != qtail) {
        struct tq *e = &q[qhead % qcap];
        if (e->at > t) { arm(e->at); return; }
        qhead++;
        struct conn *c = conns[e->fd];
        if (!c || c->fd < 0 || c->gen != e->gen || !c->pending) continue;
        c->pending = 0;
        if (send_all(c->fd, OK, sizeof OK - 1) < 0) { conn_close(c, 0); continue; }
        /* a pipelined request may already be waiting */
        if (take_request(c)) {
            c->pending = 1;
            q_push(c->fd, c->gen, now_ns() + (uint64_t)delay_ms * 1000000ull);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT classic|ok|hold|delay MS\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    if (!strcmp(argv[2], "classic")) mode = M_CLASSIC;
    else if (!strcmp(argv[2], "ok")) mode = M_OK;
    else if (!strcmp(argv[2], "hold")) mode = M_HOLD;
    else if (!strcmp(argv[2], "delay") && argc > 3) { mode = M_DELAY; delay_ms = atoi(argv[3]); }
    else { fprintf(stderr, "bad mode\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
    if (listen(ls, 4096) < 0) { perror("listen"); return 1; }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("listening on http://127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    if (mode == M_DELAY) {
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        ev.data.fd = tfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    }

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) break;
                    if (cfd >= MAXFD) { close(cfd); continue; }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *c = conns[cfd];
                    if (!c) c = conns[cfd] = calloc(1, sizeof *c);
                    c->fd = cfd; c->len = 0; c->pending = 0;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ce);
                }
            } else if (fd == tfd) {
                on_timer();
            } else {
                struct conn *c = conns[fd];
                if (c && c->fd >= 0) on_readable(c);
            }
        }
    }
}
