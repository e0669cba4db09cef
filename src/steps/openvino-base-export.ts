import { rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { chooseExportPath } from '../backends/openvino.js';
import { canonicalJson, sha256 } from '../cache/digest.js';
import { toolchainScript } from '../toolchain/definition.js';
import { planCommandStep } from './command-step.js';
import type { PlanInput, StepKind } from './types.js';

/** optimum records the model argument verbatim (openvino_config.json): a relative link keeps bytes machine-independent. */
export const MODEL_LINK = 'model';

export async function linkModel(workDir: string, modelDir: string, name = MODEL_LINK): Promise<void> {
  await rm(path.join(workDir, name), { force: true });
  await symlink(modelDir, path.join(workDir, name));
}

/**
 * The PyTorch -> OpenVINO conversion every variant of a model shares (the slow part of optimum-cli):
 * traced once in the checkpoint's own dtype, uncompressed. Its key depends on the model, not on the
 * quantization, so FP16, INT4 and INT8 recipes of one model reuse one entry. This step also decides,
 * from the recipe alone (backends/openvino.ts chooseExportPath), whether the recipe uses it; when it
 * does not, it is a placeholder and the export step runs optimum-cli in one pass.
 */
export const openVinoBaseExport: StepKind = {
  async plan(input) {
    const { recipe } = input.recipe;
    const modelStep = input.upstream[input.definition.needs[0]];
    const decision = chooseExportPath(recipe);
    if (decision.path === 'shared') {
      const shared = await planShared(input, modelStep.outDir);
      return { ...shared, summary: `${shared.summary} (${decision.why})`, resolves: { export: 'shared' } };
    }
    return {
      id: input.definition.id,
      kind: input.definition.uses,
      needs: input.definition.needs,
      // The export step's key takes this one as an input: it names the path, beside the export's own command.
      key: sha256(canonicalJson({ kind: input.definition.uses, export: 'direct' })),
      summary: `no shared conversion: ${decision.why}`,
      outDir: modelStep.outDir,
      resolves: { export: 'direct' },
      work: { materialize: async () => ({ dir: modelStep.outDir, files: [], facts: { export: 'direct', why: decision.why }, reused: true, durationMs: 0 }) },
    };
  },
};

function planShared(input: PlanInput, modelDir: string) {
  const { recipe } = input.recipe;
  const script = toolchainScript(input.toolchain!, 'export_base.py');
  const env = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };
  return planCommandStep(input, 'convert the PyTorch model to an uncompressed OpenVINO IR once, for every variant', {
    params: { task: 'text-generation-with-past', trust_remote_code: recipe.model.trust_remote_code },
    scripts: [script],
    env,
    prepare: (workDir) => linkModel(workDir, modelDir),
    requestFiles: (workDir) => ({ 'request.json': JSON.stringify({ model: MODEL_LINK, output_dir: path.join(workDir, 'out'), trust_remote_code: recipe.model.trust_remote_code }) }),
    command: ({ python, workDir }) => ({ argv: [python, script, '--request', 'request.json', '--result', 'result.json'], cwd: workDir, links: { [MODEL_LINK]: modelDir } }),
  });
}
