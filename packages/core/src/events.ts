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
  | { readonly type: 'log'; readonly text: string; readonly stage?: string }
  | {
      readonly type: 'output-written';
      readonly kind: string;
      readonly dest: string;
      readonly digest: string;
    };

export type EventSink = (event: BuildEvent) => void;

/** The default sink: the library is silent unless asked. */
export const discardEvents: EventSink = () => {};
