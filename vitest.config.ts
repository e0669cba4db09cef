import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Three lanes: `unit` (pure functions and in-process code: no built CLI, no Python; seconds),
// `cli` (the built CLI as a user runs it, with no converter), `e2e` (the real converters and runtimes).
// `npm test` runs all three; `npm run test:unit` needs no build.
export default defineConfig({
  test: {
    reporters: ['default'],
    // Vitest leaves one core free by default, which on a 2-core machine runs the unit lane's files one
    // at a time (42 s instead of 27 s); e2e files still run one at a time (fileParallelism below).
    maxWorkers: availableParallelism(),
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/support/unit-setup.ts'], testTimeout: 30_000 } },
      { test: { name: 'cli', include: ['test/cli/**/*.test.ts'], testTimeout: 60_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // A step cache of its own for every run, the venvs linked in: a green run means the converters ran.
          globalSetup: ['test/support/e2e-cache.ts'],
          // Real converters want both cores; running files one at a time keeps them from starving
          // each other on a 2-core CI machine.
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
