FROM node:20-alpine AS build
WORKDIR /app

FROM node:20 AS mounts
RUN --mount=type=cache,target=/root/.npm,id=npm,sharing=locked --mount=type=cache,target=/var/cache/apt,id=apt,sharing=private,mode=0755,uid=0,gid=0 --mount=type=bind,target=/src,from=build,source=/app,rw --mount=type=bind,target=/img,from=alpine:3.20 --mount=type=secret,id=npmrc,target=/root/.npmrc,required,mode=0400 --mount=type=secret,id=token,env=TOKEN --mount=type=ssh,id=default,required --mount=type=tmpfs,target=/tmp,size=67108864 npm ci
