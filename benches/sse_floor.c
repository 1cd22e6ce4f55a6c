// benches/sse_floor.c: the floor for benches/sse.py, in C: httpfault's model (a thread per
// connection, blocking sockets) at its leanest. Each connection reads the request, sends a
// chunked event-stream head, then an event (`id: K` / `data: K`, a chunk) every 100 ms on a
// schedule, waiting in ppoll for a hang-up with 1 ms of timer slack, as httpfault does.
// Prints `listening on http://127.0.0.1:PORT`; ignores its arguments. Built by
// `python3 benches/sse.py --compare` with gcc.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static void *conn(void *arg) {
  int fd = (int)(long)arg; char buf[4096];
  prctl(PR_SET_TIMERSLACK, 1000000UL, 0UL, 0UL, 0UL);  // 1 ms, as httpfault sets for streams
  recv(fd, buf, sizeof buf, 0);
  const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n";
  send(fd, head, strlen(head), MSG_NOSIGNAL);
  struct timespec next; clock_gettime(CLOCK_MONOTONIC, &next);
  for (long k = 1;; k++) {
    char ev[64]; int n = snprintf(ev, sizeof ev, "11\r\nid: %ld\ndata: %ld\n\n\r\n", k, k);
    if (send(fd, ev, n, MSG_NOSIGNAL) < 0) break;
    next.tv_nsec += 100000000; if (next.tv_nsec >= 1000000000) { next.tv_sec++; next.tv_nsec -= 1000000000; }
    struct timespec now; clock_gettime(CLOCK_MONOTONIC, &now);
    long ns = (next.tv_sec - now.tv_sec) * 1000000000L + (next.tv_nsec - now.tv_nsec);
    if (ns > 0) { struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
      struct pollfd p = { fd, POLLRDHUP, 0 }; if (ppoll(&p, 1, &ts, NULL) > 0) break; }
  }
  close(fd); return NULL;
}
int main() {
  int s = socket(AF_INET, SOCK_STREAM, 0); int one = 1; setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  bind(s, (void *)&a, sizeof a); listen(s, 4096); socklen_t l = sizeof a; getsockname(s, (void *)&a, &l);
  printf("listening on http://127.0.0.1:%d\n", ntohs(a.sin_port)); fflush(stdout);
  pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 64 * 1024);
  for (;;) { int c = accept(s, NULL, NULL); if (c < 0) continue; setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t; pthread_create(&t, &at, conn, (void *)(long)c); pthread_detach(t); }
}
