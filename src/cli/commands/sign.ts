import path from 'node:path';
import { readSigningKey } from '../../artifact/keys.js';
import { signArtifact } from '../../app/sign.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  // The key first: a bad one is bad input (exit 2) before a byte of the artifact is read.
  const key = await readSigningKey(String(args.key), '--key');
  const signed = await signArtifact(String(args.artifact), key);
  const file = path.relative(process.cwd(), signed.file) || signed.file;
  if (context.json) context.print(JSON.stringify({ ok: true, artifact: signed.artifact, provenance: file, key_id: signed.keyId, subjects: signed.subjects }, null, 2));
  else context.print(`signed ${signed.artifact} with ${signed.keyId}: ${file} names ${signed.subjects} files (manifest.json and every file it lists) with their sha256`);
  return 0;
}
