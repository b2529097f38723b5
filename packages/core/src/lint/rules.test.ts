/**
 * One row per rule: a Dockerfile that triggers it (the finding's exact line and column) and a near miss
 * that must not. Each Dockerfile starts from a clean final stage so only the rule under test speaks.
 */
import { describe, expect, test } from 'vitest';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { parseDockerfile } from '../dockerfile/parse/index.js';
import { lintDockerfile, lintRules } from './index.js';

/** A final stage that satisfies the image-wide rules (user, labels, digest, tag). */
const TAIL = [
  'LABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.title=app',
  'USER 10001',
].join('\n');
const BASE = 'alpine:3.20@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a';

interface Case {
  readonly rule: string;
  /** Dockerfile text; `${BASE}` and `${TAIL}` keep the other rules quiet. */
  readonly hit: string;
  readonly line: number;
  readonly column: number;
  readonly miss: string;
}

const cases: Case[] = [
  {
    rule: 'DL3000',
    hit: `FROM ${BASE}\nWORKDIR app\n${TAIL}`,
    line: 2,
    column: 9,
    miss: `FROM ${BASE}\nWORKDIR /app\nWORKDIR \${APP_DIR:-/srv}\n${TAIL}`,
  },
  {
    rule: 'DL3002',
    hit: `FROM ${BASE}\n${TAIL}\nUSER root`,
    line: 4,
    column: 6,
    miss: `FROM ${BASE}\nUSER root\nRUN id\n${TAIL}`,
  },
  {
    rule: 'DL3003',
    hit: `FROM ${BASE}\nRUN cd /src && make\n${TAIL}`,
    line: 2,
    column: 5,
    miss: `FROM ${BASE}\nRUN (cd /src && make) && echo done\n${TAIL}`,
  },
  {
    rule: 'DL3004',
    hit: `FROM ${BASE}\nRUN sudo make install\n${TAIL}`,
    line: 2,
    column: 5,
    miss: `FROM ${BASE}\nRUN echo sudo\n${TAIL}`,
  },
  {
    rule: 'DL3006',
    hit: `FROM node AS build\nRUN true\nFROM ${BASE}\n${TAIL}`,
    line: 1,
    column: 6,
    miss: `FROM node:20 AS build\nRUN true\nFROM build\n${TAIL}`,
  },
  {
    rule: 'DL3007',
    hit: `FROM ${BASE} AS x\nFROM alpine:latest\n${TAIL}`,
    line: 2,
    column: 13,
    miss: `FROM alpine:latest@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a\n${TAIL}`,
  },
  {
    rule: 'DL3008',
    hit: `FROM ${BASE}\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl=8.5.0 git && rm -rf /var/lib/apt/lists/*\n${TAIL}`,
    line: 3,
    column: 59,
    miss: `FROM ${BASE}\nRUN apt-get install -y --no-install-recommends curl=8.5.0 ./local.deb && rm -rf /var/lib/apt/lists/*\n${TAIL}`,
  },
  {
    rule: 'DL3009',
    hit: `FROM ${BASE}\n# hadolint ignore=DL3008\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n${TAIL}`,
    line: 3,
    column: 1,
    miss: `FROM ${BASE}\n# hadolint ignore=DL3008\nRUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt,sharing=locked apt-get update && apt-get install -y --no-install-recommends curl\n${TAIL}`,
  },
  {
    rule: 'DL3013',
    hit: `FROM ${BASE}\nRUN pip install --no-cache-dir flask==3.0.0 requests\n${TAIL}`,
    line: 2,
    column: 45,
    miss: `FROM ${BASE}\nRUN pip install --no-cache-dir -r requirements.txt flask==3.0.0 .\n${TAIL}`,
  },
  {
    rule: 'DL3015',
    hit: `FROM ${BASE}\n# wharf-lint ignore=DL3008,DL3009\nRUN apt-get install -y curl\n${TAIL}`,
    line: 3,
    column: 13,
    miss: `FROM ${BASE}\n# wharf-lint ignore=DL3008,DL3009\nRUN apt-get install -y --no-install-recommends curl\n${TAIL}`,
  },
  {
    rule: 'DL3016',
    hit: `FROM ${BASE}\nRUN npm install -g @scope/tool@1.2.3 typescript\n${TAIL}`,
    line: 2,
    column: 38,
    miss: `FROM ${BASE}\nRUN npm install && npm install -g @scope/tool@1.2.3 ./local\n${TAIL}`,
  },
  {
    rule: 'DL3018',
    hit: `FROM ${BASE}\nRUN apk add --no-cache curl=8.5.0-r0 git\n${TAIL}`,
    line: 2,
    column: 38,
    miss: `FROM ${BASE}\nRUN apk add --no-cache --virtual .build curl=8.5.0-r0\n${TAIL}`,
  },
  {
    rule: 'DL3019',
    hit: `FROM ${BASE}\nRUN apk add curl=8.5.0-r0\n${TAIL}`,
    line: 2,
    column: 9,
    miss: `FROM ${BASE}\nRUN --mount=type=cache,target=/var/cache/apk apk add curl=8.5.0-r0\n${TAIL}`,
  },
  {
    rule: 'DL3020',
    hit: `FROM ${BASE}\nADD src/ /app/\n${TAIL}`,
    line: 2,
    column: 1,
    miss: `FROM ${BASE}\nADD https://example.com/a.txt /a.txt\nADD rootfs.tar.gz /\n${TAIL}`,
  },
  {
    rule: 'DL3025',
    hit: `FROM ${BASE}\n${TAIL}\nCMD node server.js`,
    line: 4,
    column: 1,
    miss: `FROM ${BASE}\n${TAIL}\nCMD ["node", "server.js"]`,
  },
  {
    rule: 'DL3059',
    hit: `FROM ${BASE}\nRUN echo a\nRUN echo b\n${TAIL}`,
    line: 3,
    column: 1,
    miss: `FROM ${BASE}\nRUN echo a\nRUN --mount=type=cache,target=/root/.cache echo b\n${TAIL}`,
  },
  {
    rule: 'DL4006',
    hit: `FROM ${BASE}\nRUN wget -qO- https://example.com/x | sh\n${TAIL}`,
    line: 2,
    column: 37,
    miss: `FROM ${BASE}\nSHELL ["/bin/ash", "-eo", "pipefail", "-o", "pipefail", "-c"]\nRUN wget -qO- https://example.com/x | sh || true\n${TAIL}`,
  },
  {
    rule: 'SecretsUsedInArgOrEnv',
    hit: `FROM ${BASE}\nARG GITHUB_TOKEN\n${TAIL}`,
    line: 2,
    column: 5,
    miss: `FROM ${BASE}\nARG PUBLIC_KEY\nENV KEYBOARD=us TOKENIZER=bert\n${TAIL}`,
  },
  {
    rule: 'UndefinedVar',
    hit: `FROM ${BASE}\nARG VERSION=1\nENV APP_VERSION=$VERSIN\n${TAIL}`,
    line: 3,
    column: 17,
    miss: `FROM ${BASE}\nARG VERSION=1\nENV APP_VERSION=$VERSION PATH=$PATH:/app/bin OPT=\${UNSET:-x}\n${TAIL}`,
  },
  {
    rule: 'UndefinedArgInFrom',
    hit: `FROM alpine:$ALPINE_VERSION\n${TAIL}`,
    line: 1,
    column: 13,
    miss: `ARG ALPINE_VERSION=3.20\nFROM --platform=$BUILDPLATFORM ${BASE} AS b\nFROM alpine:$ALPINE_VERSION\n${TAIL}`,
  },
  {
    rule: 'StageNameCasing',
    hit: `FROM ${BASE} AS Builder\n${TAIL}`,
    line: 1,
    column: 93,
    miss: `FROM ${BASE} AS builder\n${TAIL}`,
  },
  {
    rule: 'FromAsCasing',
    hit: `FROM ${BASE} as builder\n${TAIL}`,
    line: 1,
    column: 90,
    miss: `from ${BASE} as builder\n${TAIL}`,
  },
  {
    rule: 'JSONArgsRecommended',
    hit: `FROM ${BASE}\n${TAIL}\nENTRYPOINT my-app --serve`,
    line: 4,
    column: 1,
    miss: `FROM ${BASE}\nSHELL ["/bin/sh", "-c"]\n${TAIL}\nENTRYPOINT my-app --serve`,
  },
  {
    rule: 'WorkdirRelativePath',
    hit: `FROM ${BASE}\nWORKDIR app\n${TAIL}`,
    line: 2,
    column: 9,
    miss: `FROM ${BASE} AS base\nWORKDIR /srv\nFROM base\nWORKDIR app\n${TAIL}`,
  },
  {
    rule: 'DuplicateStageName',
    hit: `FROM ${BASE} AS app\nFROM ${BASE} AS App\n${TAIL}`,
    line: 2,
    column: 93,
    miss: `FROM ${BASE} AS app\nFROM ${BASE} AS app2\n${TAIL}`,
  },
  {
    rule: 'MultipleInstructionsDisallowed',
    hit: `FROM ${BASE}\n${TAIL}\nCMD ["a"]\nCMD ["b"]`,
    line: 4,
    column: 1,
    miss: `FROM ${BASE} AS base\nCMD ["a"]\nFROM base\n${TAIL}\nCMD ["b"]`,
  },
  {
    rule: 'LegacyKeyValueFormat',
    hit: `FROM ${BASE}\nENV NODE_ENV production\n${TAIL}`,
    line: 2,
    column: 5,
    miss: `FROM ${BASE}\nENV NODE_ENV=production\n${TAIL}`,
  },
  {
    rule: 'RunsAsRoot',
    hit: `FROM ${BASE}\nCMD ["x"]`,
    line: 1,
    column: 1,
    miss: `FROM ${BASE}\nUSER app\nCMD ["x"]`,
  },
  {
    rule: 'ServiceWithoutHealthcheck',
    hit: `FROM ${BASE}\nEXPOSE 3000\n${TAIL}`,
    line: 2,
    column: 1,
    miss: `FROM ${BASE}\nEXPOSE 3000\nHEALTHCHECK CMD ["wget", "-qO-", "http://127.0.0.1:3000/"]\n${TAIL}`,
  },
  {
    rule: 'BaseNotPinnedByDigest',
    hit: `FROM alpine:3.20\n${TAIL}`,
    line: 1,
    column: 6,
    miss: `FROM ${BASE} AS a\nFROM a\n${TAIL}`,
  },
  {
    rule: 'SourcesCopiedBeforeDependencies',
    hit: `FROM ${BASE}\nWORKDIR /app\nCOPY . .\nRUN npm ci\n${TAIL}`,
    line: 3,
    column: 1,
    miss: `FROM ${BASE}\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n${TAIL}`,
  },
  {
    rule: 'MissingOciLabels',
    hit: `FROM ${BASE}\nLABEL org.opencontainers.image.title=app\nUSER 1`,
    line: 1,
    column: 1,
    miss: `FROM ${BASE} AS base\n${TAIL}\nFROM base\nRUN true`,
  },
  {
    rule: 'SecretCopiedIntoLayer',
    hit: `FROM ${BASE}\nRUN --mount=type=secret,id=npmrc cp /run/secrets/npmrc /root/.npmrc && npm ci\n${TAIL}`,
    line: 2,
    column: 37,
    miss: `FROM ${BASE}\nRUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci && cat /run/secrets/other > /dev/null\n${TAIL}`,
  },
];

