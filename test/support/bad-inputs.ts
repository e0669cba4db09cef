import { BAD_INPUTS_ARTIFACT_FILES } from './bad-inputs/artifact-files.js';
import { BAD_INPUTS_MEMORY } from './bad-inputs/memory.js';
import { BAD_INPUTS_MODEL_FILES } from './bad-inputs/model-files.js';
import { BAD_INPUTS_OWNERSHIP } from './bad-inputs/ownership.js';
import { BAD_INPUTS_RECIPE_INPUT } from './bad-inputs/recipe-input.js';
import { BAD_INPUTS_SIGNING } from './bad-inputs/signing.js';
import { TINY_INT4 } from './recipes.js';
import { PHI3_MINI_CONFIG } from './safetensors.js';

// Every bad input phiforge refuses before it does anything expensive: what the user typed, the exit
// code, and words the message must contain. test/unit/bad-input.test.ts runs each in-process and
// keeps the table in docs/bad-input.md (between its bad-inputs markers) equal to what phiforge actually says.

export interface BadInput {
  /** What the user got wrong, in a few words: the table's first column. */
  what: string;
  /** Files of the workspace, by path. */
  files?: Record<string, string>;
  /** The command line after `phiforge`. */
  args: string[];
  exit: number;
  /** Text stderr must contain (where, what). */
  says: string[];
}

