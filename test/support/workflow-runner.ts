import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { globSync } from 'tinyglobby';
import { sha256File } from '../../src/cache/digest.js';

// Plays a GitHub Actions workflow on this machine, as far as phiforge's generated workflow needs:
// jobs in dependency order, `if:` conditions, matrices from expressions, `runs-on` against the labels
// this machine stands for, and each job leg in a fresh folder of its own. `run:` steps run with bash
// (-eo pipefail, as GitHub runs `shell: bash`) with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files;
// uploads and downloads of artifacts copy folders with upload-artifact's rules (the root of an upload
// is its search path, or the common ancestor of several); actions/cache asks the caller what to
// restore (nothing is saved: no job sees another's cache). Checkout copies the repository folder.
// actions/attest-build-provenance digests its subjects as the action does, and fails as GitHub would
// where the job was not granted the OIDC token (id-token: write) and attestations: write.
// Expressions are evaluated by the small interpreter below: literals, contexts, property access,
// ! && || == != < <= > >=, and the functions the workflow uses.

// ---------------------------------------------------------------------------------------------
// Expressions

type Value = unknown;

interface Token {
  kind: 'number' | 'string' | 'ident' | 'op' | 'end';
  text: string;
  value?: Value;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < source.length) {
    const rest = source.slice(index);
    const space = /^\s+/.exec(rest);
    if (space) {
      index += space[0].length;
      continue;
    }
    const string = /^'((?:[^']|'')*)'/.exec(rest);
    if (string) {
      tokens.push({ kind: 'string', text: string[0], value: string[1].replaceAll("''", "'") });
      index += string[0].length;
      continue;
    }
    const number = /^-?\d+(\.\d+)?/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0], value: Number(number[0]) });
      index += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(rest);
    if (ident) {
      tokens.push({ kind: 'ident', text: ident[0] });
      index += ident[0].length;
      continue;
    }
    const op = /^(==|!=|<=|>=|&&|\|\||[!<>().,[\]*])/.exec(rest);
    if (!op) throw new Error(`cannot read the expression at "${rest}" in "${source}"`);
    tokens.push({ kind: 'op', text: op[0] });
    index += op[0].length;
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

export interface ExpressionContext {
  contexts: Record<string, Value>;
  /** What success(), failure(), cancelled() see: the results of whatever came before. */
  status: { success: boolean; failure: boolean };
}

function truthy(value: Value): boolean {
  return !(value === false || value === 0 || value === '' || value === null || value === undefined || Number.isNaN(value));
}

function toNumber(value: Value): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? 0 : Number(value);
  return Number.NaN;
}

/** GitHub's loose equality: strings without regard to case, mixed types as numbers. */
function equal(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (typeof a === 'object' || typeof b === 'object') return a === b;
  return toNumber(a) === toNumber(b);
}

export function textOf(value: Value): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function call(name: string, args: Value[], context: ExpressionContext): Value {
  switch (name.toLowerCase()) {
    case 'fromjson':
      return JSON.parse(textOf(args[0]));
    case 'tojson':
      return JSON.stringify(args[0], null, 2);
    case 'format':
      return textOf(args[0]).replace(/\{(\d+)\}/g, (_match, index: string) => textOf(args[Number(index) + 1]));
    case 'startswith':
      return textOf(args[0]).toLowerCase().startsWith(textOf(args[1]).toLowerCase());
    case 'endswith':
      return textOf(args[0]).toLowerCase().endsWith(textOf(args[1]).toLowerCase());
    case 'contains':
      return Array.isArray(args[0]) ? args[0].some((item) => equal(item, args[1])) : textOf(args[0]).toLowerCase().includes(textOf(args[1]).toLowerCase());
    case 'join':
      return Array.isArray(args[0]) ? args[0].map(textOf).join(args.length > 1 ? textOf(args[1]) : ',') : textOf(args[0]);
    case 'always':
      return true;
    case 'cancelled':
      return false;
    case 'success':
      return context.status.success;
    case 'failure':
      return context.status.failure;
    default:
      throw new Error(`the runner knows no function ${name}()`);
  }
}