describe('each rule: a hit at an exact place, and a near miss', () => {
  test('the table covers every rule', () => {
    expect(cases.map((c) => c.rule).sort()).toEqual(lintRules.map((r) => r.id).sort());
  });
  for (const c of cases) {
    test(c.rule, () => {
      const hits = lintDockerfile(c.hit).filter((f) => f.rule === c.rule);
      expect(hits.map((f) => [f.line, f.column])).toEqual([[c.line, c.column]]);
      expect(hits[0]?.file).toBe('Dockerfile');
      const misses = lintDockerfile(c.miss).filter((f) => f.rule === c.rule);
      expect(misses).toEqual([]);
    });
  }
});

test('SourcesCopiedBeforeDependencies: an --offline install after pnpm fetch is not a download', () => {
  const dockerfile = `FROM ${BASE}\nWORKDIR /app\nCOPY pnpm-lock.yaml ./\nRUN pnpm fetch\nCOPY . .\nRUN pnpm install --offline\n${TAIL}`;
  expect(lintDockerfile(dockerfile).filter((f) => f.rule === 'SourcesCopiedBeforeDependencies')).toEqual([]);
  const online = dockerfile.replace('--offline', '--frozen-lockfile');
  expect(lintDockerfile(online).filter((f) => f.rule === 'SourcesCopiedBeforeDependencies')).toHaveLength(1);
});