const VALID = `name: tiny\n${TINY_INT4}`;
const ORT = `name: tiny-ort
model:
  synthetic: phi3-mini-tiny
pipeline: ort-genai
quantization:
  weight_format: int4
  sym: true
ort:
  block_size: 128
targets:
  - device: cpu
`;
const NPU = `name: tiny-npu
model:
  synthetic: phi3-mini-tiny
pipeline: openvino-npu
quantization:
  weight_format: int4
  group_size: 128
  ratio: 1.0
  sym: true
targets:
  - device: NPU
`;
const bad = (recipe: string, ...extra: string[]): Pick<BadInput, 'files' | 'args'> => ({ files: { 'recipe.yaml': recipe }, args: ['build', 'recipe.yaml', ...extra] });
const withValidate = (lines: string) => `${VALID}validate:\n${lines}`;
const withTargets = (lines: string) => `${VALID}targets:\n${lines}`;
/** A valid Phi-3 layout (checked before anything else), so only the case's own fault is refused. */
const PHI3_CONFIG = JSON.stringify(PHI3_MINI_CONFIG);
/** A safetensors file whose header promises 1024 bytes of tensor data that are not there (the cut is found before the missing tensors). */
const TRUNCATED_SAFETENSORS = (() => {
  const header = Buffer.from(JSON.stringify({ 'model.embed_tokens.weight': { dtype: 'F32', shape: [16, 16], data_offsets: [0, 1024] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(100)]).toString('latin1');
})();

const BASE_BAD_INPUTS: BadInput[] = [
  // The file itself
  { what: 'malformed YAML', ...bad('name: tiny\nmodel:\n  synthetic: [phi3\npipeline: openvino\n'), exit: 2, says: ['recipe.yaml:', 'YAML syntax'] },
  { what: 'a tab in the indentation', ...bad('name: tiny\nmodel:\n\tsynthetic: phi3-mini-tiny\n'), exit: 2, says: ['recipe.yaml:3:1', 'YAML syntax'] },
  { what: 'a key written twice', ...bad(`${VALID}name: other\n`), exit: 2, says: ['recipe.yaml:10:1 name: duplicate key "name"', 'the later one would silently win'] },
  {
    what: 'an alias bomb',
    ...bad(`${VALID}x: ${'&a0 [lol]'}\n${Array.from({ length: 8 }, (_, i) => `y${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`).join('\n')}\n`),
    exit: 2,
    says: ['recipe.yaml:', 'its aliases expand beyond 100 copies'],
  },
  { what: 'a 2 MB recipe', ...bad(`${VALID}description: "${'x'.repeat(2 * 2 ** 20)}"\n`), exit: 2, says: ['recipe.yaml', 'phiforge reads YAML files of at most 1 MiB'] },
  { what: 'a list instead of a recipe', ...bad('- name: tiny\n'), exit: 2, says: ['recipe.yaml:1:1', 'the file must be a mapping of keys, not a list'] },
  { what: 'an empty file', ...bad(''), exit: 2, says: ['recipe.yaml', 'name: missing required key'] },
  { what: 'a folder given as the recipe', files: { 'recipes/readme.txt': 'x' }, args: ['build', 'recipes'], exit: 2, says: ['recipes: this is a folder, not a YAML file'] },
  { what: 'a recipe file that does not exist', args: ['build', 'recipes/missing.yaml'], exit: 2, says: ['recipes/missing.yaml: file not found'] },
  { what: 'a misspelt top-level key', ...bad(VALID.replace('name:', 'nmae:')), exit: 2, says: ['recipe.yaml:1:1 nmae: unknown key "nmae"', 'Did you mean "name"?'] },
  { what: 'a misspelt nested key', ...bad(VALID.replace('group_size: 128', 'grup_size: 128')), exit: 2, says: ['recipe.yaml:7:3 quantization.grup_size: unknown key "grup_size"', 'Did you mean "group_size"?'] },
  { what: 'extends: a file that does not exist', ...bad(`extends: nowhere.yaml\n${VALID}`), exit: 2, says: ['recipe.yaml:1:10 extends: the base recipe nowhere.yaml: file not found'] },
  { what: 'extends: a cycle', files: { 'a.yaml': 'extends: b.yaml\nname: a\n', 'b.yaml': 'extends: a.yaml\n' }, args: ['build', 'a.yaml'], exit: 2, says: ['extends makes a cycle: a.yaml -> b.yaml -> a.yaml'] },
  // The model
  { what: 'no model source', ...bad(VALID.replace('  synthetic: phi3-mini-tiny\n', '  trust_remote_code: true\n')), exit: 2, says: ['model: the model needs exactly one source'] },
  { what: 'two model sources', ...bad(VALID.replace('  synthetic: phi3-mini-tiny\n', '  synthetic: phi3-mini-tiny\n  path: ./m\n')), exit: 2, says: ['model.synthetic: give only one model source, not path and synthetic', 'Keep one of path, synthetic'] },
  { what: 'a hub model without a revision', ...bad(VALID.replace('synthetic: phi3-mini-tiny', 'id: microsoft/Phi-3-mini-4k-instruct')), exit: 2, says: ['recipe.yaml:3:7 model.id: a hub model needs a pinned revision', 'revision: <40-hex commit>'] },
  { what: 'a revision without a hub model', ...bad(VALID.replace('  synthetic: phi3-mini-tiny\n', '  synthetic: phi3-mini-tiny\n  revision: main\n')), exit: 2, says: ['model.revision: revision applies only to a hub model'] },
  { what: 'a hub id that is not owner/name', ...bad(VALID.replace('synthetic: phi3-mini-tiny', 'id: phi3\n  revision: main')), exit: 2, says: ['model.id: expected a Hugging Face model id'] },
  { what: 'an unknown synthetic preset', ...bad(VALID.replace('phi3-mini-tiny', 'phi3-huge')), exit: 2, says: ['model.synthetic:', 'One of: phi3-mini-tiny'] },
  { what: 'model.path without config.json', files: { 'recipe.yaml': VALID.replace('synthetic: phi3-mini-tiny', 'path: ./empty-model'), 'empty-model/weights.bin': 'x' }, args: ['build', 'recipe.yaml'], exit: 2, says: ['model.path: no Hugging Face model at', 'config.json missing'] },
  {
    what: "model.path whose config.json is not JSON",
    files: { 'recipe.yaml': VALID.replace('synthetic: phi3-mini-tiny', 'path: ./broken-model'), 'broken-model/config.json': '{"a":1,' },
    args: ['build', 'recipe.yaml'],
    exit: 2,
    says: ['recipe.yaml:3:9 model.path:', 'broken-model/config.json is not valid JSON', 'download or copy it again'],
  },
  {
    what: 'model.path with a truncated safetensors file',
    files: { 'recipe.yaml': VALID.replace('synthetic: phi3-mini-tiny', 'path: ./cut-model'), 'cut-model/config.json': PHI3_CONFIG, 'cut-model/model.safetensors': TRUNCATED_SAFETENSORS },
    args: ['build', 'recipe.yaml'],
    exit: 2,
    says: ['model.path:', 'model.safetensors is damaged: its tensors need', 'interrupted download or copy'],
  },
  { what: '--model: a folder that does not exist', ...bad(VALID, '--model', './nope'), exit: 2, says: ['--model ./nope: no such folder'] },
  { what: '--model: a folder without config.json', files: { 'recipe.yaml': VALID, 'not-a-model/readme.txt': 'x' }, args: ['build', 'recipe.yaml', '--model', 'not-a-model'], exit: 2, says: ['--model not-a-model: not a Hugging Face model folder (no config.json)'] },
  { what: '--model: a hub id without a revision', ...bad(VALID, '--model', 'microsoft/Phi-3.5-mini-instruct'), exit: 2, says: ['--model microsoft/Phi-3.5-mini-instruct: a hub model needs a pinned revision'] },
  // Pipeline and quantization
  { what: 'an unknown pipeline', ...bad(VALID.replace('pipeline: openvino', 'pipeline: tensorrt')), exit: 2, says: ['recipe.yaml:4:11 pipeline: no pipeline named "tensorrt"'] },
  { what: 'a weight format phiforge cannot check', ...bad(VALID.replace('weight_format: int4', 'weight_format: nf4')), exit: 2, says: ['quantization.weight_format:', 'optimum also knows nf4'] },
  { what: 'ratio 1.5', ...bad(VALID.replace('ratio: 0.6', 'ratio: 1.5')), exit: 2, says: ['recipe.yaml:8:10 quantization.ratio: ratio must be at most 1', 'ratio is a fraction in (0, 1]'] },
  { what: 'ratio 0', ...bad(VALID.replace('ratio: 0.6', 'ratio: 0')), exit: 2, says: ['quantization.ratio: ratio must be greater than 0'] },
  { what: 'ratio: high (a word)', ...bad(VALID.replace('ratio: 0.6', 'ratio: high')), exit: 2, says: ['quantization.ratio: expected a number, got string "high"'] },
  { what: 'int4 without group_size', ...bad(VALID.replace('  group_size: 128\n', '')), exit: 2, says: ['quantization.group_size: int4 needs an explicit group_size', 'downloads a dataset'] },
  { what: 'int4 without sym', ...bad(VALID.replace('  sym: true\n', '')), exit: 2, says: ['quantization.sym: int4 needs an explicit sym'] },
  { what: 'group_size 0', ...bad(VALID.replace('group_size: 128', 'group_size: 0')), exit: 2, says: ['quantization.group_size: group_size must be -1 (per channel) or a positive integer'] },
  { what: 'group_size 2.5', ...bad(VALID.replace('group_size: 128', 'group_size: 2.5')), exit: 2, says: ['quantization.group_size: expected a whole number, got number 2.5'] },
  { what: 'group_size on fp16', ...bad(VALID.replace('weight_format: int4', 'weight_format: fp16').replace('  ratio: 0.6\n', '').replace('  sym: true\n', '')), exit: 2, says: ['quantization.group_size: group_size does not apply to weight_format fp16'] },
  { what: 'backup_precision on int8', ...bad(VALID.replace('weight_format: int4', 'weight_format: int8').replace('  group_size: 128\n  ratio: 0.6\n', '  backup_precision: int8_sym\n')), exit: 2, says: ['quantization.backup_precision: backup_precision does not apply to weight_format int8'] },
  {
    what: 'group_size that does not divide a generated model (known before it is made)',
    ...bad(VALID.replace('group_size: 128', 'group_size: 100')),
    exit: 2,
    says: ["recipe.yaml:7:15 quantization.group_size: group_size 100 does not divide the model's hidden_size (256)", 'Use -1 (channel-wise) or one of 16, 32, 64, 128, 256'],
  },
  {
    what: 'group_size that does not divide a --model folder',
    files: { 'recipe.yaml': VALID.replace('group_size: 128', 'group_size: 100'), 'local-phi3/config.json': PHI3_CONFIG },
    args: ['build', 'recipe.yaml', '--model', 'local-phi3'],
    exit: 2,
    says: ["quantization.group_size: group_size 100 does not divide the model's hidden_size (3072)"],
  },
  // Data-aware INT4
  { what: 'awq on an fp16 recipe', ...bad(VALID.replace('weight_format: int4', 'weight_format: fp16').replace('  group_size: 128\n  ratio: 0.6\n  sym: true\n', '  awq: true\n')), exit: 2, says: ['quantization.awq: awq does not apply to weight_format fp16', 'Data-aware compression is for int4 weights'] },
  { what: 'gptq with lora_correction', ...bad(VALID.replace('  sym: true\n', '  sym: true\n  gptq: true\n  lora_correction: true\n')), exit: 2, says: ['quantization.lora_correction: gptq and lora_correction cannot be combined'] },
  { what: 'a data-aware recipe with export: direct', ...bad(`${VALID.replace('  sym: true\n', '  sym: true\n  awq: true\n')}export: direct\n`), exit: 2, says: ['export: a data-aware recipe cannot export directly', 'optimum-cli takes no calibration text'] },
  { what: 'a calibration file that does not exist', ...bad(VALID.replace('  sym: true\n', '  sym: true\n  scale_estimation: true\n  calibration: { file: my-text.txt }\n')), exit: 2, says: ['quantization.calibration.file: no calibration text my-text.txt: no such file'] },
  { what: 'calibration num_samples 0', ...bad(VALID.replace('  sym: true\n', '  sym: true\n  calibration: { num_samples: 0 }\n')), exit: 2, says: ['quantization.calibration.num_samples: Too small'] },
  // Targets and gates
  { what: 'targets: CPU (not a list)', ...bad(`${VALID}targets: CPU\n`), exit: 2, says: ['recipe.yaml:10:10 targets: expected a list, got string "CPU"', 'targets: [{ device: CPU }]'] },
  { what: 'targets: [] (none)', ...bad(`${VALID}targets: []\n`), exit: 2, says: ['targets: Too small'] },
  { what: 'a device phiforge does not know', ...withTargetsCase('  - device: TPU\n'), exit: 2, says: ['recipe.yaml:11:13 targets[0].device: not a device phiforge knows', 'OpenVINO: CPU, GPU, GPU.0, NPU or AUTO'] },
  { what: 'an ONNX Runtime provider on an OpenVINO recipe', ...withTargetsCase('  - device: cpu\n'), exit: 2, says: ['targets[0].device: cpu is a device of the ort-genai backend; pipeline openvino builds for openvino', 'Use CPU, GPU, GPU.0, NPU or AUTO'] },
  { what: 'an OpenVINO device on an ONNX Runtime recipe', ...bad(ORT.replace('device: cpu', 'device: CPU')), exit: 2, says: ['targets[0].device: CPU is a device of the openvino backend; pipeline ort-genai builds for ort-genai'] },
  { what: 'an unknown gate', ...withTargetsCase('  - device: CPU\n    gates: { ttft_max: 100 }\n'), exit: 2, says: ['targets[0].gates.ttft_max: unknown key "ttft_max"', 'Allowed here: ttft_ms_max'] },
  { what: 'similarity_min 1.5', ...withTargetsCase('  - device: CPU\n    gates: { similarity_min: 1.5 }\n'), exit: 2, says: ['targets[0].gates.similarity_min: Too big'] },
  { what: 'int4_share_min 1.5', ...withTargetsCase('  - device: CPU\n    gates: { int4_share_min: 1.5 }\n'), exit: 2, says: ['targets[0].gates.int4_share_min: Too big'] },
  { what: 'a negative latency gate', ...withTargetsCase('  - device: CPU\n    gates: { tpot_ms_max: -1 }\n'), exit: 2, says: ['targets[0].gates.tpot_ms_max: Too small'] },
  { what: 'a TTFT gate at a prompt length the sweep lacks', ...withTargetsCase('  - device: CPU\n    gates: { ttft_ms_max: { 4096: 900 } }\n'), exit: 2, says: ['targets[0].gates.ttft_ms_max.4096: a TTFT gate at 4096 prompt tokens, but validate.prompt_tokens does not measure that length', 'Add 4096 to validate.prompt_tokens'] },
  { what: 'NPU with asymmetric weights', ...bad(NPU.replace('sym: true', 'sym: false')), exit: 2, says: ['quantization.sym: an NPU target needs symmetric weights', 'OpenVINO NPU guide'] },
  { what: 'NPU with ratio 0.6', ...bad(NPU.replace('ratio: 1.0', 'ratio: 0.6')), exit: 2, says: ['quantization.ratio: an NPU target needs ratio 1.0'] },
  { what: 'NPU with group 64', ...bad(NPU.replace('group_size: 128', 'group_size: 64')), exit: 2, says: ['quantization.group_size: an NPU target needs group_size 128 or -1, not 64'] },
  { what: 'NPU with a sweep longer than its max prompt', ...bad(`${NPU}validate:\n  prompt_tokens: [512, 2048]\n`), exit: 2, says: ["validate.prompt_tokens[1]: a 2048-token prompt is longer than the NPU model's max_prompt_len (1024)"] },
  // Validation
  { what: 'max_new_tokens 100000000', ...bad(withValidate('  max_new_tokens: 100000000\n')), exit: 2, says: ['validate.max_new_tokens: Too big', 'A whole number from 1 to 4096'] },
  { what: 'repetitions: -3', ...bad(withValidate('  repetitions: -3\n')), exit: 2, says: ['validate.repetitions: Too small', 'A whole number from 1 to 100'] },
  { what: 'prompts: [] (none)', ...bad(withValidate('  prompts: []\n')), exit: 2, says: ['validate.prompts: Too small', 'At least one prompt'] },
  { what: 'a message role that does not exist', ...bad(withValidate('  prompts:\n    - messages: [{ role: human, content: hi }]\n')), exit: 2, says: ['validate.prompts[0].messages[0].role:'] },
  { what: 'an invalid regex', ...bad(withValidate('  prompts:\n    - messages: [{ role: user, content: hi }]\n      expect: { regex: "([a-z" }\n')), exit: 2, says: ['validate.prompts[0].expect.regex: regex is not a valid regular expression'] },
  { what: 'a one-word perplexity text', ...bad(withValidate('  perplexity: { text: hello }\n')), exit: 2, says: ['recipe.yaml:11:23 validate.perplexity.text: the perplexity text needs at least two words', 'A few sentences of plain prose'] },
  { what: 'a sweep prompt of 4 tokens', ...bad(withValidate('  prompt_tokens: [4]\n')), exit: 2, says: ['validate.prompt_tokens[0]: Too small'] },
  // ONNX Runtime GenAI
  { what: 'fp16 for the cpu provider', ...bad(ORT.replace('weight_format: int4', 'weight_format: fp16').replace('  sym: true\n', '')), exit: 2, says: ['quantization.weight_format: the model builder cannot make fp16 for the cpu execution provider', 'fp16 is built for: cuda, dml'] },
  { what: 'an ORT block size of 100', ...bad(ORT.replace('block_size: 128', 'block_size: 100')), exit: 2, says: ['ort.block_size: block_size must be 16, 32, 64, 128 or 256'] },
  {
    what: 'ORT shared embeddings on a model whose embeddings are not tied',
    ...bad(ORT.replace('block_size: 128', 'block_size: 128\n  shared_embeddings: true')),
    exit: 2,
    says: ['recipe.yaml:10:22 ort.shared_embeddings: shared_embeddings needs a model that ties its embedding and output projection', 'answer gibberish'],
  },
  {
    what: 'ORT shared embeddings with exclude_lm_head',
    ...bad(ORT.replace('synthetic: phi3-mini-tiny', 'synthetic: phi4-mini-tiny').replace('block_size: 128', 'block_size: 128\n  shared_embeddings: true\n  exclude_lm_head: true')),
    exit: 2,
    says: ['ort.shared_embeddings: shared_embeddings cannot apply with exclude_lm_head'],
  },
  { what: 'data-aware AWQ on an ORT recipe', ...bad(ORT.replace('  sym: true\n', '  sym: true\n  awq: true\n')), exit: 2, says: ['quantization.awq: awq is data-aware NNCF compression; the ONNX Runtime GenAI builder quantizes from the weights alone', 'k_quant'] },
  { what: 'an NNCF group_size on an ORT recipe', ...bad(ORT.replace('  sym: true\n', '  sym: true\n  group_size: 128\n')), exit: 2, says: ['quantization.group_size: group_size is an OpenVINO (NNCF) setting', 'Set ort.block_size instead'] },
  // The command line
  { what: '--jobs 0', ...bad(VALID, '--jobs', '0'), exit: 2, says: ['--jobs 0: expected a whole number of at least 1'] },
  { what: 'an unknown option', ...bad(VALID, '--colour'), exit: 2, says: ['Unknown argument: colour'] },
  { what: 'a misspelt command', files: { 'recipe.yaml': VALID }, args: ['bulid', 'recipe.yaml'], exit: 2, says: ['unknown command "bulid". Did you mean build?'] },
  { what: '--device tpu', ...bad(VALID, '--device', 'tpu'), exit: 2, says: ['Invalid values', 'tpu'] },
  { what: '--out names a file', files: { 'recipe.yaml': VALID, 'dist-file': 'x' }, args: ['build', 'recipe.yaml', '--out', 'dist-file'], exit: 2, says: ['--out ', 'dist-file is a file, not a folder'] },
  { what: '--cache-dir where nothing can be written', ...bad(VALID, '--cache-dir', '/proc/phiforge-cache'), exit: 2, says: ['--cache-dir /proc/phiforge-cache: cannot write there'] },
  { what: '--junit where nothing can be written', ...bad(VALID, '--junit', '/proc/phiforge.xml'), exit: 2, says: ['--junit /proc/phiforge.xml: cannot write there'] },
  { what: '--junit names a folder', files: { 'recipe.yaml': VALID, 'reports/x.txt': 'x' }, args: ['build', 'recipe.yaml', '--junit', 'reports'], exit: 2, says: ['--junit reports is a folder'] },
  { what: '--name with several recipes', files: { 'a.yaml': VALID, 'b.yaml': VALID.replace('tiny', 'tiny2') }, args: ['build', 'a.yaml', 'b.yaml', '--name', 'x'], exit: 2, says: ['--name names one artifact, but several recipes were given'] },
  { what: 'validate: a folder that is not an artifact', files: { 'somewhere/readme.txt': 'x' }, args: ['validate', 'somewhere'], exit: 2, says: ['somewhere is a folder without manifest.json: not an artifact'] },
];

function withTargetsCase(lines: string): Pick<BadInput, 'files' | 'args'> {
  return bad(withTargets(lines));
}

export const BAD_INPUTS: BadInput[] = [...BASE_BAD_INPUTS, ...BAD_INPUTS_RECIPE_INPUT, ...BAD_INPUTS_MODEL_FILES, ...BAD_INPUTS_OWNERSHIP, ...BAD_INPUTS_ARTIFACT_FILES, ...BAD_INPUTS_SIGNING, ...BAD_INPUTS_MEMORY];
