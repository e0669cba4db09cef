import { trustedKeys } from '../../artifact/keys.js';
import { checkArtifactTrust, describeTrust, trustJson } from '../../app/trust.js';
import { describeVerify, summarizeDifference, verifyArtifacts } from '../../app/verify.js';
import type { Context } from '../../context.js';
import { VerifyMismatchError } from '../../errors.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  // Key files are read first: a bad one is bad input (exit 2) before any artifact is looked at.
  const trusted = await trustedKeys(args['require-signature'] as string[] | undefined);
  if (args.rebuild === false) return checkOnly(context, args.artifact as string[], trusted);
  const reports = await verifyArtifacts(context, args.artifact as string[], { keep: Boolean(args.keep), trusted });
  const outcome = reports.length === 1 ? reports[0] : reports;
  if (!context.json) for (const report of reports) context.print(describeVerify(report));
  const failed = reports.find((report) => !report.identical);
  if (failed) {
    // With --json the error is the one document on stdout, and it carries every report: nothing is printed before it.
    throw new VerifyMismatchError(failed.artifact, outcome, [...failed.differing.map((file) => summarizeDifference(failed, file)), ...failed.missing.map((file) => `${file} missing`), ...failed.extra.map((file) => `${file} is new`), ...failed.changedInputs]);
  }
  if (context.json) context.print(JSON.stringify(outcome, null, 2));
  return 0;
}

/**
 * `verify --no-rebuild`: each folder's files against its manifest and its signatures, nothing more.
 * It reads the artifact folders only: no cache, no venv, no converter (seconds, on any machine).
 */
async function checkOnly(context: Context, artifacts: string[], trusted: Awaited<ReturnType<typeof trustedKeys>>): Promise<number> {
  const checks = [];
  for (const artifact of artifacts) checks.push(await checkArtifactTrust(artifact, { trusted }));
  if (context.json) {
    const documents = checks.map((check) => ({ ...trustJson(check), rebuilt: false }));
    context.print(JSON.stringify(documents.length === 1 ? documents[0] : documents, null, 2));
    return 0;
  }
  for (const check of checks) {
    context.print([`${check.artifact}: ${check.files} file(s) match manifest.json (not rebuilt: --no-rebuild)`, ...describeTrust(check).map((line) => `  ${line}`)].join('\n'));
  }
  return 0;
}