describe('--target: rules about the final image look at the built stage', () => {
  const dockerfile =
    'FROM busybox:1.36 AS app\nRUN echo app\nFROM busybox:1.36 AS test\nUSER 1000\nRUN echo test\n';
  const runsAsRoot = (target?: string) =>
    lintDockerfile(dockerfile, { target }).filter((f) => f.rule === 'RunsAsRoot');

  test('the last stage sets USER: no finding without a target', () => {
    expect(runsAsRoot()).toEqual([]);
  });

  test('--target app names app, which sets no USER (case-insensitive, as stage names are)', () => {
    expect(runsAsRoot('app')).toMatchObject([{ line: 1, message: expect.stringContaining('stage "app"') }]);
    expect(runsAsRoot('APP')).toHaveLength(1);
  });

  test('an unknown target names the stages there are', () => {
    expect(() => lintDockerfile(dockerfile, { target: 'nope' })).toThrow(
      expect.objectContaining({ code: 'IR_UNKNOWN_TARGET', hint: 'stages: app, test' }),
    );
  });
});

test('a parse given (wharf build -f lowered it already, under another file name) lints as the text does', () => {
  const dockerfile = `ARG BASE=${BASE}\nFROM \${BASE} AS app\nRUN apt-get install curl\nFROM app\n${TAIL}\n`;
  const parsed = parseDockerfile(dockerfile, { file: '/abs/path/Dockerfile' });
  lowerDockerfile(parsed, { file: '/abs/path/Dockerfile', buildArgs: { BASE: 'busybox' } });
  const given = lintDockerfile(dockerfile, { file: 'Dockerfile', parsed });
  expect(given.length).toBeGreaterThan(0);
  expect(given).toEqual(lintDockerfile(dockerfile, { file: 'Dockerfile' }));
});
