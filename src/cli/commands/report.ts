import { makeReport } from '../../app/report.js';
import type { Context } from '../../context.js';
import { appendStepSummary } from '../actions.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const report = await makeReport(args.artifact as string[], { html: args.html as string | undefined, md: args.md as string | undefined });
  for (const warning of report.warnings) context.say(`warning: ${warning}`);
  if (context.json) context.print(JSON.stringify({ ok: true, ...report }, null, 2));
  else context.print(report.markdown);
  // In GitHub Actions the table is also the step's summary.
  await appendStepSummary(report.markdown);
  const rows = `${report.rows.length} row${report.rows.length === 1 ? '' : 's'}`;
  if (report.html) context.say(`wrote ${report.html}: ${rows}, charts: ${report.charts.join(', ')}`);
  if (report.md) context.say(`wrote ${report.md}: ${rows}`);
  return 0;
}
