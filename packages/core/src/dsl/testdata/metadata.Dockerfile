FROM alpine AS meta
ARG VERSION=1.0.0
ARG COMMIT
ENV APP_VERSION=$VERSION QUOTED="say \"hi\"" SPACED="a b" LITERAL="cost \$5" EMPTY="" UNICODE=grüße
LABEL org.opencontainers.image.version=${VERSION} com.example.description="it's here"
WORKDIR "/app dir"
EXPOSE 3000 53/udp 8000-8010/tcp
VOLUME ["/data", "/var/lib/app data"]
USER node:node
STOPSIGNAL SIGINT
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
ONBUILD COPY . /app
ONBUILD RUN npm ci
