/**
 * `wharf init [dir] [--force]`: looks at the project in a folder (a Node app or workspace with npm, pnpm
 * or yarn; a Go module; a Python app; a static site) and writes a build.ts and a .dockerignore that
 * follow the lint rules: dependencies installed from the manifests before the sources are copied, cache
 * mounts, a non-root user, exec-form CMD, OCI labels, a health check where a port is served. With
 * `--lock`, also a wharf.lock pinning the bases by digest (so BaseNotPinnedByDigest has nothing to say).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { WharfError } from '@wharf/core';
import type { Command } from 'commander';
import { collect } from '../flags.js';
import { loadDefinition } from '../load-definition.js';
import { writeFileAtomic } from '../write-file.js';
import { lockRegistry, writeLock } from './lock.js';
import { type RegistryFlags, registryOptions } from './pull.js';

interface InitFlags extends RegistryFlags {
  readonly force?: boolean;
  readonly lock?: boolean;
  readonly registryMirror?: string[];
}

export function registerInit(program: Command): void {
  const command = program
    .command('init')
    .description('write a build.ts and .dockerignore for the project in a folder (Node, Go, Python, static)')
    .argument('[dir]', 'the project folder', '.')
    .option('--force', 'replace an existing build.ts and .dockerignore')
    .option('--lock', 'also pin the base images by digest in wharf.lock (asks their registries)')
    .option('--registry-mirror <url>', 'with --lock: try this mirror first for Docker Hub images', collect);
  registryOptions(command).action(async (dir: string, flags: InitFlags, cmd: Command) => {
    const root = resolve(dir);
    const project = detectProject(root);
    const files = { 'build.ts': project.buildTs, '.dockerignore': `${project.ignore.join('\n')}\n` };
    for (const name of Object.keys(files)) {
      if (!flags.force && existsSync(join(root, name))) {
        throw new WharfError('INIT_EXISTS', `${join(dir, name)} already exists`, {
          hint: 'keep it, or run wharf init --force to replace it',
        });
      }
    }
    for (const [name, text] of Object.entries(files)) await writeFileAtomic(join(root, name), text);
    process.stdout.write(
      `wrote build.ts and .dockerignore for a ${project.kind} (check with: wharf lint ${join(dir, 'build.ts')})\n`,
    );
    if (flags.lock) {
      const { graph } = await loadDefinition(join(root, 'build.ts'));
      const { next } = await writeLock(graph, root, { registry: lockRegistry(flags, cmd) });
      const bases = Object.entries(next.images).map(([key, entry]) => `${key}@${entry.digest}`);
      process.stdout.write(`wrote wharf.lock: ${bases.join(', ') || 'no bases to pin'}\n`);
    }
  });
}

export interface Project {
  readonly kind: string;
  readonly buildTs: string;
  readonly ignore: readonly string[];
}

/** Manifests are small; anything bigger is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

function readSmall(file: string): string | undefined {
  if (!existsSync(file) || !statSync(file).isFile() || statSync(file).size > MAX_MANIFEST_BYTES)
    return undefined;
  return readFileSync(file, 'utf8');
}

/** What `wharf init` would write for the project in `root` (exported for its unit test). */
export function detectProject(root: string): Project {
  const has = (name: string) => existsSync(join(root, name));
  if (has('go.mod')) return goModule(root);
  if (has('package.json')) return nodeProject(root);
  if (has('pyproject.toml') || has('requirements.txt')) return pythonApp(root);
  if (has('index.html')) return staticSite(root);
  throw new WharfError('INIT_UNKNOWN_PROJECT', `no project wharf init knows in ${root}`, {
    hint: 'it looks for go.mod, package.json, pyproject.toml or requirements.txt, or index.html',
  });
}

/** A TypeScript string literal. */
const q = (text: string) =>
  `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n')}'`;
const list = (items: readonly string[]) =>
  items.length === 1 ? q(items[0] as string) : `[${items.map(q).join(', ')}]`;
/** A name usable as an image title: the folder's or the manifest's. */
const title = (name: string | undefined, root: string) => name?.replace(/^@[^/]+\//, '') || basename(root);

const header = (what: string) =>
  `// Written by \`wharf init\` for ${what}. Edit freely: \`wharf lint\` checks it, \`wharf build\` builds it.\n`;

const COMMON_IGNORE = ['.git', 'build.ts', 'wharf.lock', '.wharf-lint.json', '.dockerignore', '*.log'];

// ---- Node.js -------------------------------------------------------------------------------------

interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  workspaces?: string[] | { packages?: string[] };
}

