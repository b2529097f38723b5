// vitest globalSetup for the `test` project: once per run, before any test file.
// Brings up the mirror registry (fixed port) and a dockerd that uses it, pushes the look-alike base images,
// then provides connection info to tests (inject('wharfEnv'), or env WHARF_TEST_MIRROR / WHARF_TEST_STATE).
// The mirror and dockerd stay up afterwards on purpose: the next run finds them warm.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { BUSYBOX, ensureBaseImages, NODE } from './base-images.js';
import { ensureBinfmt } from './binfmt.js';
import { DOCKER_BIN, ensureDockerEngine } from './docker.js';
import type { WharfTestEnv } from './env.js';
import { withLock } from './exec.js';
import { stateDir } from './paths.js';
import { ensureMirror, MIRROR_PORT } from './registry.js';
import { isCI, which } from './tools.js';

const PEERS = ['dockerd', DOCKER_BIN, 'docker-registry', 'skopeo', 'umoci', 'runc', '/bin/busybox'];

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  const state = stateDir();
  const host = `127.0.0.1:${MIRROR_PORT}`;
  const env: WharfTestEnv = {
    available: false,
    mirror: { host, url: `http://${host}` },
    busybox: BUSYBOX,
    node: NODE,
    stateDir: state,
  };
  process.env.WHARF_TEST_STATE = state;
  process.env.WHARF_TEST_MIRROR = host;

  const missing = PEERS.filter((t) => !which(t));
  if (missing.length > 0 || process.env.WHARF_TEST_NO_DOCKER) {
    env.reason = missing.length
      ? `missing peer tools: ${missing.join(', ')} (run scripts/test-env.sh)`
      : 'WHARF_TEST_NO_DOCKER is set';
    if (isCI) throw new Error(`[wharf-test] ${env.reason}; CI never skips these tests`);
    console.warn(`[wharf-test] Docker-backed tests will skip: ${env.reason}`);
    project.provide('wharfEnv', env);
    return;
  }

  // One setup at a time per machine: concurrent runs would otherwise race to restart dockerd or push images.
  const rebuilt = await withLock(join(state, 'setup.lock'), async () => {
    const mirror = await ensureMirror(MIRROR_PORT);
    await ensureDockerEngine({ registryMirror: mirror.url });
    const emulation = await ensureBinfmt();
    if (emulation) console.warn(`[wharf-test] foreign-platform RUN tests will fail: ${emulation}`);
    return (await ensureBaseImages(mirror)).rebuilt;
  });
  env.available = true;
  project.provide('wharfEnv', env);
  const what = rebuilt.length ? `built ${rebuilt.join(', ')}` : 'base images cached';
  console.log(`[wharf-test] environment ready in ${Date.now() - started} ms (mirror ${host}, ${what})`);
}
