/**
 * What the registry client reports while it works. The library is silent: callers pass a sink and
 * render these (the CLI prints per-blob progress). Sizes are compressed bytes as stored.
 */

export type RegistryEvent =
  /** A blob is already in the target repository (HEAD said so): nothing sent. */
  | { readonly type: 'blob-exists'; readonly digest: string; readonly size: number }
  /** A blob was mounted from another repository of the same registry: nothing sent. */
  | { readonly type: 'blob-mounted'; readonly digest: string; readonly size: number; readonly from: string }
  /** An upload continues a session left by an earlier (possibly killed) push. */
  | { readonly type: 'blob-resumed'; readonly digest: string; readonly size: number; readonly offset: number }
  /** Bytes of a blob the registry has acknowledged so far (push) or received (pull). */
  | {
      readonly type: 'blob-progress';
      readonly direction: 'push' | 'pull';
      readonly digest: string;
      readonly size: number;
      readonly bytes: number;
    }
  /** A blob finished uploading; `sent` counts the bytes this process sent (less than size after a resume). */
  | { readonly type: 'blob-pushed'; readonly digest: string; readonly size: number; readonly sent: number }
  /** A blob was downloaded into the store (verified). */
  | { readonly type: 'blob-fetched'; readonly digest: string; readonly size: number }
  /** A blob was already in the local store: not downloaded. */
  | { readonly type: 'blob-cached'; readonly digest: string; readonly size: number }
  | { readonly type: 'manifest-pushed'; readonly reference: string; readonly digest: string }
  /** A request failed and will be tried again after `delayMs`. */
  | {
      readonly type: 'retry';
      readonly operation: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  /** A mirror failed and the next source is tried. */
  | { readonly type: 'mirror-fallback'; readonly mirror: string; readonly reason: string }
  | { readonly type: 'warning'; readonly message: string };

export type RegistryEventSink = (event: RegistryEvent) => void;

export const discardRegistryEvents: RegistryEventSink = () => {};
