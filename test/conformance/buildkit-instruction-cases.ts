// The shape of the buildkit-parser suite's `extracted/instruction-cases.json`, read by the parser and the
// lowering conformance tests.
import { readFileSync } from 'node:fs';
import { peerSuite } from './peer-suites.js';

export interface InstructionCases {
  errors: { dockerfile: string; expectedErrorContains: string }[];
  copyHeredoc: {
    cases: {
      dockerfile: string;
      destPath: string;
      sourcePaths: string[] | null;
      sourceContents: { path: string; data: string; expand: boolean }[] | null;
    }[];
  };
  runHeredoc: {
    cases: {
      dockerfile: string;
      prependShell: boolean;
      cmdLine: string[];
      files: { name: string; data: string; chomp: boolean }[] | null;
    }[];
  };
  durationFlags: { cases: { value: string; ok?: true; errorContains?: string }[] };
  docComments: { dockerfile: string };
}

/** The suite's instruction-level tables (argument counts, flags, heredocs, durations, doc comments). */
export function instructionCases(): InstructionCases {
  return JSON.parse(
    readFileSync(peerSuite('buildkit-parser', 'extracted', 'instruction-cases.json'), 'utf8'),
  ) as InstructionCases;
}
