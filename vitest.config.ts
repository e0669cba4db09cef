import { defineConfig } from 'vitest/config';

// Three lanes: `unit` (pure functions and in-process code: no built CLI, no Python; seconds),
// `cli` (the built CLI as a user runs it, with no converter), `e2e` (the real converters and runtimes).
// `npm test` runs all three; `npm run test:unit` needs no build.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/support/unit-setup.ts'], testTimeout: 30_000 } },
      { test: { name: 'cli', include: ['test/cli/**/*.test.ts'], testTimeout: 60_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
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
