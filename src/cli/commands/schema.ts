import { recipeJsonSchema } from '../../recipe/schema.js';

export async function printSchema(): Promise<void> {
  process.stdout.write(`${JSON.stringify(recipeJsonSchema(), null, 2)}\n`);
}
