#!/usr/bin/env node
// lib/ is a bundle (scripts/bundle.mjs); --verbose prints stacks, which should name the TypeScript
// sources. Maps must be enabled before the bundle loads, and cost start-up time, so only then.
if (process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);
const { main } = await import('../lib/main.js');

process.exitCode = await main(process.argv.slice(2));
