// What global-setup.ts hands to tests (vitest provide/inject), and the one-liners tests use to read it.
import { inject } from 'vitest';
import type { BaseImage } from './base-images.js';

export interface WharfTestEnv {
  /** false only off CI when a peer tool is missing or WHARF_TEST_NO_DOCKER=1; tests then skip. */
  available: boolean;
  /** Why the environment is unavailable. */
  reason?: string;
  /** The persistent mirror registry dockerd uses for Docker Hub names. */
  mirror: { host: string; url: string };
  /** Look-alike base images, served through the mirror under their Docker Hub names. */
  busybox: BaseImage;
  node: BaseImage;
  stateDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    wharfEnv: WharfTestEnv;
  }
}

/** The environment prepared by global-setup.ts (call inside a test file, not in helpers' module scope). */
export const testEnv = (): WharfTestEnv => inject('wharfEnv');

/** For `describe.skipIf(noDocker())`: never true under CI (global setup fails there instead). */
export const noDocker = (): boolean => !testEnv().available;
