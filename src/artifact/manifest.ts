import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { canonicalJson, sha256 } from '../cache/digest.js';
import { readContractFile } from '../contract.js';
import { PACKAGE_ROOT } from '../context.js';

// manifest.json: what an artifact is (every file with its sha256) and how to make it again (recipe,
// model, tools, steps). Defined once here; schema/manifest.schema.json is generated from it.

export const PHIFORGE_VERSION: string = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const FileEntry = z.strictObject({
  /** Relative to the artifact folder, with forward slashes. */
  path: z.string().min(1),
  size: z.number().int().min(0),
  sha256: Sha256,
});

/** The file that carries the source model's answers, which validation compares every device with. */
export const REFERENCE_FILE = 'reference.json';

/** Files phiforge keeps beside an artifact that are not part of it: they describe it. */
export const MANIFEST_FILE = 'manifest.json';
export const VALIDATION_DIR = 'validation';
/** What a Hub download adds (the model card, git attributes, huggingface_hub's local-dir metadata). */
const DESCRIPTIVE = [MANIFEST_FILE, 'README.md', '.gitattributes'];

/** Whether a file in an artifact folder is one that manifest.json must list. */
export function isArtifactFile(relative: string): boolean {
  const top = relative.split('/')[0];
  return !DESCRIPTIVE.includes(relative) && top !== VALIDATION_DIR && !top.startsWith('.');
}

const ToolchainRecord = z.strictObject({ lockDigest: Sha256, python: z.string(), installed: z.record(z.string(), z.string()) });
export type ToolchainRecord = z.output<typeof ToolchainRecord>;

export const Manifest = z
  .strictObject({
    schema: z.literal('phiforge.manifest/1'),
    phiforge: z.strictObject({ version: z.string() }),
    name: z.string(),
    description: z.string().optional(),
    backend: z.string(),
    pipeline: z.string(),
    recipe: z.strictObject({ file: z.string(), resolved: z.record(z.string(), z.unknown()) }),
    /** The model the artifact was made from: hub id + commit, a local folder or a generated preset, with every file's sha256. */
    model: z.looseObject({ source: z.enum(['hub', 'local', 'synthetic']), key: z.string(), files: z.array(FileEntry), override: z.string().optional() }),
    toolchains: z.record(z.string(), ToolchainRecord),
    steps: z.array(
      z.strictObject({
        id: z.string(),
        kind: z.string(),
        key: z.string(),
        reused: z.boolean(),
        command: z.string().optional(),
        cached_command: z.string().optional(),
        durationMs: z.number().min(0),
        facts: z.record(z.string(), z.unknown()).optional(),
      }),
    ),
    /** Every file of the artifact; what validation checks before it runs anything. */
    files: z.array(FileEntry).min(1),
  })
  .meta({ title: 'phiforge artifact manifest', description: 'What an artifact is (its files and their sha256) and how it was made.' });

export type Manifest = z.output<typeof Manifest>;
export type FileEntry = z.output<typeof FileEntry>;

/** One digest for the whole artifact: device results name the exact bytes they measured by it. */
export function filesDigest(files: FileEntry[]): string {
  return sha256(canonicalJson([...files].sort((a, b) => (a.path < b.path ? -1 : 1))));
}

export async function readManifest(artifactDir: string): Promise<Manifest> {
  return readContractFile(Manifest, path.join(artifactDir, MANIFEST_FILE), 'phiforge build', 'Give an artifact folder made by this phiforge version (`phiforge build <recipe>` makes one).');
}
