import { goQuote, goQuoteList, trimSpace } from './go-text.js';
import type { Node } from './node.js';

/**
 * The AST as BuildKit's `Node.Dump()` prints it: one `(keyword ["--flag"] "arg" ...)` line per
 * instruction, Go-quoted, keywords lower-cased. The result has no trailing newline (BuildKit's
 * parser tests append one before comparing with their `result` files).
 *
 * @example
 * dump(parseDockerfile('FROM alpine AS build\nCOPY --from=build a b\n').ast)
 * // '(from "alpine" "AS" "build")\n(copy ["--from=build"] "a" "b")'
 */
export function dump(node: Node): string {
  let str = node.value.toLowerCase();
  if (node.flags.length > 0) str += ` ${goQuoteList(node.flags)}`;
  for (const child of node.children) str += `(${dump(child)})\n`;
  for (let n = node.next; n !== undefined; n = n.next) {
    str += n.children.length > 0 ? ` ${dump(n)}` : ` ${goQuote(n.value)}`;
  }
  return trimSpace(str);
}
