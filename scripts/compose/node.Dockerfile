# Stand-in for the official node:<major>-slim image on a machine that cannot pull it (scripts/compose-demo.mjs tags it
# with the official name): Node's release binary (the npm registry's node-linux-<arch> package) and npm, in
# /usr/local as there, on Debian bookworm, with the user node (uid 1000) that images built on it switch to.
ARG BASE
FROM ${BASE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
