/**
 * What a build reports while it runs. Core never writes to the terminal: it calls the caller's sink
 * with these events, and the CLI renders them (tty, plain lines or JSON).
 */

export type BuildEvent =
  | { readonly type: 'stage-started'; readonly stage: string; readonly base: string }
  | { readonly type: 'step-started'; readonly stage: string; readonly step: number; readonly text: string }
  | {
      readonly type: 'step-finished';
      readonly stage: string;
      readonly step: number;
      readonly text: string;
      readonly ms: number;
      /** The layer the step produced (compressed bytes), if any. */
      readonly layer?: { readonly digest: string; readonly size: number };
      /** The layer came from the step cache. */
      readonly cached?: boolean;
      /** Why the step cache had no layer for this step (what changed since its last build). */
      readonly miss?: string;
      /**
       * Where a RUN's time went, in ms: `prepare` (root filesystem, mounts, bundle), `run` (the
       * command), `diff` (the change set), `write` (the layer tar into the store).
       */
      readonly phases?: Readonly<Record<string, number>>;
    }
  | { readonly type: 'warning'; readonly message: string; readonly hint?: string }
  /** A line of output from a step or a tool (RUN output, docker build with --backend docker). */
  | { readonly type: 'log'; readonly text: string; readonly stage?: string; readonly step?: number }
  /** An output is complete: `kind` is its `-o type=`, `digest` the manifest digest (image ID for docker-archive). */
  | {
      readonly type: 'output-written';
      readonly kind: string;
      readonly dest: string;
      readonly digest: string;
      /** The references a registry output pushed (`registry.example.com/app:1.0`). */
      readonly references?: readonly string[];
    }
  | PushEvent;

/**
 * Pushing to a registry, for the image `reference`: each blob sent, already there, or mounted from
 * another repository of the registry, and each manifest stored. Sizes are compressed bytes as stored.
 */
export type PushEvent =
  | {
      readonly type: 'blob-pushed';
      readonly reference: string;
      readonly digest: string;
      readonly size: number;
      /** Bytes this process sent (less than `size` when an earlier upload was resumed). */
      readonly sent: number;
    }
  | {
      readonly type: 'blob-exists';
      readonly reference: string;
      readonly digest: string;
      readonly size: number;
    }
  | {
      readonly type: 'blob-mounted';
      readonly reference: string;
      readonly digest: string;
      readonly size: number;
      readonly from: string;
    }
  | { readonly type: 'manifest-pushed'; readonly reference: string; readonly digest: string };

const PUSH_EVENT_TYPES: ReadonlySet<string> = new Set([
  'blob-pushed',
  'blob-exists',
  'blob-mounted',
  'manifest-pushed',
]);

/**
 * A registry client event as a build event when it is one of the push events above (with `reference`
 * added where the registry event has none); undefined for the others (progress, retries, pulls).
 * For a push's `onEvent`: `(e) => { const b = pushEvent(ref, e); if (b) onEvent(b); }`.
 */
export function pushEvent(
  reference: string,
  event: { readonly type: string; readonly reference?: string },
): PushEvent | undefined {
  if (!PUSH_EVENT_TYPES.has(event.type)) return undefined;
  return { ...event, reference: event.reference ?? reference } as PushEvent;
}

/**
 * Receives a build's events (`build({ onEvent })`); core never writes to the terminal itself.
 * @example await build(app, { onEvent: (e) => { if (e.type === 'step-finished') console.log(e.text, e.ms); } })
 */
export type EventSink = (event: BuildEvent) => void;

/** The default sink: the library is silent unless asked. */
export const discardEvents: EventSink = () => {};
