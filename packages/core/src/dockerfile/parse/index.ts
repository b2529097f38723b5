/**
 * The BuildKit-compatible Dockerfile parser: text → AST (`parseDockerfile`, `dump`), the shell-word
 * lexer that later expands the AST's words (`processWord`, `processWords`), heredoc helpers and the
 * EXPOSE port-spec parser. See README.md.
 */
export type { Directive, DirectiveName, EscapeToken } from './directives.js';
export { dump } from './dump.js';
export type { HeredocHeader } from './heredoc.js';
export { canContainHeredoc, chompHeredocContent, heredocsFromLine, parseHeredocWord } from './heredoc.js';
export { parseWords } from './line-parsers.js';
export type { Heredoc, Node, NodeAttributes } from './node.js';
export { nodeArgs } from './node.js';
export type { DockerfileParseErrorCode } from './parse-error.js';
export { DockerfileParseError } from './parse-error.js';
export type { ParseOptions, ParseResult, ParseWarning } from './parser.js';
export { parseDockerfile } from './parser.js';
export { parsePortSpec, parsePortSpecs } from './ports.js';
export type { ProcessWordResult, ShellEnv, ShellLexOptions } from './shell-lexer.js';
export { processWord, processWords } from './shell-lexer.js';
