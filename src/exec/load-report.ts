import { open } from 'node:fs/promises';

// When transformers loads a checkpoint whose tensors do not fit the model class, it does not fail: it
// logs which weights it could not find (and fills them with random values), which it ignored, and
// which had the wrong shape, and the converter exits 0 with a model that answers gibberish. The model
// step's checks refuse such checkpoints before anything runs; this reads the converters' own logs for
// the same report, as a backstop for what those checks cannot see (pickled .bin weights, remote code).
//
// The words are transformers' own. 5.x (utils/loading_report.py, log_state_dict_report) logs a table:
//
//   Phi3ForCausalLM LOAD REPORT from: /path
//   Key                                           | Status     |
//   ----------------------------------------------+------------+-
//   model.layers.{0, 1}.self_attn.q_proj.weight   | MISSING    |
//
// with the statuses UNEXPECTED, MISSING, MISMATCH and CONVERSION; 4.x (modeling_utils.py) logs
// sentences: "Some weights of X were not initialized from the model checkpoint at P and are newly
// initialized: [...]", "... and are newly initialized because the shapes did not match:" followed by
// "- key: found shape ..." lines, and "Some weights of the model checkpoint at P were not used when
// initializing X: [...]".

export interface WeightLoadProblem {
  /** The model class transformers built (Phi3ForCausalLM). */
  model: string;
  kind: 'missing' | 'unexpected' | 'mismatched' | 'conversion';
  /** Weight names as transformers printed them (5.x folds layer numbers: model.layers.{0, 1}.x). */
  weights: string[];
}

const STATUS: Record<string, WeightLoadProblem['kind']> = { MISSING: 'missing', UNEXPECTED: 'unexpected', MISMATCH: 'mismatched', CONVERSION: 'conversion' };
const ANSI = /\x1b\[[0-9;]*m/g;

/** Names in a Python list's repr: ['a', "b"]. */
function pythonList(text: string): string[] {
  return [...text.matchAll(/'([^']*)'|"([^"]*)"/g)].map((match) => match[1] ?? match[2]);
}

/** Every report of weights a converter did not load as they are, in the order the log gives them. */
export function weightLoadProblems(log: string): WeightLoadProblem[] {
  const lines = log.replace(ANSI, '').split(/\r?\n|\r/);
  const found: WeightLoadProblem[] = [];
  const add = (model: string, kind: WeightLoadProblem['kind'], weights: string[]) => {
    const same = found.find((problem) => problem.model === model && problem.kind === kind);
    if (same) same.weights.push(...weights.filter((weight) => !same.weights.includes(weight)));
    else if (weights.length > 0) found.push({ model, kind, weights: [...new Set(weights)] });
  };
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const table = /(\S+) LOAD REPORT from: /.exec(line);
    if (table) {
      // The table's rows run until the blank line before its notes.
      for (let row = index + 1; row < lines.length && lines[row].trim() !== ''; row++) {
        const [key, status] = lines[row].split(' | ').map((cell) => cell.trim());
        if (status && status in STATUS) add(table[1], STATUS[status], [key]);
      }
      continue;
    }
    const missing = /Some weights of (\S+) were not initialized from the model checkpoint at .* and are newly initialized: (\[.*\])/.exec(line);
    if (missing) add(missing[1], 'missing', pythonList(missing[2]));
    const unused = /Some weights of the model checkpoint at .* were not used when initializing (\S+): (\[.*\])/.exec(line);
    if (unused) add(unused[1], 'unexpected', pythonList(unused[2]));
    const reshaped = /Some weights of (\S+) were not initialized from the model checkpoint at .* and are newly initialized because the shapes did not match:/.exec(line);
    if (reshaped) {
      const weights: string[] = [];
      for (let row = index + 1; row < lines.length && lines[row].startsWith('- '); row++) weights.push(/^- (.+?): found shape/.exec(lines[row])?.[1] ?? lines[row].slice(2));
      add(reshaped[1], 'mismatched', weights);
    }
  }
  return found;
}

const WHAT: Record<WeightLoadProblem['kind'], string> = {
  missing: 'could not find these weights in the checkpoint and filled them with random values',
  unexpected: 'found these weights in the checkpoint and ignored them (the model it built has no place for them)',
  mismatched: 'found these weights in another shape than the model needs and filled them with random values',
  conversion: 'could not convert these weights',
};

/** One line per problem, naming the weights: what a failed step's check says. */
export function describeWeightLoadProblems(problems: WeightLoadProblem[], shown = 8): string[] {
  return problems.map(({ model, kind, weights }) => {
    const names = weights.length > shown ? `${weights.slice(0, shown).join(', ')} and ${weights.length - shown} more` : weights.join(', ');
    return `transformers, building ${model}, ${WHAT[kind]}: ${names}`;
  });
}

/** Logs of a converter run over a full-size model stay in the megabytes; the reports sit anywhere in them. */
const MAX_LOG_BYTES = 64 * 2 ** 20;

/** weightLoadProblems of a step's log file (its last 64 MiB, should a converter be that talkative). */
export async function weightLoadProblemsInLog(logPath: string): Promise<WeightLoadProblem[]> {
  const handle = await open(logPath, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, MAX_LOG_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return weightLoadProblems(buffer.toString('utf8'));
  } finally {
    await handle.close();
  }
}
