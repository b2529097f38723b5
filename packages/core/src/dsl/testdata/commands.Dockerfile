FROM alpine AS exec
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --start-interval=2s --retries=3 CMD ["wget", "-qO-", "http://localhost:3000/health"]
ENTRYPOINT ["tini", "--"]
CMD ["node", "server.js"]
