import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, workspace } from '../support/cli.js';
import { blobName, COMMIT, FILES, REPO, TOKEN, useFakeHub, WEIGHTS } from '../support/fake-hub.js';

// The built CLI as a user runs it against a Hugging Face Hub (a fake one on loopback): what it asks
// for, what it keeps in HF_HUB_CACHE, and that the token never shows.

// ---------------------------------------------------------------------------------------------

const recipe = (options: { id?: string; revision?: string; groupSize?: number } = {}) =>
  [
    'name: tiny-phi3-int4',
    'model:',
    `  id: ${options.id ?? REPO}`,
    `  revision: ${options.revision ?? 'main'}`,
    'pipeline: openvino',
    'quantization:',
    '  weight_format: int4',
    `  group_size: ${options.groupSize ?? 128}`, // line 8
    '  ratio: 0.6',
    '  sym: true',
    '',
  ].join('\n');

const hub = useFakeHub();


/** A user's shell: the hub variables, nothing inherited that could send phiforge elsewhere or offline. */
async function userRun(args: string[], recipeText: string, env: Record<string, string> = {}) {
  const cwd = await workspace({ 'recipe.yaml': recipeText });
  const hfCache = path.join(cwd, 'hf');
  const result = await runCli(args, { cwd, env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: hfCache, HF_TOKEN: TOKEN, HF_HUB_OFFLINE: '', HF_HOME: path.join(cwd, 'hf-home'), ...env } });
  return { ...result, cwd, hfCache, output: `${result.stdout}\n${result.stderr}` };
}

const repoFolder = (hfCache: string) => path.join(hfCache, 'models--org--tiny-phi3');
const asked = (fragment: string) => hub.requests.filter((request) => request.url.includes(fragment));

