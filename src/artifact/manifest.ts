import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { canonicalJson, sha256 } from '../cache/digest.js';
import { artifactNameProblem } from '../cache/ownership.js';
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
/** The signed provenance of an artifact (src/artifact/provenance.ts): it vouches for the files, it is not one of them. */
export const PROVENANCE_FILE = 'provenance.json';
/** What a Hub download adds (the model card, git attributes, huggingface_hub's local-dir metadata), and the signature. */
const DESCRIPTIVE = [MANIFEST_FILE, 'README.md', '.gitattributes', PROVENANCE_FILE];

/** Whether a file in an artifact folder is one that manifest.json must list. */
export function isArtifactFile(relative: string): boolean {
  const top = relative.split('/')[0];
  return !DESCRIPTIVE.includes(relative) && top !== VALIDATION_DIR && !top.startsWith('.');
}

/**
 * The artifact's weight matrices (linear layers and embeddings) by the precision they are stored in,
 * read from its graph after the build. The 4-bit share is what was achieved, which differs from the
 * ratio a recipe asks for: NNCF assigns whole layers, and keeps the embedding and the output
 * projection in its backup precision.
 */
export const WeightPrecision = z.strictObject({
  four_bit: z.number().int().min(0),
  eight_bit: z.number().int().min(0),
  /** Kept in a float type (f16, f32, bf16). */
  other: z.number().int().min(0),
  /** four_bit over all three; what the int4_share_min gate checks. */
  int4_share: z.number().min(0).max(1),
  /** OpenVINO only: the 4-bit share over the layers NNCF's ratio is defined on (not the embedding, not the last layer). */
  ratio_achieved: z.number().min(0).max(1).optional(),
});
export type WeightPrecision = z.output<typeof WeightPrecision>;

/** The counts as the manifest records them; undefined when the graph has no weight matrix at all. */
export function weightPrecision(counts: { fourBit: number; eightBit: number; other: number; ratioAchieved?: number }): WeightPrecision | undefined {
  const total = counts.fourBit + counts.eightBit + counts.other;
  if (total === 0) return undefined;
  return {
    four_bit: counts.fourBit,
    eight_bit: counts.eightBit,
    other: counts.other,
    int4_share: counts.fourBit / total,
    ...(counts.ratioAchieved === undefined ? {} : { ratio_achieved: counts.ratioAchieved }),
  };
}

const ToolchainRecord = z.strictObject({ lockDigest: Sha256, python: z.string(), installed: z.record(z.string(), z.string()) });
export type ToolchainRecord = z.output<typeof ToolchainRecord>;

export const Manifest = z
  .strictObject({
    schema: z.literal('phiforge.manifest/1'),
    phiforge: z.strictObject({ version: z.string() }),
    // The name becomes paths (logs/<name>, runs/<name>-...): a manifest someone edited must not lead out of the cache.
    name: z.string().refine((name) => artifactNameProblem(name) === undefined, { error: (issue) => `not an artifact name: ${artifactNameProblem(String(issue.input))}` }),
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
    /** The weights by precision, read from the artifact's graph; absent for an artifact without one phiforge can read. */
    weights: WeightPrecision.optional(),
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
