import { z } from 'zod';
import { recipeSchema, type BaseRecipe } from '../recipe/schema.js';
import { openVino, type NpuSettings } from './openvino.js';
import { ortGenai, type OrtSettings } from './ort-genai.js';
import type { Backend } from './types.js';

/** Every backend phiforge knows; a pipeline names one in `backend:`. */
export const BACKENDS: readonly Backend[] = [openVino, ortGenai];

export function findBackend(name: string): Backend | undefined {
  return BACKENDS.find((backend) => backend.name === name);
}

/** The backend a device name belongs to, for reports that only have the device. */
export function backendOfDevice(device: string): Backend | undefined {
  return BACKENDS.find((backend) => backend.acceptsDevice(device));
}

export type Recipe = BaseRecipe & { npu: NpuSettings; ort: OrtSettings };

/**
 * The recipe format: the keys every recipe shares plus every backend's own section. Composed from
 * the registry at run time, so its static type is stated here (each backend exports its section's).
 */
export const RecipeSchema = recipeSchema(Object.assign({}, ...BACKENDS.map((backend) => backend.sections)), {
  hint: BACKENDS.map((backend) => backend.devicesHint).join(' '),
  accepts: (device) => BACKENDS.some((backend) => backend.acceptsDevice(device)),
}) as unknown as z.ZodType<Recipe>;

export function recipeJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RecipeSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
