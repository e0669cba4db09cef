import { round, targetLabel, type ValidationReport } from '../validate/evaluate.js';

/** A compact per-target table for the terminal; emulated devices are labelled as such on every line. */
export function validationTable(report: ValidationReport): string {
  // The perplexity column only when the recipe asked for it, so the usual table stays narrow.
  const withPerplexity = report.targets.some((target) => target.perplexity);
  const header = ['target', 'status', 'TTFT ms', 'TPOT ms', 'tok/s', 'load ms', 'RSS MiB', 'similarity', 'match tok', 'identical', ...(withPerplexity ? ['ppl ratio'] : [])];
  const rows = report.targets.map((target) => {
    const label = targetLabel(target);
    if (!target.figures) return [label, target.status === 'skipped' ? `skipped: ${target.reason}` : `${target.status}: ${target.reason}`];
    const figures = target.figures;
    const agreement = target.agreement;
    return [
      label,
      target.status,
      `${round(figures.ttft_ms.median)} (${round(figures.ttft_ms.min)}-${round(figures.ttft_ms.max)})`,
      `${round(figures.tpot_ms.median)}`,
      `${round(figures.tokens_per_s.median)}`,
      `${Math.round(figures.load_ms)}`,
      `${Math.round(figures.peak_rss_mb)}`,
      agreement?.similarity_mean == null ? '-' : agreement.similarity_mean.toFixed(3),
      agreement ? `${round(agreement.match_tokens_mean)}` : '-',
      agreement ? `${agreement.identical}/${agreement.prompts}` : '-',
      ...(withPerplexity ? [perplexityCell(target.perplexity)] : []),
    ];
  });
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => (row.length > 2 || column < 2 ? (row[column] ?? '').length : 0))));
  const format = (row: string[]) => (row.length === 2 ? `${row[0].padEnd(widths[0])}  ${row[1]}` : row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd());
  const lines = [`${report.recipe} · ${report.backend} · ${report.passed ? 'passed' : 'FAILED'}`, format(header), ...rows.map(format)];
  for (const point of report.measured ?? []) {
    if (point.reused) lines.push(`  ${point.device}: measured ${point.at} on ${point.host}, for these exact files (\`phiforge validate\` measures again)`);
  }
  for (const target of report.targets) {
    for (const sweep of target.figures?.sweep ?? []) {
      lines.push(`  ${targetLabel(target)}: ${sweep.prompt_tokens}-token prompt: TTFT ${round(sweep.ttft_ms.median)} ms (${round(sweep.ttft_ms.min)}-${round(sweep.ttft_ms.max)}), TPOT ${round(sweep.tpot_ms.median)} ms`);
    }
  }
  for (const target of report.targets) {
    if (target.structural) lines.push(`  ${targetLabel(target)}: ${target.reason}`);
    if (target.cpu_agreement) {
      lines.push(`  ${target.device} (emulated): same tokens as the plain CPU pipeline on ${target.cpu_agreement.identical}/${target.cpu_agreement.prompts} prompt(s); its latency is the CPU's, not an NPU's`);
    }
  }
  for (const target of report.targets) {
    if (target.perplexity) {
      const { artifact, reference, problem } = target.perplexity;
      lines.push(`  ${targetLabel(target)}: perplexity ${artifact.toFixed(3)} against the source model's ${reference.toFixed(3)}${problem ? ` (no ratio: ${problem})` : ''}`);
    }
  }
  for (const target of report.targets) {
    const long = target.long_context;
    if (!long) continue;
    const where = `${targetLabel(target)}: long context of ${long.prompt_tokens} tokens (original ${long.original_max_position_embeddings})`;
    if (long.skipped) lines.push(`  ${where}: not run: ${long.skipped}`);
    else {
      const show = (value: number | null | undefined) => (value == null ? '-' : `${round(value)}`);
      lines.push(`  ${where}: logits correlate ${show(long.logit_correlation)} with the source model's (${show(long.inside_correlation)} inside it), ${long.match_tokens}/${long.reference_tokens} tokens match`);
    }
  }
  for (const failure of report.failures) lines.push(`  ✗ ${failure}`);
  return lines.join('\n');
}

