/*
 * threads.c: the thread-per-connection floor for the httpfault benchmarks (the same model as
 * httpfault: blocking sockets, one pthread per connection). Answers every request with fixed
 * bytes; only looks for the end of a request head ("\r\n\r\n"); GET requests without a body.
 *
 *   threads PORT classic   head with Content-Length: 13, then "Hello,", then SO_LINGER 0 + close (RST)
 *   threads PORT ok        healthy keep-alive 200 with "Hello, world!"
 *   threads PORT delay MS  like ok, each response sent MS ms after its request was read (clock_nanosleep)
 *   threads PORT hold      accept, read, never answer; close when the client leaves
 *
 * Threads are detached, with 64 KiB stacks (only touched pages count in RSS anyway).
 * Prints "listening on http://127.0.0.1:PORT" (the real port; PORT may be 0) on stdout.
 * Build: gcc -O2 -pthread -o threads threads.c
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

enum { M_CLASSIC, M_OK, M_DELAY, M_HOLD };

static const char CLASSIC[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Length: 13\r\n\r\nHello,";
static const char OK[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Length: 13\r\n\r\nHello, world!";

static int mode, delay_ms;

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w; n -= w;
    }
    return 0;
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[1024];
    size_t len = 0;
    for (;;) {
        char *e;
        while (!(e = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == sizeof buf) goto out; /* head too large */
            ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) goto out;
            len += r;
        }
        size_t used = (size_t)(e - buf) + 4;
        memmove(buf, buf + used, len - used);
        len -= used;
        switch (mode) {
        case M_CLASSIC: {
            send_all(fd, CLASSIC, sizeof CLASSIC - 1);
            struct linger l = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            goto out;
        }
        case M_DELAY: {
            struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
            while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {}
        } /* fallthrough */
        case M_OK:
            if (send_all(fd, OK, sizeof OK - 1) < 0) goto out;
            break;
        case M_HOLD:
            len = 0;
            for (;;) { /* never answer; wait for the client to leave */
                ssize_t r = recv(fd, buf, sizeof buf, 0);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) goto out;
            }
        }
    }
out:
    close(fd);
    return NULL;
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

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    for (;;) {
        int cfd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE) { usleep(1000); }
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)cfd) != 0) close(cfd);
    }
}