/** Evaluates one expression (the text inside ${{ }}). */
export function evaluate(source: string, context: ExpressionContext): Value {
  const tokens = tokenize(source);
  let position = 0;
  const peek = () => tokens[position];
  const take = (text?: string) => {
    const token = tokens[position];
    if (text !== undefined && token.text !== text) throw new Error(`expected "${text}" in "${source}", found "${token.text}"`);
    position++;
    return token;
  };
  // Parsing and evaluating are one pass, so both sides are always read (and evaluated: every function here is pure).
  const binary = (next: () => Value, operators: string[], apply: (op: string, a: Value, b: Value) => Value) => (): Value => {
    let left = next();
    while (peek().kind === 'op' && operators.includes(peek().text)) {
      const op = take().text;
      left = apply(op, left, next());
    }
    return left;
  };
  const primary = (): Value => {
    const token = take();
    let value: Value;
    if (token.kind === 'number' || token.kind === 'string') value = token.value;
    else if (token.text === '(') {
      value = or();
      take(')');
    } else if (token.text === '!') return !truthy(primary());
    else if (token.kind === 'ident') {
      const lower = token.text.toLowerCase();
      if (peek().text === '(') {
        take('(');
        const args: Value[] = [];
        while (peek().text !== ')') {
          args.push(or());
          if (peek().text === ',') take(',');
        }
        take(')');
        value = call(token.text, args, context);
      } else if (lower === 'true' || lower === 'false') value = lower === 'true';
      else if (lower === 'null') value = null;
      else value = context.contexts[token.text] ?? null;
    } else throw new Error(`unexpected "${token.text}" in "${source}"`);
    for (;;) {
      if (peek().text === '.') {
        take('.');
        const property = take().text;
        value = value !== null && typeof value === 'object' ? ((value as Record<string, Value>)[property] ?? null) : null;
      } else if (peek().text === '[') {
        take('[');
        const key = or();
        take(']');
        value = value !== null && typeof value === 'object' ? ((value as Record<string, Value>)[textOf(key)] ?? null) : null;
      } else return value;
    }
  };
  const compare = binary(primary, ['<', '<=', '>', '>='], (op, a, b) => {
    const [x, y] = [toNumber(a), toNumber(b)];
    return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
  });
  const equality = binary(compare, ['==', '!='], (op, a, b) => (op === '==' ? equal(a, b) : !equal(a, b)));
  const and = binary(equality, ['&&'], (_op, a, b) => (truthy(a) ? b : a));
  const or: () => Value = binary(and, ['||'], (_op, a, b) => (truthy(a) ? a : b));
  const result = or();
  if (peek().kind !== 'end') throw new Error(`unexpected "${peek().text}" in "${source}"`);
  return result;
}

const EXPRESSION = /\$\{\{([\s\S]*?)\}\}/g;

/** A workflow value with its ${{ }} evaluated: the value itself when it is one expression, else text. */
export function interpolate(value: Value, context: ExpressionContext): Value {
  if (typeof value === 'string') {
    const whole = /^\s*\$\{\{([\s\S]*?)\}\}\s*$/.exec(value);
    if (whole) return evaluate(whole[1], context);
    return value.replace(EXPRESSION, (_match, inner: string) => textOf(evaluate(inner, context)));
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, context));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, context)]));
  return value;
}

