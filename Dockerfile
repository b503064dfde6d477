# lockd container image: a static binary on an empty base.
#   docker build -t lockd:latest .
#   docker run -p 9341:9341 -v lockd-config:/config -v lockd-data:/storage lockd:latest
# An empty /config volume is provisioned on first start (--bootstrap):
# ca.pem, server.pem, client.pem and config.yaml; mTLS and storage
# encryption are on. Data lives in the pebble store under /storage.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/lockd ./cmd/lockd \
 && mkdir -p /out/config /out/storage /out/tmp

FROM scratch
COPY --from=build /out/lockd /lockd
COPY --from=build --chown=65532:65532 /out/config /config
COPY --from=build --chown=65532:65532 /out/storage /storage
COPY --from=build --chown=65532:65532 /out/tmp /tmp
USER 65532:65532
ENV HOME=/config TMPDIR=/tmp
VOLUME ["/config", "/storage"]
EXPOSE 9341
ENTRYPOINT ["/lockd"]
CMD ["--listen", ":9341", "--store", "disk:///storage", "--bootstrap", "/config"]
