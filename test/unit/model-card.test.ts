import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { handMadeArtifact, type HandMadeArtifact } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';
import { TOKEN, useFakeHub } from '../support/fake-hub.js';
import { phiforge } from '../support/in-process.js';

// The model card `phiforge publish` writes (README.md): Hub metadata the Hub can read, and every
// section made from the artifact's own files.

const hub = useFakeHub();
let home: string;
beforeAll(async () => {
  home = await workspace();
});

const SOURCE = 'microsoft/Phi-3-mini-4k-instruct';
const SOURCE_COMMIT = '0a67737cc96d2554230f90338b163bc6380a2a85';
const hubModel = { source: 'hub' as const, id: SOURCE, revision: 'main', commit: SOURCE_COMMIT, key: 'f'.repeat(64), files: [] };

async function card(artifact: HandMadeArtifact, extra: string[] = [], env: Record<string, string | undefined> = {}): Promise<{ text: string; header: Record<string, unknown>; stdout: string }> {
  const result = await phiforge(['publish', artifact.dir, '--repo', 'me/tiny-int4', '--dry-run', ...extra], {
    cwd: home,
    env: { HF_ENDPOINT: hub.url, HF_TOKEN: undefined, HF_HOME: path.join(home, 'hf-home'), HF_HUB_CACHE: path.join(home, 'hf-cache'), HF_HUB_OFFLINE: '', ...env },
  });
  expect(result.exitCode, result.stderr).toBe(0);
  const text = await readFile(path.join(artifact.dir, 'README.md'), 'utf8');
  const match = /^---\n([\s\S]*?)\n---\n/.exec(text);
  expect(match, 'YAML front matter').not.toBeNull();
  return { text, header: parse(match![1]) as Record<string, unknown>, stdout: result.stdout };
}

/** The body rows of the card's validation table, as cells. */
function validationRows(text: string): string[][] {
  const section = text.split('## Validation')[1].split('\n## ')[0];
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| artifact') && !line.startsWith('| ---'))
    .map((line) => line.slice(2, -2).split(' | '));
}

