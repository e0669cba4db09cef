import { rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { builderExtraOptions } from '../backends/ort-genai.js';
import { cachePath } from '../context.js';
import { toolchainScript } from '../toolchain/definition.js';
import { runJsonScript } from '../toolchain/script.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

const DataCheckResult = z.object({ problems: z.array(z.string()) });

const MODEL_LINK = 'model';

/** Hugging Face checkpoint -> ONNX Runtime GenAI model with onnxruntime-genai's model builder. */
export const ortGenaiBuild: StepKind = {
  async plan(input) {
    const { recipe } = input.recipe;
    const modelDir = input.upstream[input.definition.needs[0]].outDir;
    const checkScript = toolchainScript(input.toolchain!, 'check_onnx_data.py');
    const precision = recipe.quantization.weight_format;
    const provider = recipe.ort.execution_provider;
    // The builder stamps model.onnx with the git HEAD of whatever repository holds its venv (the cache
    // may sit inside one); a ceiling at the venvs' folder keeps the bytes independent of that. The
    // key reads the folder as <cache>/toolchains, so where the cache lives does not enter it.
    const env = { HF_HUB_OFFLINE: '1', GIT_CEILING_DIRECTORIES: cachePath(input.context, 'toolchains') };
    return planCommandStep(input, `onnxruntime-genai model builder (${precision}, ${provider})`, {
      params: { precision, provider, extra_options: builderExtraOptions(recipe) },
      scripts: [checkScript],
      env,
      prepare: async (workDir) => {
        await rm(path.join(workDir, MODEL_LINK), { force: true });
        await symlink(modelDir, path.join(workDir, MODEL_LINK));
      },
      command: ({ python, workDir }) => ({
        argv: [python, '-m', 'onnxruntime_genai.models.builder', '-i', MODEL_LINK, '-o', 'out', '-p', precision, '-e', provider, '-c', 'builder-cache', '--extra_options', ...builderExtraOptions(recipe)],
        env,
        cwd: workDir,
        links: { [MODEL_LINK]: modelDir },
      }),
      // Every external tensor must lie inside model.onnx.data: a cut-short file only fails at load time.
      verify: async (outDir, { python }) => (await runJsonScript(python, checkScript, { model_dir: outDir }, DataCheckResult)).problems,
      verifyHint: 'The builder finished but its output is incomplete; the step log shows what it did.',
    });
  },
};
