import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactFolder } from '../support/artifact-fixtures.js';
import { workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';

// `phiforge report`: artifact folders in, a Markdown table and a self-contained HTML page with charts out.

/** One chart of the page, by the id of its <figure>. */
function figure(html: string, id: string): string | undefined {
  return html.match(new RegExp(`<figure id="${id}">[\\s\\S]*?</figure>`))?.[0];
}

/** How many marks of a kind vega drew ("point", "bar"): each is one SVG element carrying its role. */
const marks = (svg: string, role: string) => svg.split(`aria-roledescription="${role}"`).length - 1;

const tableRows = (markdown: string) => markdown.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| artifact ') && !line.startsWith('| ---'));

describe('phiforge report', () => {
  it('writes a page that refers to nothing outside itself, with a point per artifact x device measured, and the table as Markdown', async () => {
    const cwd = await workspace({
      ...artifactFolder('dist/int4', { sizeMib: 2, devices: [{ device: 'CPU', tokensPerS: 40, similarity: 0.8 }, { device: 'NPU', emulated: true, tokensPerS: 20, similarity: 0.79 }] }),
      ...artifactFolder('dist/fp16', { sizeMib: 7, devices: [{ device: 'CPU', status: 'failed', tokensPerS: 12, similarity: 1 }] }),
      ...artifactFolder('dist/never'),
    });
    const result = await phiforge(['report', 'dist/int4', 'dist/fp16', 'dist/never', '--html', 'out/report.html', '--md', 'out/summary.md'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);

    const markdown = await readFile(path.join(cwd, 'out', 'summary.md'), 'utf8');
    expect(result.stdout).toBe(markdown);
    expect(tableRows(markdown).map((line) => line.split(' | ').slice(0, 7).join(' | '))).toEqual([
      '| int4 | openvino | int4 sym g128 r0.6 | – | 2.0 MiB | CPU | passed',
      '| int4 | openvino | int4 sym g128 r0.6 | – | 2.0 MiB | NPU (emulated) | passed',
      '| fp16 | openvino | int4 sym g128 r0.6 | – | 7.0 MiB | CPU | failed',
      '| never | openvino | int4 sym g128 r0.6 | – | 3.0 MiB | – | not validated',
    ]);

    const html = await readFile(path.join(cwd, 'out', 'report.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|url\(/i);
    const quality = figure(html, 'chart-similarity-speed');
    expect(quality).toBeDefined();
    expect(marks(quality!, 'point')).toBe(3);
    expect(quality).toContain('device: NPU (emulated)');
    // The artifact that was never validated is named under the chart it is missing from.
    expect(quality).toContain('not validated: never');
    expect(marks(figure(html, 'chart-size')!, 'bar')).toBe(3);
    expect(figure(html, 'chart-ttft-sweep')).toBeUndefined();
    expect(figure(html, 'chart-perplexity-speed')).toBeUndefined();
    // The page's table has the Markdown's rows.
    expect(html.match(/<tbody>[\s\S]*<\/tbody>/)![0].split('<tr').length - 1).toBe(4);
    expect(html).toContain('<td class="status">not validated</td>');
  });

  it('draws TTFT against prompt length for swept artifacts, and perplexity against speed where perplexity was measured', async () => {
    const cwd = await workspace({
      ...artifactFolder('dist/swept', { devices: [{ device: 'CPU', sweep: { 64: 30, 512: 90, 2048: 400 }, perplexityRatio: 1.02 }] }),
      ...artifactFolder('dist/plain', { devices: [{ device: 'GPU', similarity: null, perplexityRatio: 1.2 }] }),
    });
    const result = await phiforge(['report', 'dist/swept', 'dist/plain', '--html', 'report.html'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    // Similarity and perplexity ratio with three decimals, load time and memory in whole units, as the terminal's table.
    expect(result.stdout).toContain('| 0.900 | 4 | 1.020 | 20 (64 tok: 30, 512 tok: 90, 2048 tok: 400) | 10 | 100 | 300 | 120 |');

    const html = await readFile(path.join(cwd, 'report.html'), 'utf8');
    const sweep = figure(html, 'chart-ttft-sweep');
    expect(marks(sweep!, 'point')).toBe(3);
    expect(sweep).toContain('not swept: plain on GPU');
    expect(marks(figure(html, 'chart-perplexity-speed')!, 'point')).toBe(2);
    // plain measured no similarity: one point, and plain named as left out.
    const similarity = figure(html, 'chart-similarity-speed')!;
    expect(marks(similarity, 'point')).toBe(1);
    expect(similarity).toContain('no similarity or speed: plain on GPU');
  });

  it('refuses a folder that is not an artifact with exit 2, naming every such folder, and writes nothing', async () => {
    const cwd = await workspace({ ...artifactFolder('dist/good', { devices: [{ device: 'CPU' }] }), 'dist/notes/readme.txt': 'hello' });
    const one = await phiforge(['report', 'dist/good', 'dist/notes'], { cwd });
    expect(one.exitCode).toBe(2);
    expect(one.stderr).toContain('error: dist/notes is not an artifact: it has no manifest.json');
    expect(one.stderr).toContain('hint: ');
    expect(existsSync(path.join(cwd, 'report.html'))).toBe(false);

    const two = await phiforge(['report', 'dist/notes', 'dist/missing', 'dist/good', '--json'], { cwd });
    expect(two.exitCode).toBe(2);
    const { error } = JSON.parse(two.stdout);
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('dist/notes is not an artifact');
    expect(error.message).toContain('dist/missing does not exist');
  });

  it('refuses --html naming a folder before reading anything', async () => {
    const cwd = await workspace({ ...artifactFolder('dist/good'), 'out/keep.txt': '' });
    const result = await phiforge(['report', 'dist/good', '--html', 'out'], { cwd });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--html out is a folder');
  });

  it('prints one JSON document with --json: the rows and the files written', async () => {
    const cwd = await workspace(artifactFolder('dist/good', { devices: [{ device: 'CPU', tokensPerS: 55 }] }));
    const result = await phiforge(['report', 'dist/good', '--json'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: true, html: 'report.html', charts: ['chart-similarity-speed', 'chart-size'] });
    expect(report.rows).toEqual([expect.objectContaining({ artifact: 'good', device: 'CPU', tokensPerS: 55, status: 'passed' })]);
    expect(existsSync(path.join(cwd, 'report.html'))).toBe(true);
  });
});
