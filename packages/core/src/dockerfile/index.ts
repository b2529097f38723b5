// The public names of `dockerfile/` (`@wharf/core/dockerfile`): parse (text → AST), lower (AST → IR), emit
// (IR → Dockerfile text) and codegen (IR → build.ts), with their option and error types.

export type { CodegenErrorCode, CodegenOptions } from './codegen/index.js';
export { generateBuildTs } from './codegen/index.js';
export type { EmitErrorCode, EmittedDockerfile } from './emit/index.js';
export { emitDockerfile, emitDockerignore } from './emit/index.js';
export type { DockerfileLowerErrorCode, LowerOptions } from './lower/index.js';
export { DockerfileLowerError, lowerDockerfile } from './lower/index.js';
export type { Directive, Node, ParseOptions, ParseResult, ParseWarning } from './parse/index.js';
export { DockerfileParseError, dump, parseDockerfile } from './parse/index.js';
