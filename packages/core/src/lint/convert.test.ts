/**
 * A Dockerfile and the build.ts `wharf convert` makes of it get the same findings (rule and message),
 * each located in its own file: the Dockerfile's line and column, and the build.ts line of the call that
 * wrote the instruction. Syntax-only rules (FromAsCasing, LegacyKeyValueFormat, DuplicateStageName) have
 * no build.ts counterpart, so these Dockerfiles do not use that syntax.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { generateBuildTs } from '../dockerfile/codegen/index.js';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { type Definition, toGraph } from '../dsl/index.js';
import { type Finding, lintDockerfile, lintGraph } from './index.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const coreIndex = join(repo, 'packages/core/src/index.ts');
const tmp = join(repo, '.wharf-test', `lint-convert-${process.pid}`);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const dockerfiles: Record<string, string> = {
  'node-service': `FROM node:20 AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build
RUN npm install -g typescript
# hadolint ignore=DL3059
RUN cd dist && ls

FROM node:latest
ENV API_TOKEN=abc
WORKDIR /app
COPY --from=build /app/dist ./dist
EXPOSE 3000
CMD node dist/server.js
`,
  'debian-tools': `FROM debian:bookworm
SHELL ["/bin/sh", "-c"]
RUN apt-get update && apt-get install -y curl git
RUN --mount=type=secret,id=token cp /run/secrets/token /etc/token
RUN curl -fsSL https://example.com/install.sh | sh
ADD config/ /etc/app/
WORKDIR srv
USER root
ENTRYPOINT run-app
`,
  'alpine-python': `FROM python:3.12-alpine
RUN apk add py3-pip
RUN pip install flask
COPY requirements.txt .
RUN sudo pip install -r requirements.txt
LABEL org.opencontainers.image.title=app
HEALTHCHECK CMD ["true"]
CMD ["python", "app.py"]
CMD ["python", "-m", "app"]
`,
};

async function lintConverted(
  name: string,
  text: string,
): Promise<{ file: string; code: string; findings: Finding[] }> {
  const code = generateBuildTs(lowerDockerfile(text), { importFrom: coreIndex });
  mkdirSync(tmp, { recursive: true });
  const file = join(tmp, `${name}.build.ts`);
  writeFileSync(file, code);
  const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { default: Definition };
  return { file, code, findings: lintGraph(toGraph(mod.default), { sources: { [file]: code } }) };
}

const key = (f: Finding) => `${f.rule} ${f.severity} ${f.message}`;

describe('findings are the same for a Dockerfile and its wharf convert build.ts', () => {
  for (const [name, text] of Object.entries(dockerfiles)) {
    // The first import of the generated file transforms all of @wharf/core: seconds on a busy machine.
    test(name, { timeout: 60_000 }, async () => {
      const fromDockerfile = lintDockerfile(text);
      const converted = await lintConverted(name, text);
      expect(fromDockerfile.length).toBeGreaterThan(4);
      expect(converted.findings.map(key).sort()).toEqual(fromDockerfile.map(key).sort());

      // Each located in its own file, at the instruction that caused it.
      const dockerLines = text.split('\n');
      const buildLines = converted.code.split('\n');
      const byKey = (list: Finding[]) =>
        new Map(list.map((f) => [`${key(f)}#${list.filter((g) => key(g) === key(f)).indexOf(f)}`, f]));
      const built = byKey(converted.findings);
      for (const [k, d] of byKey(fromDockerfile)) {
        const b = built.get(k) as Finding;
        expect(d.file).toBe('Dockerfile');
        expect(b.file).toBe(converted.file);
        const keyword = (/^\s*(\w+)/.exec(dockerLines[d.line - 1] ?? '')?.[1] ?? '').toLowerCase();
        const call = buildLines[b.line - 1] ?? '';
        const token = /^[^\s"',\]=:]+/.exec((dockerLines[d.line - 1] ?? '').slice(d.column - 1))?.[0] ?? '';
        // The build.ts line is the instruction's call, and the column points at the same text.
        expect(call, `${k}: ${call}`).toContain(`.${keyword}(`);
        if (d.column > 1)
          expect(call.slice(b.column - 1), k).toMatch(
            new RegExp(`^${token.replace(/[$.*+?^(){}|[\]\\]/g, '\\$&')}`),
          );
      }
    });
  }
});
