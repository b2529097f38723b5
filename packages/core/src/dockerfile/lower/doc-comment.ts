/**
 * BuildKit's doc comment (`getComment`): the first comment line above an instruction that starts with the
 * documented name (a stage name or an ARG key) and a space, without that prefix. `# foo sets foo` above
 * `ARG foo` documents foo as "sets foo".
 */
export function docComment(comments: readonly string[] | undefined, name: string): string {
  if (name === '') return '';
  const line = (comments ?? []).find((c) => c.startsWith(`${name} `));
  return line === undefined ? '' : line.slice(name.length + 1);
}