/** An `if:`: with or without ${{ }}, and `success() &&` in front unless it calls a status function. */
export function condition(text: unknown, context: ExpressionContext): boolean {
  if (text === undefined) return context.status.success;
  const source = String(text).replace(/^\s*\$\{\{([\s\S]*)\}\}\s*$/, '$1');
  const withStatus = /\b(success|failure|always|cancelled)\s*\(/.test(source) ? source : `success() && (${source})`;
  return truthy(evaluate(withStatus, context));
}

// ---------------------------------------------------------------------------------------------
// Jobs

export type Result = 'success' | 'failure' | 'skipped';

export interface StepRecord {
  name: string;
  outcome: Result;
  /** What it printed (stdout and stderr together), or what the emulated action did. */
  log: string;
  outputs: Record<string, string>;
  /** The step summary it wrote, if any. */
  summary?: string;
}

export interface LegRecord {
  matrix?: Record<string, Value>;
  result: Result;
  /** Why it did not run, when it did not. */
  skipped?: string;
  /** Its fresh folder: the workspace is <folder>/workspace. */
  folder?: string;
  steps: StepRecord[];
}

export interface JobRecord {
  result: Result;
  /** Why it was skipped, when it was. */
  skipped?: string;
  outputs: Record<string, string>;
  legs: LegRecord[];
}

export interface RunOptions {
  workflow: Record<string, any>;
  /** The repository as checkout gives it. */
  repository: string;
  /** Where each job leg gets its folder and where uploaded artifacts are kept. */
  root: string;
  /** The github context (event_name, ref, event...). */
  github: Record<string, Value>;
  secrets?: Record<string, string>;
  /** The runner labels this machine stands for (`runs-on` must name only these). */
  labels: string[];
  /** Variables every step has besides the workflow's (PATH and HOME come from this process). */
  env?: Record<string, string>;
  /** actions/cache: fill `paths` (absolute) for `key`, or leave them empty; returns whether it was a hit. */
  restoreCache?: (input: { key: string; paths: string[]; workspace: string }) => Promise<boolean>;
  /** Progress, one line per step. */
  log?: (line: string) => void;
}

export interface AttestedSubject {
  /** As the action names a subject found by subject-path: the file's base name. */
  name: string;
  /** Where it was, relative to the workspace. */
  path: string;
  sha256: string;
}

export interface WorkflowRun {
  jobs: Record<string, JobRecord>;
  /** Uploaded artifacts by name: their folders. */
  artifacts: Map<string, string>;
  /** What each attest step attested, in the order they ran. */
  attestations: Array<{ job: string; matrix?: Record<string, Value>; subjects: AttestedSubject[] }>;
}

function order(jobs: Record<string, any>): string[] {
  const done: string[] = [];
  const visit = (id: string, trail: string[]) => {
    if (done.includes(id)) return;
    if (trail.includes(id)) throw new Error(`jobs form a cycle: ${[...trail, id].join(' -> ')}`);
    for (const need of needsOf(jobs[id])) visit(need, [...trail, id]);
    done.push(id);
  };
  for (const id of Object.keys(jobs)) visit(id, []);
  return done;
}

function needsOf(job: { needs?: string | string[] }): string[] {
  return job.needs === undefined ? [] : [job.needs].flat();
}

/** Every job the given one depends on, directly or not. */
function ancestors(jobs: Record<string, any>, id: string): string[] {
  const found = new Set<string>();
  const walk = (current: string) => {
    for (const need of needsOf(jobs[current])) {
      if (!found.has(need)) {
        found.add(need);
        walk(need);
      }
    }
  };
  walk(id);
  return [...found];
}

export async function runWorkflow(options: RunOptions): Promise<WorkflowRun> {
  const { workflow } = options;
  const run: WorkflowRun = { jobs: {}, artifacts: new Map(), attestations: [] };
  const log = options.log ?? (() => undefined);
  await mkdir(path.join(options.root, 'artifacts'), { recursive: true });
  let legNumber = 0;
  for (const id of order(workflow.jobs)) {
    const job = workflow.jobs[id];
    const needs = Object.fromEntries(needsOf(job).map((need) => [need, { result: run.jobs[need].result, outputs: run.jobs[need].outputs }]));
    const before = ancestors(workflow.jobs, id).map((ancestor) => run.jobs[ancestor].result);
    const jobContext: ExpressionContext = {
      contexts: { github: options.github, needs, secrets: options.secrets ?? {}, vars: {}, inputs: {} },
      status: { success: before.every((result) => result === 'success'), failure: before.includes('failure') },
    };
    if (!condition(job.if, jobContext)) {
      log(`job ${id}: skipped (if: ${job.if ?? 'success()'})`);
      run.jobs[id] = { result: 'skipped', skipped: `if: ${job.if ?? 'success()'}`, outputs: {}, legs: [] };
      continue;
    }
    const matrixValue = job.strategy?.matrix === undefined ? undefined : interpolate(job.strategy.matrix, jobContext);
    const legs: Array<Record<string, Value> | undefined> = matrixValue === undefined ? [undefined] : ((matrixValue as { include?: Array<Record<string, Value>> }).include ?? []);
    if (legs.length === 0) throw new Error(`job ${id}: its matrix has no legs (GitHub refuses an empty matrix)`);
    const record: JobRecord = { result: 'success', outputs: {}, legs: [] };
    for (const matrix of legs) {
      const context: ExpressionContext = { ...jobContext, contexts: { ...jobContext.contexts, matrix: matrix ?? {} } };
      const runsOn = [interpolate(job['runs-on'], context)].flat().map(String);
      const missing = runsOn.filter((label) => !options.labels.includes(label));
      if (missing.length > 0) {
        const reason = `no runner here carries the labels ${runsOn.join(', ')}`;
        log(`job ${id} ${JSON.stringify(matrix ?? {})}: skipped: ${reason}`);
        record.legs.push({ matrix, result: 'skipped', skipped: reason, steps: [] });
        continue;
      }
      const folder = path.join(options.root, 'jobs', `${String(++legNumber).padStart(2, '0')}-${id}`);
      const leg = await runLeg(options, run, id, job, context, folder, log);
      record.legs.push({ ...leg, matrix, folder });
      if (leg.result === 'failure') record.result = 'failure';
      Object.assign(record.outputs, leg.outputs);
    }
    run.jobs[id] = record;
  }
  return run;
}

async function runLeg(options: RunOptions, workflowRun: WorkflowRun, id: string, job: any, jobContext: ExpressionContext, folder: string, log: (line: string) => void) {
  const workspace = path.join(folder, 'workspace');
  const temp = path.join(folder, 'temp');
  await mkdir(workspace, { recursive: true });
  await mkdir(temp, { recursive: true });
  const steps: Record<string, { outputs: Record<string, string>; outcome: Result; conclusion: Result }> = {};
  const records: StepRecord[] = [];
  const runner = { os: 'Linux', arch: 'X64', temp, name: 'local' };
  const github = { ...options.github, workspace };
  let failed = false;
  const workflowEnv = interpolate(options.workflow.env ?? {}, { ...jobContext, contexts: { ...jobContext.contexts, github, runner } }) as Record<string, string>;
  for (const [index, step] of (job.steps as Array<Record<string, any>>).entries()) {
    const name = step.name ?? step.uses ?? step.run;
    const context: ExpressionContext = {
      contexts: { ...jobContext.contexts, github, runner, steps, env: workflowEnv, job: { status: failed ? 'failure' : 'success' } },
      status: { success: !failed, failure: failed },
    };
    if (!condition(step.if, context)) {
      records.push({ name, outcome: 'skipped', log: `skipped (if: ${step.if})`, outputs: {} });
      if (step.id) steps[step.id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
      continue;
    }
    let record: StepRecord;
    try {
      record = step.uses
        ? await useAction(options, workflowRun, String(step.uses), (interpolate(step.with ?? {}, context) ?? {}) as Record<string, Value>, workspace, { job: id, matrix: jobContext.contexts.matrix as Record<string, Value> | undefined, permissions: job.permissions ?? options.workflow.permissions ?? {} })
        : await runScript(options, String(interpolate(step.run, context)), { ...workflowEnv, ...((interpolate(step.env ?? {}, context) ?? {}) as Record<string, string>) }, workspace, temp, github, index);
    } catch (error) {
      record = { name, outcome: 'failure', log: String((error as Error).message ?? error), outputs: {} };
    }
    record.name = name;
    records.push(record);
    log(`job ${id} ${JSON.stringify(jobContext.contexts.matrix ?? {})}: ${name}: ${record.outcome}`);
    if (step.id) steps[step.id] = { outputs: record.outputs, outcome: record.outcome, conclusion: record.outcome };
    if (record.outcome === 'failure') failed = true;
  }
  const outputsContext: ExpressionContext = { contexts: { ...jobContext.contexts, github, runner, steps }, status: { success: !failed, failure: failed } };
  const outputs = Object.fromEntries(Object.entries(job.outputs ?? {}).map(([name, value]) => [name, textOf(interpolate(value, outputsContext))]));
  return { result: (failed ? 'failure' : 'success') as Result, steps: records, outputs };
}

/** The outputs a step wrote to its GITHUB_OUTPUT file: name=value lines and name<<DELIMITER blocks. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], index + 1);
      outputs[heredoc[1]] = lines.slice(index + 1, end).join('\n');
      index = end;
    } else if (line.includes('=')) outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return outputs;
}

async function runScript(options: RunOptions, script: string, env: Record<string, string>, workspace: string, temp: string, github: Record<string, Value>, index: number): Promise<StepRecord> {
  const shell = options.workflow.defaults?.run?.shell ?? 'bash';
  if (shell !== 'bash') throw new Error(`the runner only knows shell: bash, not ${shell}`);
  const file = path.join(temp, `step-${index}.sh`);
  const outputFile = path.join(temp, `output-${index}`);
  const summaryFile = path.join(temp, `summary-${index}.md`);
  await writeFile(file, script);
  const eventFile = path.join(temp, 'event.json');
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
  await writeFile(eventFile, JSON.stringify(github.event ?? {}));
  const result = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
    cwd: workspace,
    // Nothing of this process's own GitHub or phiforge settings leaks into a job.
    extendEnv: false,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LANG: process.env.LANG ?? 'C.UTF-8',
      ...options.env,
      ...env,
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: workspace,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_EVENT_NAME: String(github.event_name),
      GITHUB_EVENT_PATH: eventFile,
      GITHUB_REF: String(github.ref),
      RUNNER_TEMP: temp,
      RUNNER_OS: 'Linux',
    },
    all: true,
    reject: false,
    stdin: 'ignore',
  });
  const summary = await readFile(summaryFile, 'utf8');
  return { name: '', outcome: result.exitCode === 0 ? 'success' : 'failure', log: result.all ?? '', outputs: parseOutputs(await readFile(outputFile, 'utf8')), ...(summary ? { summary } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Actions

const GLOB = /[*?[{]/;

function lines(value: Value): string[] {
  return textOf(value)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** upload-artifact's search path of a pattern: the folders before its first wildcard. */
function searchPath(workspace: string, pattern: string): string {
  const parts = pattern.replace(/\/+$/, '').split('/');
  const plain = parts.findIndex((part) => GLOB.test(part));
  return path.join(workspace, ...(plain === -1 ? parts : parts.slice(0, plain)));
}

function commonAncestor(folders: string[]): string {
  const split = folders.map((folder) => folder.split(path.sep));
  const common: string[] = [];
  for (let index = 0; index < Math.min(...split.map((parts) => parts.length)); index++) {
    if (split.every((parts) => parts[index] === split[0][index])) common.push(split[0][index]);
    else break;
  }
  return common.join(path.sep) || path.sep;
}

async function isDirectory(file: string): Promise<boolean> {
  return stat(file).then((info) => info.isDirectory(), () => false);
}

async function upload(run: WorkflowRun, root: string, inputs: Record<string, Value>, workspace: string): Promise<StepRecord> {
  const name = textOf(inputs.name || 'artifact');
  const patterns = lines(inputs.path);
  const hidden = inputs['include-hidden-files'] === true || inputs['include-hidden-files'] === 'true';
  const files = new Set<string>();
  for (const pattern of patterns) {
    const absolute = path.join(workspace, pattern);
    const glob = GLOB.test(pattern) ? pattern : (await isDirectory(absolute)) ? `${pattern.replace(/\/+$/, '')}/**` : pattern;
    for (const file of globSync(glob, { cwd: workspace, dot: true, onlyFiles: true, expandDirectories: false })) {
      if (!hidden && file.split('/').some((part) => part.startsWith('.'))) continue;
      files.add(path.join(workspace, file));
    }
  }
  const searchPaths = [...new Set(patterns.map((pattern) => searchPath(workspace, pattern)))];
  const sorted = [...files].sort();
  const rootFolder = searchPaths.length > 1 ? commonAncestor(searchPaths) : sorted.length === 1 && sorted[0] === searchPaths[0] ? path.dirname(sorted[0]) : searchPaths[0];
  if (sorted.length === 0) {
    const behaviour = textOf(inputs['if-no-files-found'] || 'warn');
    if (behaviour === 'error') return { name: '', outcome: 'failure', log: `no files were found with the provided path: ${patterns.join(', ')}`, outputs: {} };
    return { name: '', outcome: 'success', log: `no files found for ${name}; nothing uploaded`, outputs: {} };
  }
  if (run.artifacts.has(name)) return { name: '', outcome: 'failure', log: `an artifact named ${name} was uploaded already in this run`, outputs: {} };
  const store = path.join(root, 'artifacts', name);
  for (const file of sorted) {
    const target = path.join(store, path.relative(rootFolder, file));
    await mkdir(path.dirname(target), { recursive: true });
    await cp(file, target);
  }
  run.artifacts.set(name, store);
  return { name: '', outcome: 'success', log: `uploaded ${sorted.length} file(s) as ${name} (root ${path.relative(workspace, rootFolder) || '.'})`, outputs: {} };
}

async function download(run: WorkflowRun, inputs: Record<string, Value>, workspace: string): Promise<StepRecord> {
  const destination = path.resolve(workspace, textOf(inputs.path || '.'));
  if (inputs.name) {
    const store = run.artifacts.get(textOf(inputs.name));
    if (!store) return { name: '', outcome: 'failure', log: `Artifact '${textOf(inputs.name)}' not found`, outputs: {} };
    await cp(store, destination, { recursive: true });
    return { name: '', outcome: 'success', log: `downloaded ${textOf(inputs.name)} to ${path.relative(workspace, destination) || '.'}`, outputs: {} };
  }
  const pattern = new RegExp(`^${textOf(inputs.pattern || '*').replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
  const names = [...run.artifacts.keys()].filter((name) => pattern.test(name));
  const merge = inputs['merge-multiple'] === true || inputs['merge-multiple'] === 'true' || names.length === 1;
  for (const name of names) await cp(run.artifacts.get(name)!, merge ? destination : path.join(destination, name), { recursive: true });
  return { name: '', outcome: 'success', log: `downloaded ${names.length} artifact(s): ${names.join(', ')}`, outputs: {} };
}

/**
 * actions/attest-build-provenance with subject-path: its lines (or comma-separated items) are globs
 * relative to the workspace as @actions/glob reads them (`!` excludes, hidden files match), and every
 * file they match is a subject named by its base name.
 */
async function attest(run: WorkflowRun, inputs: Record<string, Value>, workspace: string, leg: LegIdentity): Promise<StepRecord> {
  const missing = ['id-token', 'attestations'].filter((scope) => leg.permissions[scope] !== 'write');
  if (missing.length > 0) return { name: '', outcome: 'failure', log: `the job was not granted ${missing.map((scope) => `${scope}: write`).join(' and ')}: no OIDC token to sign with, or no right to store the attestation`, outputs: {} };
  const patterns = lines(inputs['subject-path']).flatMap((line) => line.split(',').map((item) => item.trim()).filter(Boolean));
  const files = globSync(patterns.filter((pattern) => !pattern.startsWith('!')), { cwd: workspace, dot: true, onlyFiles: true, expandDirectories: false, ignore: patterns.filter((pattern) => pattern.startsWith('!')).map((pattern) => pattern.slice(1)) }).sort();
  if (files.length === 0) return { name: '', outcome: 'failure', log: `Could not find subject at path ${patterns.join(', ')}`, outputs: {} };
  const subjects = await Promise.all(files.map(async (file) => ({ name: path.basename(file), path: file, sha256: await sha256File(path.join(workspace, file)) })));
  run.attestations.push({ job: leg.job, ...(leg.matrix ? { matrix: leg.matrix } : {}), subjects });
  return { name: '', outcome: 'success', log: `attested ${subjects.length} subject(s)`, outputs: {} };
}

interface LegIdentity {
  job: string;
  matrix?: Record<string, Value>;
  /** The job's permissions, else the workflow's. */
  permissions: Record<string, string>;
}

async function useAction(options: RunOptions, run: WorkflowRun, uses: string, inputs: Record<string, Value>, workspace: string, leg: LegIdentity): Promise<StepRecord> {
  const action = uses.split('@')[0];
  switch (action) {
    case 'actions/checkout':
      await cp(options.repository, workspace, { recursive: true, verbatimSymlinks: true });
      return { name: '', outcome: 'success', log: `checked out ${options.repository}`, outputs: {} };
    case 'actions/setup-node':
    case 'actions/setup-python': {
      // This machine's Node.js and Python stand in for the versions asked for.
      const python = (await execa('python3', ['-c', 'import platform; print(platform.python_version())'], { reject: false })).stdout.trim();
      return { name: '', outcome: 'success', log: `using this machine's ${action.endsWith('node') ? `Node.js ${process.version}` : `Python ${python}`}`, outputs: action.endsWith('python') ? { 'python-version': python } : {} };
    }
    case 'actions/cache': {
      const paths = lines(inputs.path).map((each) => path.resolve(workspace, each));
      const hit = options.restoreCache ? await options.restoreCache({ key: textOf(inputs.key), paths, workspace }) : false;
      return { name: '', outcome: 'success', log: `cache ${hit ? 'hit' : 'miss'} for ${textOf(inputs.key)} (nothing is saved)`, outputs: { 'cache-hit': hit ? 'true' : 'false' } };
    }
    case 'actions/upload-artifact':
      return upload(run, options.root, inputs, workspace);
    case 'actions/download-artifact':
      return download(run, inputs, workspace);
    case 'actions/attest-build-provenance':
      return attest(run, inputs, workspace, leg);
    default:
      throw new Error(`the runner cannot play ${uses}`);
  }
}

/** The names in a folder, or none when it does not exist. */
export async function listing(folder: string): Promise<string[]> {
  return readdir(folder).catch(() => []);
}
