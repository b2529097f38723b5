FROM debian:12 AS run
RUN apt-get update \
&& apt-get install -y --no-install-recommends ca-certificates curl \
&& rm -rf /var/lib/apt/lists/*
RUN ["/bin/echo", "exec form", "with \"quotes\""]
RUN mkdir -p /out && echo one > /out/1
RUN <<EOF
for f in a b; do
  echo "$f" >> /out/list
done
EOF
RUN --network=none echo $HOME "$PATH" \$literal
RUN --security=insecure make
