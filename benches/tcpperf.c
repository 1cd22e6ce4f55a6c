/*
 * tcpperf.c: the upstream and the client of the TCP relay benchmark (benches/tcp.sh).
 *
 *   tcpperf server
 *       Listens on 127.0.0.1:0, prints "listening on 127.0.0.1:PORT", one thread per connection.
 *       The first byte a client sends chooses what the connection does:
 *         'G' + 8 bytes N (little endian): send N bytes, then close (a source)
 *         'E': echo every chunk back until EOF
 *   tcpperf tput HOST:PORT CONNS BYTES
 *       CONNS connections at once, each asks for BYTES bytes ('G') and reads them to EOF.
 *       Prints "MB/s SECONDS" (MB = 10^6 bytes; all connections together, from the first
 *       connect to the last EOF). Exit 1 if a connection got a different count.
 *   tcpperf lat HOST:PORT N SIZE
 *       One connection ('E'); N round trips of SIZE bytes, one at a time (after 200 warm-up
 *       round trips). Prints "P50_US P99_US".
 *   tcpperf kv REQ RESP
 *       A Redis-shaped upstream: one thread, epoll, non-blocking sockets; on every connection,
 *       each REQ bytes received are answered with RESP bytes (a Redis SET and its "+OK\r\n").
 *       Prints "listening on 127.0.0.1:PORT".
 *   tcpperf rr HOST:PORT CONNS SECONDS REQ RESP
 *       A redis-benchmark-shaped client: one thread, epoll, CONNS connections, each sending a
 *       REQ-byte request and waiting for its RESP-byte answer before the next (no pipelining),
 *       for SECONDS after 0.5 s of warm-up. Prints "REQ_PER_S P50_US P99_US". Exit 1 if a
 *       connection fails.
 *
 * Loopback only. Build: gcc -O2 -pthread -o tcpperf tcpperf.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t k = write(fd, (const char *)buf + put, n - put);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        put += (size_t)k;
    }
    return 0;
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(CHUNK);
    unsigned char mode;
    if (buf && read_full(fd, &mode, 1) == 0) {
        if (mode == 'G') {
            uint64_t n;
            if (read_full(fd, &n, 8) == 0) {
                memset(buf, 'x', CHUNK);
                while (n > 0) {
                    size_t k = n < CHUNK ? (size_t)n : CHUNK;
                    if (write_full(fd, buf, k) < 0) break;
                    n -= k;
                }
            }
        } else if (mode == 'E') {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (;;) {
                ssize_t k = read(fd, buf, CHUNK);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0 || write_full(fd, buf, (size_t)k) < 0) break;
            }
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

static int server(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1024) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(l, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0) close(fd);
        pthread_attr_destroy(&at);
    }
}

static struct sockaddr_in target;

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&target, sizeof target) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static uint64_t per_conn;

static void *fetch(void *arg) {
    (void)arg;
    int fd = dial();
    unsigned char req[9] = {'G'};
    memcpy(req + 1, &per_conn, 8);
    uint64_t got = 0;
    char *buf = malloc(CHUNK);
    if (buf && write_full(fd, req, sizeof req) == 0) {
        for (;;) {
            ssize_t k = read(fd, buf, CHUNK);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            got += (uint64_t)k;
        }
    }
    free(buf);
    close(fd);
    return (void *)(uintptr_t)(got == per_conn);
}

static int tput(int conns) {
    pthread_t *ts = calloc((size_t)conns, sizeof *ts);
    double t0 = now_s();
    for (int i = 0; i < conns; i++) pthread_create(&ts[i], NULL, fetch, NULL);
    int ok = 1;
    for (int i = 0; i < conns; i++) {
        void *r;
        pthread_join(ts[i], &r);
        ok &= r != NULL;
    }
    double dt = now_s() - t0;
    printf("%.1f %.3f\n", (double)per_conn * conns / dt / 1e6, dt);
    if (!ok) fprintf(stderr, "tcpperf: a connection got a short stream\n");
    return ok ? 0 : 1;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int lat(int n, int size) {
    int fd = dial();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *buf = calloc(1, (size_t)size);
    double *d = calloc((size_t)n, sizeof *d);
    if (write_full(fd, "E", 1) < 0) return 1;
    for (int i = -200; i < n; i++) {
        double t0 = now_s();
        if (write_full(fd, buf, (size_t)size) < 0 || read_full(fd, buf, (size_t)size) < 0) {
            fprintf(stderr, "tcpperf: echo failed\n");
            return 1;
        }
        if (i >= 0) d[i] = (now_s() - t0) * 1e6;
    }
    qsort(d, (size_t)n, sizeof *d, cmp_d);
    printf("%.1f %.1f\n", d[n / 2], d[(int)((n - 1) * 0.99)]);
    close(fd);
    return 0;
}

/* ---- the Redis-shaped load: kv (upstream) and rr (client), both one epoll thread ---------- */

#define RR_MAX_CONNS 4096

