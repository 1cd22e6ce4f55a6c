# Build the binary first with `make static`; this image holds it and nothing else.
# It listens on 0.0.0.0, so the control API (/__httpfault/: the journal, the plans) is off on
# that port by default: add `--control 0.0.0.0:9001` (and publish 9001 only where needed) or
# `--control-on-listener` to the command to have it.
FROM scratch
COPY target/static/httpfault /httpfault
EXPOSE 9000
ENTRYPOINT ["/httpfault", "--listen", "0.0.0.0:9000"]
