/**
 * The live terminal view: finished steps print once (as in plain mode) and scroll up; below them, one
 * line per running step with a spinner and its elapsed time, redrawn in place ten times a second.
 */
import type { BuildEvent } from '@wharf/core';
import type { Progress } from './progress.js';

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function ttySink(out: NodeJS.WriteStream, plain: (out: NodeJS.WritableStream) => Progress): Progress {
  const running = new Map<string, { text: string; started: number }>();
  let drawn = 0;
  let frame = 0;
  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    const width = Math.max(40, (out.columns || 100) - 1);
    const lines = [...running.values()].map(({ text, started }) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const line = `${frames[frame % frames.length]} ${text.split('\n')[0]}`;
      const room = width - seconds.length - 3;
      return `${line.length > room ? `${line.slice(0, room - 1)}…` : line.padEnd(room)}  ${seconds}s`;
    });
    if (lines.length) out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  // Plain lines go through a writer that first erases the live block, then redraws it below them.
  const above = plain({
    write(chunk: string) {
      clear();
      out.write(chunk);
      draw();
      return true;
    },
  } as NodeJS.WritableStream);
  const timer = setInterval(() => {
    frame++;
    clear();
    draw();
  }, 100);
  timer.unref();
  return {
    sink(event: BuildEvent) {
      if (event.type === 'step-started')
        running.set(`${event.stage}/${event.step}`, {
          text: `[${event.stage} ${event.step}] ${event.text}`,
          started: Date.now(),
        });
      if (event.type === 'step-finished') running.delete(`${event.stage}/${event.step}`);
      above.sink(event);
      if (event.type === 'step-started') {
        clear();
        draw();
      }
    },
    close() {
      clearInterval(timer);
      running.clear();
      above.close();
      clear();
    },
  };
}