function nodeProject(root: string): Project {
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(readSmall(join(root, 'package.json')) ?? '') as PackageJson;
  } catch (error) {
    throw new WharfError('INIT_BAD_MANIFEST', `${join(root, 'package.json')} is not valid JSON`, {
      hint: 'fix package.json first (npm pkg get name shows what npm reads)',
      cause: error,
    });
  }
  const has = (name: string) => existsSync(join(root, name));
  const pm = has('pnpm-lock.yaml') || has('pnpm-workspace.yaml') ? 'pnpm' : has('yarn.lock') ? 'yarn' : 'npm';
  const patterns = has('pnpm-workspace.yaml')
    ? pnpmWorkspacePatterns(readSmall(join(root, 'pnpm-workspace.yaml')) ?? '')
    : Array.isArray(pkg.workspaces)
      ? pkg.workspaces
      : (pkg.workspaces?.packages ?? []);
  const workspaceDirs = expandWorkspaces(root, patterns);
  const lock = { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock' }[pm];
  const manifests = ['package.json', lock, '.npmrc', 'pnpm-workspace.yaml', '.yarnrc.yml'].filter(has);
  const install = {
    npm: has('package-lock.json') ? 'npm ci' : 'npm install',
    pnpm: has('pnpm-lock.yaml') ? 'pnpm install --frozen-lockfile' : 'pnpm install',
    yarn: has('yarn.lock') ? 'yarn install --frozen-lockfile' : 'yarn install',
  }[pm];
  const buildScript = workspaceDirs.length
    ? {
        npm: 'npm run build --workspaces --if-present',
        pnpm: 'pnpm -r --if-present build',
        yarn: 'yarn workspaces run build',
      }[pm]
    : pkg.scripts?.build
      ? `${pm} run build`
      : undefined;
  const start = nodeStart(pkg);
  // A workspace root whose start hands over to one package (`pnpm --filter api start`): run that
  // package's `node <file>` directly, from its folder, so the image needs no package manager at run
  // time (corepack would download pnpm again for the non-root user, at every container start).
  const member = startedWorkspace(root, pkg, workspaceDirs);
  const cmd = member
    ? ['node', member.start]
    : start
      ? ['node', start]
      : pkg.main
        ? ['node', pkg.main]
        : pkg.scripts?.start
          ? [pm, 'start']
          : ['node', 'index.js'];
  const kind = `Node.js ${workspaceDirs.length ? 'workspace' : 'app'} (${pm})`;
  // pnpm and yarn run through corepack, whose V8 compile cache lands in /tmp (~1 MB a step, in the
  // layer): a tmpfs there keeps it out.
  const corepack = pm !== 'npm';
  const tmp = corepack ? ", tmpfs('/tmp')" : '';
  const lines = [
    header(`a ${kind}`),
    `import { cache, define, http, ociLabels, stage${corepack ? ', tmpfs' : ''} } from '@wharf/core';`,
    '',
    "const node = 'node:20-alpine';",
    '',
    '// Dependencies first, from the manifests alone: this layer stays cached until they change.',
    "const deps = stage('deps')",
    '  .from(node)',
    "  .workdir('/app')",
    ...(corepack ? ["  .run('corepack enable')"] : []),
    `  .copy(${list(manifests)}, './')`,
    ...workspaceDirs.map((d) => `  .copy(${q(`${d}/package.json`)}, ${q(`./${d}/`)})`),
    `  .run(${q(install)}, { mounts: [cache.${pm}()${tmp}] });`,
    '',
    "const build = stage('build')",
    '  .from(deps)',
    "  .copy('.', '.')",
    ...(buildScript ? [`  .run(${q(buildScript)}${corepack ? `, { mounts: [${tmp.slice(2)}] }` : ''})`] : []),
    "  .env({ NODE_ENV: 'production' });",
    '',
    "const app = stage('app')",
    '  .from(build)',
    `  .label(ociLabels({ title: ${q(title(pkg.name, root))} }))`,
    ...(member ? [`  .workdir(${q(`/app/${member.dir}`)})`] : []),
    "  .user('node')",
    '  .expose(3000)',
    '  // Point the check at a route that answers 200 (it fails on 4xx/5xx).',
    "  .healthcheck(http(3000, '/'), { interval: '30s', timeout: '3s', retries: 3 })",
    `  .cmd(${JSON.stringify(cmd).replaceAll('"', "'").replaceAll(',', ', ')});`,
    '',
    'export default define({ target: app });',
  ];
  return {
    kind,
    buildTs: `${lines.join('\n')}\n`,
    ignore: ['node_modules', '**/node_modules', 'dist', ...COMMON_IGNORE],
  };
}

