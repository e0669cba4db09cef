import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';

// The report of real demo artifacts (the real converters and runtimes, through the shared cache), opened
// in a real browser: Debian's headless Chromium, which .ci/run installs when it is missing.

/** Chromium as `command -v chromium` finds it. */
function chromiumPath(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'chromium');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error('chromium is not on PATH: install Debian\'s chromium (apt-get install chromium), as .ci/run does when it is missing');
}

// Chromium's own traffic (updates, sync, field trials) would reach for the network; the page must need none.
const OFFLINE_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const demo = (name: string) => path.join(REPO_ROOT, 'recipes', 'demo', `${name}.yaml`);
const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];

describe('phiforge report in a browser', () => {
  it('shows three demo artifacts, a swept one and an unvalidated one: a point per artifact x device, no console error, nothing fetched', async () => {
    const cwd = await workspace({
      'recipes/sweep.yaml': `extends: ${demo('phi3-tiny-int4-ov')}\nname: phi3-tiny-int4-ov-sweep\nvalidate:\n  prompt_tokens: [32, 128]\n`,
    });
    const built = await runCli(args('build', demo('phi3-tiny-int4-ov'), demo('phi3-tiny-fp16-ov'), demo('phi3-tiny-int4-ort-cpu'), 'recipes/sweep.yaml'), { cwd });
    expect(built.exitCode, built.stderr).toBe(0);
    const unvalidated = await runCli(args('build', demo('phi3-tiny-int4-ov'), '--name', 'phi3-tiny-int4-ov-unvalidated', '--no-validate'), { cwd });
    expect(unvalidated.exitCode, unvalidated.stderr).toBe(0);

    // `phiforge report dist/*`, the shell's glob spelled out.
    const artifacts = (await readdir(path.join(cwd, 'dist'))).sort().map((name) => `dist/${name}`);
    const report = await runCli(['report', ...artifacts, '--html', 'report.html', '--md', 'summary.md'], { cwd });
    expect(report.exitCode, report.stderr).toBe(0);

    let deviceResults = 0;
    for (const dir of artifacts) deviceResults += existsSync(path.join(cwd, dir, 'validation')) ? (await readdir(path.join(cwd, dir, 'validation'))).length : 0;
    expect(deviceResults).toBe(4);
    const markdownRows = (await readFile(path.join(cwd, 'summary.md'), 'utf8')).split('\n').filter((line) => /^\| phi3-/.test(line));
    expect(markdownRows).toHaveLength(deviceResults + 1);
    expect(markdownRows.find((line) => line.startsWith('| phi3-tiny-int4-ov-unvalidated |'))).toContain('| not validated |');

    const html = await readFile(path.join(cwd, 'report.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//);

    const page = pathToFileURL(path.join(cwd, 'report.html')).href;
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: OFFLINE_FLAGS });
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      tab.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
      tab.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      tab.on('request', (request) => requests.push(request.url()));
      await tab.goto(page, { waitUntil: 'load' });

      expect(await tab.locator('#chart-similarity-speed g.mark-symbol.role-mark > path').count()).toBe(deviceResults);
      expect(await tab.locator('#chart-size g.mark-rect.role-mark > path').count()).toBe(artifacts.length);
      // One line, with a point at each of the swept prompt lengths.
      expect(await tab.locator('#chart-ttft-sweep g.mark-line.role-mark > path').count()).toBe(1);
      expect(await tab.locator('#chart-ttft-sweep g.mark-symbol.role-mark > path').count()).toBe(2);
      expect(await tab.locator('tbody tr').count()).toBe(deviceResults + 1);
      // The charts are drawn, not just present: the quality chart has a size on the page.
      const box = await tab.locator('#chart-similarity-speed svg').boundingBox();
      expect(box?.width).toBeGreaterThan(200);

      const screenshot = path.join(cwd, 'report.png');
      await tab.screenshot({ path: screenshot, fullPage: true });
      expect((await readFile(screenshot)).subarray(1, 4).toString()).toBe('PNG');

      expect(problems).toEqual([]);
      expect(requests).toEqual([page]);
    } finally {
      await browser.close();
    }
  });
});
