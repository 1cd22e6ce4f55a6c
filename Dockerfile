# The httpfault images, `FROM scratch`: the static binary and nothing else (no shell, no libc
# files, no certificates). Built by `make image` (podman or docker, whichever is installed):
#
#   httpfault:latest     the default build (TLS on)        target/static/httpfault
#   httpfault:std        the std-only build (no TLS)       target/static/httpfault-std
#   httpfault:toxiproxy  `httpfault toxiproxy` on 8474, a drop-in for toxiproxy's image
#
# By hand: `make static`, then `podman build -t httpfault .` (or docker; .dockerignore keeps the
# context to target/static/).
#
# The default command listens on 0.0.0.0:9000. On an address that is not loopback the control
# API (/__httpfault/: the journal, the plans, /__httpfault/health) is off on that listener:
# give it a port of its own with `--control 0.0.0.0:9001` (publish 9001 only where needed), or
# put it on the main port with `--control-on-listener`. Arguments after the image name replace
# the whole default command, so repeat the --listen:
#
#   podman run --rm -p 9000:9000 -p 9001:9001 httpfault \
#       --listen 0.0.0.0:9000 --control 0.0.0.0:9001 'status=503'
#
# Ready: the line `listening on http://0.0.0.0:9000` on stdout (the container's log), and
# `GET /__httpfault/health` (200) where the control API is. SIGTERM (`podman stop`, `docker
# stop`, Kubernetes) ends it with exit 0 at once. It runs as user 65534 (nobody).

FROM scratch AS httpfault
ARG BINARY=target/static/httpfault
COPY ${BINARY} /httpfault
USER 65534:65534
EXPOSE 9000
ENTRYPOINT ["/httpfault"]
CMD ["--listen", "0.0.0.0:9000"]

# toxiproxy's HTTP API on 8474 (toxiproxy's port); the proxies it creates listen in the
# container, on the ports their `listen` names (toxiproxy's Testcontainers modules expose
# 8666-8697). Ready: `GET /version` (200). A stage of its own, not `FROM httpfault`: an image
# cannot drop a parent's EXPOSE, and an exposed 9000 that nothing publishes makes podman's
# Docker API list a port binding that is never bound (Testcontainers then waits for it in vain).
FROM scratch AS toxiproxy
ARG BINARY=target/static/httpfault
COPY ${BINARY} /httpfault
USER 65534:65534
EXPOSE 8474
ENTRYPOINT ["/httpfault"]
CMD ["toxiproxy", "--listen", "0.0.0.0:8474"]
