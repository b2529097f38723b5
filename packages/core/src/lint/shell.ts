/**
 * Just enough of a POSIX shell reader for lint rules: a RUN script → its simple commands (words with
 * quotes removed), whether each runs in a subshell (`( … )`, `$( … )`, backquotes), its redirections,
 * and whether the script pipes. Not an interpreter: `$VAR`s stay as written; unknown syntax only makes
 * a rule see less, never throw.
 *
 * @example
 * simpleCommands('(cd /src && make) | tee log').commands
 * // [{ words: ['cd', '/src'], subshell: true, … }, { words: ['make'], subshell: true, … }, { words: ['tee', 'log'], … }]
 */

export interface SimpleCommand {
  /** The command name and its arguments, quotes removed; leading `VAR=value` assignments dropped. */
  readonly words: readonly string[];
  /** Runs in a subshell: a `cd` here does not change the directory of later commands. */
  readonly subshell: boolean;
  /** Redirection targets (`> file`, `>> file`, `2> file`), output redirections only. */
  readonly writes: readonly string[];
}

export interface ShellScript {
  readonly commands: readonly SimpleCommand[];
  /** A `|` pipe (not `||`) outside quotes. */
  readonly pipes: boolean;
}

/** Reserved words that start a compound command; the command after them is what runs. */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

export function simpleCommands(script: string): ShellScript {
  const commands: SimpleCommand[] = [];
  let pipes = false;
  // Subshell nesting: `(`, `$(` and backquotes each open one.
  const depth: string[] = [];
  let words: string[] = [];
  let writes: string[] = [];
  let word = '';
  let inWord = false;
  let redirect = false;

  const endWord = () => {
    if (!inWord) return;
    if (redirect) writes.push(word);
    else words.push(word);
    word = '';
    inWord = false;
    redirect = false;
  };
  const endCommand = () => {
    endWord();
    while (words.length && (KEYWORDS.has(words[0] as string) || ASSIGNMENT.test(words[0] as string))) {
      words.shift();
    }
    if (words.length) commands.push({ words, subshell: depth.length > 0, writes });
    words = [];
    writes = [];
  };

  for (let i = 0; i < script.length; i++) {
    const c = script[i] as string;
    const next = script[i + 1];
    if (c === '\\') {
      if (next === '\n') {
        i++;
        continue;
      }
      word += next ?? '';
      inWord = true;
      i++;
      continue;
    }
    if (c === "'") {
      const end = script.indexOf("'", i + 1);
      const stop = end < 0 ? script.length : end;
      word += script.slice(i + 1, stop);
      inWord = true;
      i = stop;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < script.length && script[j] !== '"'; j++) {
        if (script[j] === '\\' && j + 1 < script.length) j++;
        word += script[j];
      }
      inWord = true;
      i = j;
      continue;
    }
    if (c === '#' && !inWord) {
      const end = script.indexOf('\n', i);
      i = end < 0 ? script.length : end - 1;
      continue;
    }
    if (c === '$' && next === '(') {
      endCommand();
      depth.push(')');
      i++;
      continue;
    }
    if (c === '`') {
      endCommand();
      if (depth.at(-1) === '`') depth.pop();
      else depth.push('`');
      continue;
    }
    if (c === '(') {
      endCommand();
      depth.push(')');
      continue;
    }
    if (c === ')') {
      endCommand();
      if (depth.at(-1) === ')') depth.pop();
      continue;
    }
    if (c === '|' || c === '&' || c === ';' || c === '\n') {
      if (c === '|' && next !== '|' && script[i - 1] !== '|' && script[i - 1] !== '>') pipes = true;
      if (c === '&' && script[i - 1] === '>') continue; // `2>&1`
      endCommand();
      if ((c === '|' || c === '&' || c === ';') && next === c) i++;
      continue;
    }
    if (c === '>' || c === '<') {
      // A redirection: drop a leading fd number, and record output targets.
      if (inWord && /^\d+$/.test(word)) {
        word = '';
        inWord = false;
      }
      endWord();
      if (next === '>' || next === '&') i++;
      if (script[i + 1] === '&' || script[i + 1] === '|') i++;
      redirect = c === '>';
      if (c === '<') {
        // Input redirection target: read and ignore the next word.
        while (script[i + 1] === ' ' || script[i + 1] === '\t') i++;
        const m = /^[^\s;&|()]+/.exec(script.slice(i + 1));
        i += m?.[0].length ?? 0;
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      if (!redirect || inWord) endWord();
      continue;
    }
    word += c;
    inWord = true;
  }
  endCommand();
  return { commands, pipes };
}

/** The program a command runs: the base name of its first word (`/usr/bin/apt-get` → `apt-get`). */
export function programOf(command: SimpleCommand): string {
  const first = command.words[0] ?? '';
  return first.slice(first.lastIndexOf('/') + 1);
}
