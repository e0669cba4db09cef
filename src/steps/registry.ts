import { compileNpuBlob } from './compile-npu-blob.js';
import { modelSource } from './model-source.js';
import { openVinoBaseExport } from './openvino-base-export.js';
import { openVinoCalibrationStatistics } from './openvino-calibration.js';
import { optimumExportOpenVino } from './optimum-export-openvino.js';
import { ortGenaiBuild } from './ort-genai-build.js';
import { referenceAnswers } from './reference-answers.js';
import type { StepKind } from './types.js';

/** Step kinds a pipeline's `uses:` can name. */
export const STEP_KINDS: Record<string, StepKind> = {
  'model-source': modelSource,
  'openvino-base-export': openVinoBaseExport,
  'openvino-calibration-statistics': openVinoCalibrationStatistics,
  'optimum-export-openvino': optimumExportOpenVino,
  'compile-npu-blob': compileNpuBlob,
  'reference-answers': referenceAnswers,
  'ort-genai-build': ortGenaiBuild,
};
