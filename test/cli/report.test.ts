import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactFolder } from '../support/artifact-fixtures.js';
import { runCli, workspace } from '../support/cli.js';

// The built CLI draws the report's charts with the plotting libraries of lib/vega.cjs, a bundle of
// their own (scripts/bundle.mjs): both ways bin/phiforge.js loads the main bundle must reach it.

describe('phiforge report, built', () => {
  it.each([
    ['through the code cache', []],
    ['plainly, with --verbose', ['--verbose']],
  ])('draws the charts %s', async (_how, flags) => {
    const cwd = await workspace({
      ...artifactFolder('dist/a', { devices: [{ device: 'CPU', tokensPerS: 30 }, { device: 'GPU', tokensPerS: 90, similarity: 0.7 }] }),
      ...artifactFolder('dist/b'),
    });
    const result = await runCli(['report', 'dist/a', 'dist/b', '--html', 'site/report.html', ...flags], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain('wrote site/report.html: 3 rows, charts: chart-similarity-speed, chart-size');
    const html = await readFile(path.join(cwd, 'site', 'report.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html.split('aria-roledescription="point"').length - 1).toBe(2);
    expect(result.stdout).toContain('| b | openvino | int4 sym g128 r0.6 | – | 3.0 MiB | – | not validated |');
  });
});
