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
 *
 * Loopback only. Build: gcc -O2 -pthread -o tcpperf tcpperf.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    fprintf(stderr, "usage: tcpperf server | tput HOST:PORT CONNS BYTES | lat HOST:PORT N SIZE\n");
    return 2;
}
