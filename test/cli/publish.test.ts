import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { handMadeArtifact } from '../support/artifact-folder.js';
import { runCli, workspace } from '../support/cli.js';
import { TOKEN, useFakeHub } from '../support/fake-hub.js';

// The built CLI publishing to a Hugging Face Hub (a fake one on loopback), as a user or a CI job runs it.

const hub = useFakeHub();

async function userRun(args: string[], env: Record<string, string> = {}) {
  const cwd = await workspace();
  const result = await runCli(args, { cwd, env: { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: path.join(cwd, 'hf-home'), HF_HUB_CACHE: path.join(cwd, 'hf'), HF_HUB_OFFLINE: '', ...env } });
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}

describe('phiforge publish (built CLI)', () => {
  it('is listed in --help with its options', async () => {
    const help = await userRun(['publish', '--help']);
    expect(help.exitCode).toBe(0);
    for (const option of ['--repo', '--revision', '--private', '--dry-run', '--message', '--allow-unvalidated']) expect(help.stdout).toContain(option);
    const missing = await userRun(['publish', 'dist/x']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('Missing required argument: repo');
  });

  it('publishes with --json: one JSON document on stdout with the commit, progress lines on stderr, no token anywhere', async () => {
    const artifact = await handMadeArtifact();
    const { exitCode, stdout, stderr, output } = await userRun(['publish', artifact.dir, '--repo', 'ci/tiny-int4', '--json', '--verbose']);
    expect(exitCode, stderr).toBe(0);
    const report = JSON.parse(stdout);
    const head = hub.repos.get('ci/tiny-int4')!.branches.get('main');
    expect(report).toMatchObject({ ok: true, repo: 'ci/tiny-int4', validated: true, commit: { id: head, url: `${hub.url}/ci/tiny-int4/commit/${head}` }, created_repository: true });
    // Off a terminal, progress is plain lines, never a redrawn one.
    expect(stderr).not.toContain('\r');
    expect(stderr.split('\n')).toEqual(expect.arrayContaining(['publishing ' + artifact.dir + ' to ci/tiny-int4@main', 'hashing the large files', 'uploading 52.0 KiB of LFS objects', 'committing']));
    expect(output).not.toContain(TOKEN.slice(3));
  });

  it('refuses an artifact whose validation failed: exit 1, the device, and what to do', async () => {
    const artifact = await handMadeArtifact({ results: [{ device: 'CPU', status: 'failed' }] });
    const { exitCode, stderr } = await userRun(['publish', artifact.dir, '--repo', 'ci/refused']);
    expect(exitCode).toBe(1);
    expect(stderr).toContain('CPU on box0 failed');
    expect(stderr).toContain(`hint: Measure it on a device first: \`phiforge validate ${artifact.dir}\`. To publish it anyway, pass --allow-unvalidated`);
    expect(hub.repos.has('ci/refused')).toBe(false);
  });
});