describe('phiforge against a Hugging Face Hub (a fake one on loopback)', () => {
  it('plan resolves the branch to its commit with one API call and shows the snapshot folder in HF_HUB_CACHE', async () => {
    const { exitCode, stdout, stderr, hfCache } = await userRun(['plan', 'recipe.yaml'], recipe());
    expect(exitCode, stderr).toBe(0);
    const snapshot = path.join(repoFolder(hfCache), 'snapshots', COMMIT);
    expect(stdout).toContain(`download ${REPO}@${COMMIT} into the Hugging Face cache (${snapshot})`);
    expect(stdout).toContain(`output: ${snapshot}\n`);
    expect(stdout).toContain(`ln -sfn ${snapshot} model && `);
    // One question, about the branch; plan downloads nothing.
    expect(hub.requests.map(({ method, url }) => `${method} ${url.split('?')[0]}`)).toEqual([`GET /api/models/${REPO}/revision/main`]);
    expect(new URL(hub.requests[0].url, hub.url).searchParams.getAll('expand')).toContain('sha');
    expect(existsSync(hfCache)).toBe(false);
  });

  it('a pinned commit needs no hub at all to plan', async () => {
    const { exitCode, stdout, stderr } = await userRun(['plan', 'recipe.yaml', '--json'], recipe({ revision: COMMIT }));
    expect(exitCode, stderr).toBe(0);
    expect(JSON.parse(stdout).steps[0].output).toMatch(new RegExp(`/models--org--tiny-phi3/snapshots/${COMMIT}$`));
    expect(hub.requests).toEqual([]);
  });

  it('build checks the recipe against config.json before any weights are downloaded (exit 2, located)', async () => {
    const { exitCode, stdout, stderr, cwd, hfCache } = await userRun(['build', 'recipe.yaml', '--json'], recipe({ groupSize: 100 }));
    expect(exitCode, stderr).toBe(2);
    expect(stderr).toContain("recipe.yaml:8:15 quantization.group_size: group_size 100 does not divide the model's hidden_size (3072)");
    expect(stderr).toContain('hint: Use -1 (channel-wise) or one of 16, 32, 64, 128, 256.');
    // stdout stays one JSON document: the library's download chatter went to stderr.
    const report = JSON.parse(stdout);
    expect(report.error.code).toBe('INPUT_INVALID');
    expect(report.error.problems.map((problem: { key: string; location: { line: number } }) => [problem.key, problem.location.line])).toEqual([
      ['quantization.group_size', 8],
      ['quantization.group_size', 8],
    ]);

    // config.json was fetched (and cached the huggingface_hub way); the weights were never asked for.
    expect(asked(`/${REPO}/resolve/${COMMIT}/config.json`).length).toBeGreaterThan(0);
    expect(hub.requests.filter((request) => request.url.includes(WEIGHTS) || request.body.includes(WEIGHTS) || request.url.startsWith('/cdn/'))).toEqual([]);
    expect(asked('/tree/')).toEqual([]);
    const config = FILES.find((file) => file.path === 'config.json')!;
    expect(await readdir(path.join(repoFolder(hfCache), 'blobs'))).toEqual([blobName(config)]);
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  });

  it('sends HF_TOKEN to the hub as a bearer token and never prints it', async () => {
    const runs = [
      await userRun(['plan', 'recipe.yaml', '--verbose'], recipe()),
      await userRun(['build', 'recipe.yaml', '--verbose'], recipe({ groupSize: 100 })),
      await userRun(['build', 'recipe.yaml', '--json', '--verbose'], recipe({ groupSize: 100, revision: COMMIT })),
    ];
    expect(runs.map((run) => run.exitCode)).toEqual([0, 2, 2]);
    const toHub = hub.requests.filter((request) => !request.url.startsWith('/cdn/'));
    expect(toHub.length).toBeGreaterThanOrEqual(5);
    for (const request of toHub) expect(request.authorization, `${request.method} ${request.url}`).toBe(`Bearer ${TOKEN}`);
    for (const run of runs) {
      expect(run.output).not.toContain(TOKEN);
      expect(run.output).not.toContain(TOKEN.slice(3)); // not even without its hf_ prefix
    }
  });

  it('a 401 exits 1 with a hint to set HF_TOKEN; a model the hub does not have exits 2', async () => {
    const wrongToken = `hf_wrong${randomBytes(8).toString('hex')}`;
    const denied = await userRun(['plan', 'recipe.yaml'], recipe(), { HF_TOKEN: wrongToken });
    expect(denied.exitCode, denied.stderr).toBe(1);
    expect(denied.stderr).toContain(`resolve ${REPO}@main: access denied (401)`);
    expect(denied.stderr).toMatch(/hint: .*HF_TOKEN/);
    expect(denied.output).not.toContain(wrongToken);
    expect(hub.requests.at(-1)?.authorization).toBe(`Bearer ${wrongToken}`);

    const deniedDownload = await userRun(['build', 'recipe.yaml'], recipe({ revision: COMMIT }), { HF_TOKEN: wrongToken });
    expect(deniedDownload.exitCode, deniedDownload.stderr).toBe(1);
    expect(deniedDownload.stderr).toContain(`download config.json of ${REPO}@${COMMIT}: access denied (401)`);
    expect(deniedDownload.stderr).toMatch(/hint: .*HF_TOKEN/);

    const missing = await userRun(['plan', 'recipe.yaml'], recipe({ id: 'org/no-such-model' }));
    expect(missing.exitCode, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('resolve org/no-such-model@main: not found on the hub');
    expect(missing.stderr).toContain('hint: Check the model id and revision.');
  });
  it('accepts HF_ENDPOINT with a trailing slash, as huggingface_hub does', async () => {
    const { exitCode, stderr } = await userRun(['plan', 'recipe.yaml'], recipe(), { HF_ENDPOINT: `${hub.url}/` });
    expect(exitCode, stderr).toBe(0);
    expect(hub.requests.map((request) => request.url.split('?')[0])).toEqual([`/api/models/${REPO}/revision/main`]);
  });

  it('with HF_HUB_OFFLINE set, a model that is not in the cache fails (exit 2) without a request to the hub', async () => {
    const { exitCode, stderr } = await userRun(['build', 'recipe.yaml'], recipe({ revision: COMMIT }), { HF_HUB_OFFLINE: '1' });
    expect(hub.requests).toEqual([]);
    expect(exitCode, stderr).toBe(2);
    expect(stderr).toContain('HF_HUB_OFFLINE');
  });
});
