import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where phiforge's own pipelines/, toolchains/ and recipes/ live (the package root). One level up holds
 * both for src/context.ts (tests) and for the flat bundle chunks in lib/ (scripts/bundle.mjs).
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What every command needs to know about the invocation. */
export interface Context {
  cacheRoot: string;
  outRoot: string;
  verbose: boolean;
  json: boolean;
  /** Run NPU targets through NPUW on the CPU when no NPU is present (results are labelled emulated). */
  emulateNpu: boolean;
  /** The Python interpreter new venvs are made from. */
  python: string;
  /** Progress and diagnostics for people: always stderr, so stdout stays clean for --json. */
  say: (line: string) => void;
  /** Results: stdout (tables for people, or the one JSON document with --json). */
  print: (text: string) => void;
  /** Folds what `work` says into one collapsible group of a CI log (GitHub Actions); absent elsewhere. */
  group?: <T>(title: string, work: () => Promise<T>) => Promise<T>;
}

/** Runs `work` inside a log group where the context has groups, else just runs it. */
export function inGroup<T>(context: Pick<Context, 'group'>, title: string, work: () => Promise<T>): Promise<T> {
  return context.group ? context.group(title, work) : work();
}

export function cachePath(context: Pick<Context, 'cacheRoot'>, ...parts: string[]): string {
  return path.join(context.cacheRoot, ...parts);
}
