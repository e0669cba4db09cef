import type { Context } from '../context.js';

/** Parsed options, by name (positionals included). */
export type Arguments = Record<string, unknown>;

export interface CommandModule {
  /** Runs the command (`path`: ['cache', 'gc'] for a subcommand); returns the exit code. */
  run(context: Context, args: Arguments, path: string[]): Promise<number>;
}
