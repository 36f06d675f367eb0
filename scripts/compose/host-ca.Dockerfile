# The host's trust on top of a stand-in (scripts/compose/images.mjs adds it to the Node one when the host trusts CAs
# of its own): behind an intercepting proxy the registries' certificates chain to such a CA, so npm and pip in images
# built on the stand-in must trust the host's CA bundle as the host's npm and pip do. Node reads it besides its own
# roots; pip uses it instead of its own.
ARG IMAGE
FROM ${IMAGE}
COPY ca-bundle.pem /usr/local/etc/host-ca-bundle.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/etc/host-ca-bundle.pem PIP_CERT=/usr/local/etc/host-ca-bundle.pem
