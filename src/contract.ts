import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ContractError } from './errors.js';

// zod compiles a fast path for each schema the first time it parses with it; phiforge parses a few
// documents per run, for which compiling costs more than it saves (a fifth of a no-op build).
z.config({ jitless: true });

// Files that one program writes and another reads (a runner's runs.json, an artifact's manifest) are
// checked against their zod schema when read, so a missing or mistyped field is reported by name at
// the seam instead of surfacing later as `undefined` somewhere else.

/** `targets[0].prompts[1].runs`: the path of a field as users and schema files spell it. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

export function parseContract<S extends z.ZodType>(schema: S, data: unknown, file: string, writer: string, hint?: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 12).map((issue) => ({ field: fieldPath(issue.path), message: issue.message }));
  throw new ContractError(file, writer, problems, hint);
}

/** Reads a JSON file and checks it against its contract; an unreadable or non-JSON file is a violation too. */
export async function readContractFile<S extends z.ZodType>(schema: S, file: string, writer: string, hint?: string): Promise<z.output<S>> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file is missing' : `not readable as JSON (${(error as Error).message})`;
    throw new ContractError(file, writer, [{ field: '', message: reason }], hint);
  }
  return parseContract(schema, data, file, writer, hint);
}