/** The file of a `node <file>` start script. */
function nodeStart(pkg: PackageJson): string | undefined {
  return /^node\s+([\w./-]+)$/.exec(pkg.scripts?.start?.trim() ?? '')?.[1];
}

/**
 * The workspace package a root start script hands over to (`pnpm --filter api start`,
 * `npm start -w api`, `yarn workspace api start`), when its own start is `node <file>`.
 */
function startedWorkspace(
  root: string,
  pkg: PackageJson,
  workspaceDirs: readonly string[],
): { dir: string; start: string } | undefined {
  const script = pkg.scripts?.start?.trim() ?? '';
  const name =
    /^pnpm\s+(?:--filter|-F)[\s=]+['"]?([^\s'"]+)['"]?\s+(?:run\s+)?start$/.exec(script)?.[1] ??
    /^npm\s+(?:run\s+)?start\s+(?:-w|--workspace)[\s=]+['"]?([^\s'"]+)['"]?$/.exec(script)?.[1] ??
    /^yarn\s+workspace\s+['"]?([^\s'"]+)['"]?\s+(?:run\s+)?start$/.exec(script)?.[1];
  if (!name) return undefined;
  for (const dir of workspaceDirs) {
    let member: PackageJson;
    try {
      member = JSON.parse(readSmall(join(root, dir, 'package.json')) ?? '') as PackageJson;
    } catch {
      continue;
    }
    if (member.name !== name && dir !== name && basename(dir) !== name) continue;
    const start = nodeStart(member);
    return start ? { dir, start } : undefined;
  }
  return undefined;
}

/** The `packages:` globs of a pnpm-workspace.yaml (the simple list form). */
function pnpmWorkspacePatterns(yaml: string): string[] {
  const out: string[] = [];
  let inPackages = false;
  for (const line of yaml.split('\n')) {
    if (/^packages\s*:/.test(line)) inPackages = true;
    else if (/^\S/.test(line)) inPackages = false;
    else if (inPackages) {
      const m = /^\s*-\s*['"]?([^'"#]+?)['"]?\s*(#.*)?$/.exec(line);
      if (m?.[1]) out.push(m[1]);
    }
  }
  return out;
}

/** Workspace folders with a package.json: `dir/*` globs expanded one level, plain paths as they are. */
function expandWorkspaces(root: string, patterns: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const raw of patterns) {
    const pattern = raw.replace(/^\.\//, '').replace(/\/+$/, '');
    if (pattern.startsWith('!') || pattern.includes('..') || pattern.startsWith('/')) continue;
    const candidates = pattern.endsWith('/*')
      ? safeList(join(root, pattern.slice(0, -2))).map((name) => `${pattern.slice(0, -2)}/${name}`)
      : pattern.includes('*')
        ? []
        : [pattern];
    for (const dir of candidates) if (existsSync(join(root, dir, 'package.json'))) dirs.add(dir);
  }
  return [...dirs].sort().slice(0, 200);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
      .map((e) => e.name);
  } catch {
    return [];
  }
}

// ---- Go ------------------------------------------------------------------------------------------

