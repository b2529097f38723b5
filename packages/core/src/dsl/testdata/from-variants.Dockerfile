ARG ALPINE=3.20
ARG DIGEST

FROM --platform=$BUILDPLATFORM alpine:${ALPINE} AS base
RUN apk add curl

FROM busybox@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa AS stage-1

FROM scratch AS stage-2
COPY x /x

FROM base AS app
COPY --from=stage-1 /bin/busybox /bin/busybox
COPY --from=stage-2 /x /x
