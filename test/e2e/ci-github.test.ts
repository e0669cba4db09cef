import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sha256 } from '../../src/cache/digest.js';
import { loadToolchain, requireLock } from '../../src/toolchain/definition.js';
import { REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';
import { listing, runWorkflow, type WorkflowRun } from '../support/workflow-runner.js';

// The generated workflow, played on this machine (test/support/workflow-runner.ts): the plan job's
// matrix drives export, validate (cpu for real; the gpu leg has no runner here), report and publish,
// each job leg in a fresh folder with a fresh phiforge cache, artifacts handed over only as
// upload-artifact / download-artifact would. What a job did not receive, it cannot have used: the
// checkout holds no built phiforge (no lib/, no node_modules), so every job after the plan runs the
// one the plan job installed and handed over.
//
// One concession to time: a fresh venv of the openvino toolchain is 1.6 GB to install. Where a job's
// actions/cache step asks for venvs, the toolchains named in its key are linked in from the shared
// cache (they are hash-locked: the same bytes a restore would give). Step outputs are never shared:
// every step-output cache lookup misses, so the export really exports.

const DEMO = path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml');
const RUNTIME_VENVS = ['openvino-runtime'];
const BUILD_VENVS = ['reference', 'openvino'];

/** This repository as a checkout of a user's: the demo recipe (with a GPU target too), the CI configuration, phiforge's sources. */
async function repository(): Promise<string> {
  const demo = await readFile(DEMO, 'utf8');
  const repo = await workspace({
    'recipes/phi3-tiny-int4-ov.yaml': demo.replace('targets:\n  - device: CPU\n', 'targets:\n  - device: CPU\n  - device: GPU\n'),
    'phiforge-ci.yaml': [
      // What `npm ci && npm run build` would make, without its minutes: the bundle this test run uses.
      '# The plan job "installs" phiforge by copying the bundle the tests built; the other jobs get it from the plan job.',
      'phiforge:',
      `  install: cp -R ${path.join(REPO_ROOT, 'lib')} lib`,
      'publish:',
      '  enabled: true',
      '  owner: test-org',
      '',
    ].join('\n'),
  });
  // A checkout as git gives it: bin/phiforge.js (a real file, so that it loads lib/ from this folder)
  // and the files phiforge reads beside its bundle; lib/ is built, not committed.
  await mkdir(path.join(repo, 'bin'));
  await copyFile(path.join(REPO_ROOT, 'bin', 'phiforge.js'), path.join(repo, 'bin', 'phiforge.js'));
  for (const shared of ['package.json', 'pipelines', 'toolchains']) await symlink(path.join(REPO_ROOT, shared), path.join(repo, shared));
  return repo;
}

/** actions/cache for venvs: the toolchains its key names, linked from the shared cache. Any other key misses. */
async function restoreVenvs({ key, paths }: { key: string; paths: string[] }): Promise<boolean> {
  const match = /^phiforge-venvs-[^-]+-[^-]+-py[\d.]+-(.+)-[0-9a-f]{32}$/.exec(key);
  if (!match) return false;
  for (const name of match[1].split('+')) {
    const venv = `${name}-${requireLock(await loadToolchain(name)).slice(0, 16)}`;
    if (!existsSync(path.join(SHARED_CACHE, 'toolchains', venv))) return false;
    await mkdir(paths[0], { recursive: true });
    await symlink(path.join(SHARED_CACHE, 'toolchains', venv), path.join(paths[0], venv));
  }
  return true;
}

const stepOf = (run: WorkflowRun, job: string, leg: number, name: RegExp) => run.jobs[job].legs[leg].steps.find((step) => name.test(step.name))!;

describe('the generated workflow, played on this machine', () => {
  let run: WorkflowRun;
  let repo: string;
  let root: string;

  beforeAll(async () => {
    const cwd = await workspace();
    // The venvs a restore would bring, made (once per machine) in the shared cache under its own locks.
    for (const name of [...BUILD_VENVS, ...RUNTIME_VENVS]) {
      const installed = await runCli(['toolchain', 'install', name, '--cache-dir', SHARED_CACHE], { cwd });
      if (installed.exitCode !== 0) throw new Error(`toolchain install ${name}:\n${installed.stderr}`);
    }
    repo = await repository();
    const written = await runCli(['ci', 'github', 'recipes/**/*.yaml', '--write', '.github/workflows/phiforge.yml'], { cwd: repo });
    expect(written.exitCode, written.stderr).toBe(0);
    root = await workspace();
    run = await runWorkflow({
      workflow: parse(await readFile(path.join(repo, '.github', 'workflows', 'phiforge.yml'), 'utf8')),
      repository: repo,
      root,
      github: { event_name: 'push', ref: 'refs/heads/main', workflow: 'phiforge artifacts', run_id: '1', event: { repository: { default_branch: 'main' } } },
      secrets: { HF_TOKEN: 'hf_not_a_real_token' },
      labels: ['ubuntu-latest'],
      env: { NO_COLOR: '1' },
      restoreCache: restoreVenvs,
      log: process.env.SHOW ? (line) => console.log(line) : undefined,
    });
    if (process.env.SHOW) for (const job of Object.values(run.jobs)) for (const leg of job.legs) for (const step of leg.steps) console.log(`--- ${step.name}\n${step.log}`);
  });

  it('expands the matrix from the plan job: one export, a validate leg per device class of the recipe', () => {
    expect(run.jobs.plan.result).toBe('success');
    const exports = JSON.parse(run.jobs.plan.outputs.export);
    const validate = JSON.parse(run.jobs.plan.outputs.validate);
    expect(exports.include.map((leg: { artifact: string }) => leg.artifact)).toEqual(['phi3-tiny-int4-ov']);
    expect(validate.include.map((leg: { device_class: string }) => leg.device_class)).toEqual(['cpu', 'gpu']);
    expect(stepOf(run, 'plan', 0, /Check that this workflow/).outcome).toBe('success');
  });

  it('installs phiforge in the plan job alone; every other job runs the one it handed over', async () => {
    expect(stepOf(run, 'plan', 0, /Upload phiforge/).outcome).toBe('success');
    const legs = Object.entries(run.jobs).flatMap(([id, job]) => (id === 'plan' ? [] : job.legs.filter((leg) => leg.folder)));
    expect(legs).toHaveLength(3);
    for (const leg of legs) {
      expect(leg.steps.map((step) => step.name)).not.toContain('Install phiforge');
      expect(leg.steps.find((step) => step.name === 'Unpack phiforge')?.outcome).toBe('success');
      const workspace = path.join(leg.folder!, 'workspace');
      expect(existsSync(path.join(workspace, 'lib', 'phiforge.cjs'))).toBe(true);
      // The bundle is all phiforge needs: no job has node_modules.
      expect(existsSync(path.join(workspace, 'node_modules'))).toBe(false);
      expect(existsSync(path.join(workspace, 'phiforge-cli.tar'))).toBe(false);
    }
  });

  it("attests exactly the artifact's files, the ones manifest.json lists and manifest.json, with their digests", async () => {
    expect(stepOf(run, 'export', 0, /^Attest every file/).outcome).toBe('success');
    const [attestation] = run.attestations;
    expect(run.attestations).toHaveLength(1);
    expect(attestation.job).toBe('export');
    const folder = path.join(run.artifacts.get('phiforge-artifact-phi3-tiny-int4-ov')!, 'phi3-tiny-int4-ov');
    const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as { files: Array<{ path: string; sha256: string }> };
    const expected = [...manifest.files.map((file) => ({ path: `dist/phi3-tiny-int4-ov/${file.path}`, sha256: file.sha256 })), { path: 'dist/phi3-tiny-int4-ov/manifest.json', sha256: sha256(await readFile(path.join(folder, 'manifest.json'))) }];
    expect(attestation.subjects.map(({ path: file, sha256: digest }) => ({ path: file, sha256: digest })).sort((a, b) => a.path.localeCompare(b.path))).toEqual(expected.sort((a, b) => a.path.localeCompare(b.path)));
  });

  it('exports in a fresh folder, with a cold step cache and a log group per step, and uploads the artifact folder', async () => {
    const [leg] = run.jobs.export.legs;
    expect(leg.result, leg.steps.map((step) => `${step.name}: ${step.outcome}\n${step.log}`).join('\n')).toBe('success');
    expect(stepOf(run, 'export', 0, /Step outputs/).log).toMatch(/^cache miss/);
    const build = stepOf(run, 'export', 0, /Build the artifact/);
    // Every step ran here: nothing came from another job's cache.
    for (const step of ['model', 'base', 'export', 'reference']) expect(build.log).toMatch(new RegExp(`^::group::phi3-tiny-int4-ov › ${step}: `, 'm'));
    expect(build.log).not.toContain('(cached)');
    expect(build.log).toContain('::endgroup::');
    const uploaded = run.artifacts.get('phiforge-artifact-phi3-tiny-int4-ov')!;
    expect(await readdir(uploaded)).toEqual(['phi3-tiny-int4-ov']);
    expect(existsSync(path.join(uploaded, 'phi3-tiny-int4-ov', 'manifest.json'))).toBe(true);
    expect(existsSync(path.join(uploaded, 'phi3-tiny-int4-ov', 'validation'))).toBe(false);
  });

  it('validates on cpu from the downloaded artifact alone, with only the runtime toolchain; the gpu leg is skipped with its reason', async () => {
    const [cpu, gpu] = run.jobs.validate.legs;
    expect(cpu.matrix?.device_class).toBe('cpu');
    expect(cpu.result, cpu.steps.map((step) => `${step.name}: ${step.outcome}\n${step.log}`).join('\n')).toBe('success');
    expect(gpu).toMatchObject({ matrix: { device_class: 'gpu' }, result: 'skipped', skipped: 'no runner here carries the labels self-hosted, intel-gpu' });
    const cache = path.join(cpu.folder!, 'workspace', '.phiforge', 'cache');
    // No step output was made or received here, and the only venv is the runtime's.
    expect(await listing(path.join(cache, 'steps'))).toEqual([]);
    expect((await listing(path.join(cache, 'toolchains'))).map((venv) => venv.replace(/-[0-9a-f]{16}$/, ''))).toEqual(RUNTIME_VENVS);
    const results = run.artifacts.get('phiforge-results-phi3-tiny-int4-ov-cpu')!;
    const [result] = await listing(path.join(results, 'dist', 'phi3-tiny-int4-ov', 'validation'));
    const device = JSON.parse(await readFile(path.join(results, 'dist', 'phi3-tiny-int4-ov', 'validation', result), 'utf8'));
    expect(device).toMatchObject({ device: 'CPU', device_class: 'cpu', runtime: { toolchain: 'openvino-runtime' }, report: { status: 'passed' } });
    expect(await listing(path.join(results, 'phiforge-junit'))).toEqual(['phi3-tiny-int4-ov-cpu.xml']);
    // In Actions, validation writes its table to the step summary.
    expect(stepOf(run, 'validate', 0, /Validate on this device class/).summary).toMatch(/### ✅ phi3-tiny-int4-ov\n\n\| artifact \|.*\n.*\n\| phi3-tiny-int4-ov \| openvino \| int4 sym g128 r0\.6 \|.*\| CPU \| passed \|/);
  });

  it("reports every device's results in one summary and one report, and holds back an artifact not validated on every class", async () => {
    const [leg] = run.jobs.report.legs;
    expect(leg.result, leg.steps.map((step) => `${step.name}: ${step.outcome}\n${step.log}`).join('\n')).toBe('success');
    const report = stepOf(run, 'report', 0, /^Report every device/);
    expect(report.summary).toContain('## phiforge report');
    expect(report.summary).toMatch(/\| phi3-tiny-int4-ov \| openvino \| .* \| CPU \| passed \|/);
    const reportArtifact = run.artifacts.get('phiforge-report')!;
    expect((await readdir(path.join(reportArtifact, 'phiforge-report'))).sort()).toEqual(['report.html', 'report.md']);
    expect(await readFile(path.join(reportArtifact, 'phiforge-report', 'report.md'), 'utf8')).toBe(report.summary);
    // The report job built nothing and installed nothing: it has no phiforge cache at all.
    expect(existsSync(path.join(leg.folder!, 'workspace', '.phiforge', 'cache', 'toolchains'))).toBe(false);
    expect(existsSync(path.join(leg.folder!, 'workspace', '.phiforge', 'cache', 'steps'))).toBe(false);
    expect(run.jobs.report.outputs.publish_count).toBe('0');
    expect(stepOf(run, 'report', 0, /Choose the artifacts/).summary).toContain('| phi3-tiny-int4-ov | no | gpu: no passing result of these files in validation/ |');
    expect(run.jobs.publish).toMatchObject({ result: 'skipped', legs: [] });
  });

  it('gave every job leg a folder of its own', () => {
    const folders = Object.values(run.jobs).flatMap((job) => job.legs.flatMap((leg) => (leg.folder ? [leg.folder] : [])));
    expect(folders).toHaveLength(4);
    expect(new Set(folders).size).toBe(4);
    for (const folder of folders) expect(folder.startsWith(root)).toBe(true);
  });
});

describe('phiforge build inside GitHub Actions', () => {
  const GATED = ['# The demo with a gate no CPU meets.', `extends: ${DEMO}`, 'name: phi3-tiny-int4-ov-gated', 'targets:', '  - device: CPU', '    gates:', '      tokens_per_s_min: 1000000000', ''].join('\n');
  const gateLine = GATED.split('\n').findIndex((line) => line.includes('tokens_per_s_min')) + 1;

  it("writes the failing row to the step summary and annotates the gate's line in the recipe; outside Actions, neither", async () => {
    const cwd = await workspace({ 'recipes/gated.yaml': GATED });
    const summary = path.join(cwd, 'summary.md');
    const build = (env: Record<string, string>) => runCli(['build', 'recipes/gated.yaml', '--cache-dir', SHARED_CACHE, '--out', 'dist'], { cwd, env: { GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: cwd, ...env } });

    const inActions = await build({ GITHUB_ACTIONS: 'true', CI: 'true' });
    expect(inActions.exitCode, inActions.stderr).toBe(1);
    expect(inActions.stderr).toMatch(new RegExp(`^::error file=recipes/gated\\.yaml,line=${gateLine},col=25,title=targets\\[0\\]\\.gates\\.tokens_per_s_min::phi3-tiny-int4-ov-gated: CPU: gate tokens_per_s_min: measured [\\d.]+ tokens/s, limit >= 1000000000 tokens/s$`, 'm'));
    // The same failure in plain text too: GitHub shows only the first 10 annotations of a step.
    expect(inActions.stderr).toMatch(/^ {2}- phi3-tiny-int4-ov-gated: CPU: gate tokens_per_s_min: measured/m);
    expect(inActions.stderr).toMatch(/^::group::phi3-tiny-int4-ov-gated › export: /m);
    const written = await readFile(summary, 'utf8');
    expect(written).toContain('### ❌ phi3-tiny-int4-ov-gated');
    expect(written).toMatch(/^\| phi3-tiny-int4-ov-gated \| openvino \| int4 sym g128 r0\.6 \| [\d.]+ \| [\d.]+ MiB \| CPU \| failed \| [\d.]+ \| .* \| tokens_per_s_min \| .* \|$/m);

    const elsewhere = await build({ GITHUB_ACTIONS: '', CI: '', GITHUB_STEP_SUMMARY: path.join(cwd, 'elsewhere.md') });
    expect(elsewhere.exitCode, elsewhere.stderr).toBe(1);
    expect(elsewhere.stderr).toContain('gate tokens_per_s_min: measured');
    expect(elsewhere.stderr).not.toMatch(/^::/m);
    expect(existsSync(path.join(cwd, 'elsewhere.md'))).toBe(false);
  });
});