function goModule(root: string): Project {
  const mod = readSmall(join(root, 'go.mod')) ?? '';
  const module = /^module\s+(\S+)/m.exec(mod)?.[1];
  const goVersion = /^go\s+(\d+\.\d+)/m.exec(mod)?.[1] ?? '1.22';
  const manifests = ['go.mod', 'go.sum'].filter((f) => existsSync(join(root, f)));
  const lines = [
    header('a Go module'),
    "import { cache, define, ociLabels, stage } from '@wharf/core';",
    '',
    '// Modules first, from go.mod/go.sum alone; both Go caches are cache mounts.',
    "const build = stage('build')",
    `  .from(${q(`golang:${goVersion}-alpine`)})`,
    "  .workdir('/src')",
    `  .copy(${list(manifests)}, './')`,
    "  .run('go mod download', { mounts: [...cache.go()] })",
    "  .copy('.', '.')",
    "  .run('CGO_ENABLED=0 go build -trimpath -o /out/app .', { mounts: [...cache.go()] });",
    '',
    '// A static binary needs nothing else: no shell, no package manager, nothing to patch.',
    "const app = stage('app')",
    "  .from('scratch')",
    "  .copy(build, '/out/app', '/app')",
    `  .label(ociLabels({ title: ${q(title(module?.split('/').at(-1), root))} }))`,
    '  .user(65534, 65534)',
    "  .cmd(['/app']);",
    '',
    'export default define({ target: app });',
  ];
  return { kind: 'Go module', buildTs: `${lines.join('\n')}\n`, ignore: ['bin', 'vendor', ...COMMON_IGNORE] };
}

// ---- Python --------------------------------------------------------------------------------------

/** A dependency line naming a web framework or server (requirements.txt or pyproject.toml). */
const WEB_FRAMEWORK =
  /^\s*["']?(flask|django|fastapi|starlette|uvicorn|gunicorn|aiohttp|tornado|bottle|sanic|quart|falcon)\b/im;

function pythonApp(root: string): Project {
  const requirements = existsSync(join(root, 'requirements.txt'));
  const pyproject = readSmall(join(root, 'pyproject.toml'));
  const name = pyproject ? /^name\s*=\s*["']([^"']+)["']/m.exec(pyproject)?.[1] : undefined;
  const entry = ['main.py', 'app.py', 'server.py'].find((f) => existsSync(join(root, f))) ?? 'main.py';
  const install = requirements
    ? [
        "  .copy('requirements.txt', './')",
        "  .run('pip install -r requirements.txt', { mounts: [cache.pip()] })",
        "  .copy('.', '.')",
      ]
    : ["  .copy('.', '.')", "  .run('pip install .', { mounts: [cache.pip()] })"];
  // A web framework among the dependencies makes it a service: expose and check the port gunicorn,
  // uvicorn and Django's runserver default to (the comment tells the user where to change it).
  const web = WEB_FRAMEWORK.test(`${readSmall(join(root, 'requirements.txt')) ?? ''}\n${pyproject ?? ''}`);
  const service = web
    ? [
        '  .expose(8000) // the port the app listens on',
        "  .healthcheck(http(8000, '/'), { interval: '30s', timeout: '3s', retries: 3 })",
      ]
    : [];
  const lines = [
    header('a Python app'),
    `import { cache, define, ${web ? 'http, ' : ''}nonRootUser, ociLabels, stage } from '@wharf/core';`,
    '',
    "const app = stage('app')",
    "  .from('python:3.12-slim')",
    "  .workdir('/app')",
    "  .env({ PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' })",
    ...install,
    ...service,
    `  .label(ociLabels({ title: ${q(title(name, root))} }));`,
    '',
    `export default define({ target: nonRootUser(app).cmd(['python', ${q(entry)}]) });`,
  ];
  return {
    kind: 'Python app',
    buildTs: `${lines.join('\n')}\n`,
    ignore: ['__pycache__', '*.pyc', '.venv', 'venv', '.pytest_cache', ...COMMON_IGNORE],
  };
}

// ---- static site ---------------------------------------------------------------------------------

function staticSite(root: string): Project {
  const lines = [
    header('a static site'),
    "import { define, http, ociLabels, stage } from '@wharf/core';",
    '',
    '// nginx built to run as its own user on port 8080.',
    "const site = stage('site')",
    "  .from('nginxinc/nginx-unprivileged:1.27-alpine')",
    "  .copy('.', '/usr/share/nginx/html')",
    `  .label(ociLabels({ title: ${q(title(undefined, root))} }))`,
    "  .user('nginx')",
    '  .expose(8080)',
    "  .healthcheck(http(8080, '/'), { interval: '30s', timeout: '3s', retries: 3 });",
    '',
    'export default define({ target: site });',
  ];
  return { kind: 'static site', buildTs: `${lines.join('\n')}\n`, ignore: COMMON_IGNORE };
}