static int set_nb(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

struct kvconn {
    int fd;
    long have;   /* request bytes received towards the next answer */
    long owe;    /* answer bytes still to send */
};

static int kv_server(long req, long resp) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1024) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        perror("listen");
        return 1;
    }
    fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_NONBLOCK);
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    char *out = malloc((size_t)resp), in[16384];
    memset(out, 'k', (size_t)resp);
    if (resp >= 5) memcpy(out + resp - 5, "+OK\r\n", 5);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct kvconn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept(l, NULL, NULL)) >= 0) {
                    set_nb(fd);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            int dead = 0;
            for (;;) {
                ssize_t k = read(c->fd, in, sizeof in);
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) { dead = 1; break; }
                if (k < 0) break;
                c->have += k;
                while (c->have >= req) { c->have -= req; c->owe += resp; }
                if (k < (ssize_t)sizeof in) break;
            }
            while (!dead && c->owe > 0) { /* answers are small: the socket buffer takes them */
                long m = c->owe < resp ? c->owe : resp;
                ssize_t k = write(c->fd, out + (resp - m), (size_t)m);
                if (k <= 0) { if (k < 0 && errno == EAGAIN) break; dead = 1; break; }
                c->owe -= k;
            }
            if (dead) { close(c->fd); free(c); }
        }
    }
}

struct rrconn {
    int fd;
    long got;    /* answer bytes received */
    double t0;   /* when the request went out */
};

static int rr_client(int conns, double secs, long req, long resp) {
    if (conns < 1 || conns > RR_MAX_CONNS) { fprintf(stderr, "tcpperf: 1..%d connections\n", RR_MAX_CONNS); return 2; }
    int ep = epoll_create1(0);
    struct rrconn *cs = calloc((size_t)conns, sizeof *cs);
    char *msg = malloc((size_t)req), in[16384];
    /* a Redis SET as the request, padded with spaces to REQ bytes */
    const char *set = "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$3\r\nxxx\r\n";
    memset(msg, ' ', (size_t)req);
    memcpy(msg, set, strlen(set) < (size_t)req ? strlen(set) : (size_t)req);
    size_t cap = 1 << 22, nd = 0;
    double *d = malloc(cap * sizeof *d);
    for (int i = 0; i < conns; i++) {
        cs[i].fd = dial();
        set_nb(cs[i].fd);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
    }
    double start = now_s(), warm = start + 0.5, end = warm + secs;
    long done = 0;
    for (int i = 0; i < conns; i++) {
        cs[i].t0 = now_s();
        if (write(cs[i].fd, msg, (size_t)req) != req) { perror("write"); return 1; }
    }
    struct epoll_event evs[256];
    for (;;) {
        double t = now_s();
        if (t >= end) break;
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { fprintf(stderr, "tcpperf: no answer for 1 s\n"); return 1; }
        t = now_s();
        for (int i = 0; i < n; i++) {
            struct rrconn *c = evs[i].data.ptr;
            ssize_t k = read(c->fd, in, sizeof in);
            if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (k <= 0) { fprintf(stderr, "tcpperf: a connection ended\n"); return 1; }
            c->got += k;
            if (c->got < resp) continue;
            if (c->got > resp) { fprintf(stderr, "tcpperf: more bytes than asked for\n"); return 1; }
            c->got = 0;
            if (t >= warm) {
                done++;
                if (nd < cap) d[nd++] = (t - c->t0) * 1e6;
            }
            c->t0 = t;
            if (write(c->fd, msg, (size_t)req) != req) { perror("write"); return 1; }
        }
    }
    double dt = now_s() - warm;
    qsort(d, nd, sizeof *d, cmp_d);
    printf("%.0f %.1f %.1f\n", done / dt, nd ? d[nd / 2] : 0.0, nd ? d[(size_t)((nd - 1) * 0.99)] : 0.0);
    for (int i = 0; i < conns; i++) close(cs[i].fd);
    return 0;
}

static void parse_target(const char *s) {
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) {
        fprintf(stderr, "tcpperf: bad address %s\n", s);
        exit(2);
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
        fprintf(stderr, "tcpperf: bad host %s\n", host);
        exit(2);
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && !strcmp(argv[1], "server")) return server();
    if (argc == 5 && !strcmp(argv[1], "tput")) {
        parse_target(argv[2]);
        per_conn = strtoull(argv[4], NULL, 10);
        return tput(atoi(argv[3]));
    }
    if (argc == 5 && !strcmp(argv[1], "lat")) {
        parse_target(argv[2]);
        return lat(atoi(argv[3]), atoi(argv[4]));
    }
    if (argc == 4 && !strcmp(argv[1], "kv")) return kv_server(atol(argv[2]), atol(argv[3]));
    if (argc == 7 && !strcmp(argv[1], "rr")) {
        parse_target(argv[2]);
        return rr_client(atoi(argv[3]), atof(argv[4]), atol(argv[5]), atol(argv[6]));
    }
    fprintf(stderr, "usage: tcpperf server | tput HOST:PORT CONNS BYTES | lat HOST:PORT N SIZE | kv REQ RESP | rr HOST:PORT CONNS SECONDS REQ RESP\n");
    return 2;
}
