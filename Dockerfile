# Build the binary first with `make static`; this image holds it and nothing else.
FROM scratch
COPY target/static/httpfault /httpfault
EXPOSE 9000
ENTRYPOINT ["/httpfault", "--listen", "0.0.0.0:9000"]
