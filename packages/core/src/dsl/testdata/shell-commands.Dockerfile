FROM alpine AS shell
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
ENTRYPOINT exec "$0" "$@"
CMD echo "$HOME"
