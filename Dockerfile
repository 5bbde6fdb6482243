# The sluiced container image: a static binary (CGO_ENABLED=0) on scratch,
# run as a non-root user (65532), with /var/lib/sluiced as its volume.
#
#   docker build -t sluiced .          (or: podman build, buildah bud)
#   docker run -p 5514:5514/udp -p 5514:5514/tcp -p 9595:9595 -v sluiced:/var/lib/sluiced sluiced
#
# The builder is a golang image (GO_IMAGE). Where none can be pulled,
# scripts/image --local builds packaging/Dockerfile.prebuilt instead: the
# same image around a binary from scripts/build. See docs/packaging.md.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces expr-lang/expr with this copy (third_party/expr/SLUICE.md).
COPY third_party/ third_party/
RUN go mod download
COPY . .
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ARG DATE=unknown
# timetzdata: the syslog source's IANA timezones without /usr/share/zoneinfo.
# grpcnotrace: no golang.org/x/net/trace (unused; see scripts/build).
RUN pkg=github.com/sluicehq/sluice/daemon && \
	CGO_ENABLED=0 go build -trimpath -tags timetzdata,grpcnotrace \
		-ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT -X $pkg.Date=$DATE" \
		-o /out/usr/bin/sluiced ./cmd/sluiced && \
	mkdir -p /out/etc/sluiced /out/etc/ssl/certs /out/var/lib/sluiced && \
	cp packaging/container.hujson /out/etc/sluiced/sluiced.hujson && \
	cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

# From here on, the same as packaging/Dockerfile.prebuilt.
FROM scratch
COPY --from=build /out/etc/ /etc/
COPY --from=build /out/usr/bin/sluiced /usr/bin/sluiced
COPY --from=build --chown=65532:65532 /out/var/lib/sluiced/ /var/lib/sluiced/
USER 65532:65532
WORKDIR /var/lib/sluiced
VOLUME /var/lib/sluiced
# syslog (UDP and TCP), and the admin listener (/metrics, /healthz, /readyz).
EXPOSE 5514/udp 5514/tcp 9595/tcp
ENTRYPOINT ["/usr/bin/sluiced"]
CMD ["run", "--config", "/etc/sluiced/sluiced.hujson"]