describe('model card', () => {
  it("carries the Hub's metadata and the quantization read from the IR", async () => {
    const { header, text } = await card(await handMadeArtifact());
    expect(header).toEqual({ library_name: 'openvino', pipeline_tag: 'text-generation', tags: ['openvino', 'openvino-ir', 'int4', 'nncf', 'cpu', 'phi3', 'phiforge'] });
    // A generated model with random weights has no base model and no upstream licence, and the card says why.
    expect(text).toContain("that phiforge generates with random weights (seed 1234)");
    expect(text).toContain('| mode | int4_sym |');
    expect(text).toContain('| group size | 64 |');
    expect(text).toContain('| ratio requested | 0.6 |');
    expect(text).toContain('| ratio achieved | 0.500: 2 of 4 layers, 50.0 % of their 49.2 K weights in 4 bits |');
    expect(text).toContain('| backup precision | int8_asym');
    expect(text).toContain('| built with (openvino) | Python 3.11.7, openvino 2026.4.1, openvino-genai 2026.4.1.0, nncf 3.4.0, optimum-intel 2.2.0, transformers 5.5.4 |');
    expect(text).toContain('| validated with | openvino-runtime: openvino 2026.4.1, openvino_genai 2026.4.1.0 |');
    expect(text).toContain('ov_genai.LLMPipeline(model_dir, "CPU")');
    expect(text).toContain('OVModelForCausalLM.from_pretrained(');
    expect(text).toContain('phiforge verify tiny-int4');
  });

  it('has one validation row per device result of these files, with its figures, and none for other bytes', async () => {
    const artifact = await handMadeArtifact({
      results: [
        { device: 'CPU', status: 'passed', similarity: 0.987 },
        { device: 'NPU', status: 'passed', emulated: true, similarity: 0.912 },
        { device: 'GPU', status: 'passed', otherBytes: true },
      ],
    });
    const { text, header } = await card(artifact);
    const rows = validationRows(text);
    const current = artifact.results.filter((result) => result.device !== 'GPU');
    expect(rows).toHaveLength(current.length);
    for (const [index, result] of current.entries()) {
      const [, , , , , device, status, similarity, matchTokens, , ttft, tpot, tokensPerS, , peak, , measured] = rows[index];
      expect(device).toBe(result.report.emulated ? `${result.device} (emulated)` : result.device);
      expect(status).toBe(result.report.status);
      expect(Number(similarity)).toBe(result.report.agreement!.similarity_mean);
      expect(Number(matchTokens)).toBe(result.report.agreement!.match_tokens_mean);
      expect(Number(ttft)).toBe(result.report.figures!.ttft_ms.median);
      expect(Number(tpot)).toBe(result.report.figures!.tpot_ms.median);
      expect(Number(tokensPerS)).toBe(result.report.figures!.tokens_per_s.median);
      expect(Number(peak)).toBe(result.report.figures!.peak_rss_mb);
      expect(measured).toBe(`${result.measured_at.slice(0, 16).replace('T', ' ')} on ${result.host.name}`);
    }
    expect(text).toContain('1 earlier result(s) that measured other files are not shown.');
    expect(header.tags).toEqual(expect.arrayContaining(['cpu', 'npu']));
  });

  it('names a hub source as base_model, with the licence from its card in the Hugging Face cache (no network in a dry run)', async () => {
    const hfCache = path.join(await workspace(), 'hf');
    const snapshot = path.join(hfCache, `models--${SOURCE.replace('/', '--')}`, 'snapshots', SOURCE_COMMIT);
    await mkdir(snapshot, { recursive: true });
    await writeFile(path.join(snapshot, 'README.md'), '---\nlicense: mit\nlicense_link: https://huggingface.co/microsoft/Phi-3-mini-4k-instruct/resolve/main/LICENSE\nlanguage:\n- en\n---\n# Phi-3\n');
    hub.requests.length = 0;
    const { header, text } = await card(await handMadeArtifact({ model: hubModel }), [], { HF_HUB_CACHE: hfCache });
    expect(header).toMatchObject({
      base_model: SOURCE,
      base_model_relation: 'quantized',
      license: 'mit',
      license_link: 'https://huggingface.co/microsoft/Phi-3-mini-4k-instruct/resolve/main/LICENSE',
      library_name: 'openvino',
      pipeline_tag: 'text-generation',
    });
    expect(text).toContain(`at commit \`${SOURCE_COMMIT}\`, licensed mit`);
    expect(hub.requests).toEqual([]);
  });

  it("asks the hub for the source's licence when its card is not cached, on a real publish", async () => {
    const readme = Buffer.from('---\nlicense: other\nlicense_name: phi-research\nlicense_link: https://example.org/phi-licence\n---\n# source\n');
    hub.repos.set(SOURCE, {
      private: false,
      branches: new Map([['main', SOURCE_COMMIT]]),
      commits: new Map([[SOURCE_COMMIT, { id: SOURCE_COMMIT, title: 'initial', date: '2024-05-01T00:00:00.000Z', files: new Map([['README.md', { path: 'README.md', content: readme, lfs: false }]]) }]]),
    });
    const artifact = await handMadeArtifact({ model: hubModel });
    const published = await phiforge(['publish', artifact.dir, '--repo', 'me/licensed'], {
      cwd: home,
      env: { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: path.join(home, 'hf-home'), HF_HUB_CACHE: path.join(await workspace(), 'empty-hf'), HF_HUB_OFFLINE: '', CI: '1' },
    });
    expect(published.exitCode, published.stderr).toBe(0);
    const text = hub.filesAt('me/licensed').get('README.md')!.content.toString('utf8');
    expect(parse(/^---\n([\s\S]*?)\n---\n/.exec(text)![1])).toMatchObject({ base_model: SOURCE, license: 'other', license_name: 'phi-research', license_link: 'https://example.org/phi-licence' });
  });

  it('shows how to verify the GitHub artifact attestations, naming the repository when GitHub Actions writes the card', async () => {
    const artifact = await handMadeArtifact();
    const weights = [...artifact.manifest.files].sort((a, b) => b.size - a.size)[0].path;
    const verify = (text: string) => text.split('\n## Verify\n')[1].split('\n## ')[0];
    const inActions = verify((await card(artifact, [], { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'me/models' })).text);
    expect(inActions).toContain(`gh attestation verify tiny-int4/manifest.json --repo me/models\ngh attestation verify tiny-int4/${weights} --repo me/models\n`);
    expect(inActions).toContain('`phiforge validate tiny-int4` checks each one');
    // Written anywhere else, the card cannot know which repository built the files: it says what to fill in.
    const elsewhere = verify((await card(artifact, [], { GITHUB_ACTIONS: undefined, GITHUB_REPOSITORY: 'me/models' })).text);
    expect(elsewhere).toContain('naming the GitHub repository whose workflow built them');
    expect(elsewhere).toContain('gh attestation verify tiny-int4/manifest.json --repo <owner>/<repo>\n');
  });

  it('gives the SmolLM2 preset its base model and Apache-2.0 licence, and says when a local folder has none known', async () => {
    const smol = await card(await handMadeArtifact({ model: { source: 'synthetic', preset: 'phi3-smollm2-135m', key: 'a'.repeat(64), files: [] } }));
    expect(smol.header).toMatchObject({ base_model: 'HuggingFaceTB/SmolLM2-135M-Instruct', base_model_relation: 'quantized', license: 'apache-2.0' });
    const local = await card(await handMadeArtifact({ model: { source: 'local', path: '/models/phi3', key: 'a'.repeat(64), files: [] } }));
    expect(local.header.base_model).toBeUndefined();
    expect(local.header.license).toBeUndefined();
    expect(local.text).toContain('phiforge does not know its origin or licence');
  });
});
