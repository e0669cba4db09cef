import { describeVerify, verifyArtifacts } from '../../app/verify.js';
import type { Context } from '../../context.js';
import { VerifyMismatchError } from '../../errors.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const reports = await verifyArtifacts(context, args.artifact as string[], { keep: Boolean(args.keep) });
  if (context.json) context.print(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
  else for (const report of reports) context.print(describeVerify(report));
  const failed = reports.find((report) => !report.identical);
  if (failed) {
    throw new VerifyMismatchError(failed.artifact, failed, [...failed.differing.map((file) => `${file} differs`), ...failed.missing.map((file) => `${file} missing`), ...failed.extra.map((file) => `${file} is new`), ...failed.changedInputs]);
  }
  return 0;
}