function perplexityCell(perplexity: ValidationReport['targets'][number]['perplexity']): string {
  return perplexity?.ratio == null ? '-' : perplexity.ratio.toFixed(3);
}

/** Several recipes' figures in one table: the same model on two backends side by side. */
export function comparisonTable(reports: ValidationReport[]): string {
  const withPerplexity = reports.some((report) => report.targets.some((target) => target.perplexity));
  const header = ['recipe', 'backend', 'target', 'TTFT ms', 'TPOT ms', 'tok/s', 'RSS MiB', 'similarity', 'match tok', ...(withPerplexity ? ['ppl ratio'] : [])];
  const rows = reports.flatMap((report) =>
    report.targets
      .filter((target) => target.figures)
      .map((target) => [
        report.recipe,
        report.backend,
        targetLabel(target),
        `${round(target.figures!.ttft_ms.median)}`,
        `${round(target.figures!.tpot_ms.median)}`,
        `${round(target.figures!.tokens_per_s.median)}`,
        `${Math.round(target.figures!.peak_rss_mb)}`,
        target.agreement?.similarity_mean == null ? '-' : target.agreement.similarity_mean.toFixed(3),
        target.agreement ? `${round(target.agreement.match_tokens_mean)}` : '-',
        ...(withPerplexity ? [perplexityCell(target.perplexity)] : []),
      ]),
  );
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  return ['side by side:', ...[header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd())].join('\n');
}

/** JUnit XML: a test suite per recipe, a test case per target x check, for CI dashboards. */
export async function validationJunit(reports: ValidationReport[]): Promise<string> {
  const suites = reports.map((report) => {
    const cases = report.targets.flatMap((target) => {
      const classname = `${report.recipe}.${target.device}${target.emulated ? '.emulated' : ''}${target.structural ? '.structural' : ''}`;
      const caseOf = (name: string, outcome: { failure?: string; skipped?: string }, output?: string) => ({
        '@_name': name,
        '@_classname': classname,
        ...(outcome.failure !== undefined ? { failure: { '@_message': outcome.failure, '#text': outcome.failure } } : {}),
        ...(outcome.skipped !== undefined ? { skipped: { '@_message': outcome.skipped } } : {}),
        ...(output ? { 'system-out': output } : {}),
      });
      if (!target.figures) {
        return [caseOf(`${target.device} device`, target.status === 'failed' ? { failure: target.reason ?? 'device missing' } : { skipped: target.reason ?? 'skipped' })];
      }
      return [
        ...target.prompts.flatMap((prompt) => [
          ...prompt.checks.map((check) => caseOf(`${prompt.id} ${check.name}`, check.passed ? {} : { failure: check.detail }, prompt.text)),
          ...(prompt.reference
            ? [caseOf(`${prompt.id} reference agreement`, {}, `similarity ${prompt.reference.similarity ?? '-'}, ${prompt.reference.match_tokens}/${prompt.reference.reference_tokens} tokens match before divergence`)]
            : []),
        ]),
        ...(target.checks ?? []).map((check) => caseOf(check.name, check.passed ? {} : { failure: check.detail }, check.passed ? check.detail : undefined)),
        ...target.gates.map((gate) =>
          caseOf(`gate ${gate.gate}${gate.prompt_tokens ? `@${gate.prompt_tokens}` : ''}`, gate.passed ? {} : { failure: `measured ${gate.value === null ? 'nothing' : round(gate.value)} ${gate.unit}, limit ${gate.gate.endsWith('_max') ? '<=' : '>='} ${gate.limit} ${gate.unit}`.replace(/ +/g, ' ').trim() }),
        ),
      ];
    });
    return {
      '@_name': report.recipe,
      '@_tests': cases.length,
      '@_failures': cases.filter((testCase) => 'failure' in testCase).length,
      '@_skipped': cases.filter((testCase) => 'skipped' in testCase).length,
      testcase: cases,
    };
  });
  const { XMLBuilder } = await import('fast-xml-parser');
  const builder = new XMLBuilder({ ignoreAttributes: false, format: true, suppressEmptyNode: true });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ testsuites: { '@_name': 'phiforge validate', testsuite: suites } })}`;
}
