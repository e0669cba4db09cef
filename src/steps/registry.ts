import { modelSource } from './model-source.js';
import { optimumExportOpenVino } from './optimum-export-openvino.js';
import type { StepKind } from './types.js';

/** Step kinds a pipeline's `uses:` can name. */
export const STEP_KINDS: Record<string, StepKind> = {
  'model-source': modelSource,
  'optimum-export-openvino': optimumExportOpenVino,
};
