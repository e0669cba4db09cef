import type { TopLevelSpec } from 'vega-lite';
import type { ArtifactRow } from './rows.js';

// The report's charts: vega-lite specs made from the rows, rendered to SVG in Node by vega's headless
// renderer, so that the page shows them with no script, no font and no network.

export interface ChartSpec {
  /** The id of the chart's <figure> in the page (tests and links find a chart by it). */
  id: string;
  title: string;
  /** What the chart shows and what it leaves out, in a sentence or two. */
  caption: string;
  spec: TopLevelSpec;
}

export interface Chart extends Omit<ChartSpec, 'spec'> {
  svg: string;
  /** What vega or vega-lite warned about while drawing it. */
  warnings: string[];
}

const WIDTH = 520;
const HEIGHT = 300;

/** "phi3-tiny-int4-ov on CPU" */
const pointName = (row: ArtifactRow) => `${row.artifact} on ${row.device}`;

/** The rows a chart leaves out, and why, for its caption: a report never drops a row in silence. */
function leftOut(rows: ArtifactRow[], plotted: ArtifactRow[], missing: string): string {
  const notValidated = rows.filter((row) => row.status === 'not validated').map((row) => row.artifact);
  const unmeasured = rows.filter((row) => row.status !== 'not validated' && !plotted.includes(row)).map(pointName);
  const parts = [
    ...(notValidated.length ? [`not validated: ${notValidated.join(', ')}`] : []),
    ...(unmeasured.length ? [`${missing}: ${unmeasured.join(', ')}`] : []),
  ];
  return parts.length ? ` Not plotted (${parts.join('; ')}).` : '';
}

interface Quality {
  key: 'similarity' | 'perplexityRatio';
  id: string;
  axis: string;
  name: string;
  /** What the figure is, for the caption (the axis title is kept short enough to fit beside the plot). */
  explained: string;
  /** Which way is closer to the source model. */
  better: 'up' | 'down';
}

const QUALITIES: Quality[] = [
  { key: 'similarity', id: 'chart-similarity-speed', axis: 'similarity (higher is closer)', name: 'similarity', explained: "Similarity: the mean cosine similarity of the sentence embeddings of the artifact's answers and the source model's.", better: 'up' },
  { key: 'perplexityRatio', id: 'chart-perplexity-speed', axis: 'perplexity ratio (lower is closer)', name: 'perplexity ratio', explained: "Perplexity ratio: the artifact's perplexity on the recipe's text over the source model's.", better: 'down' },
];

/** Quality against speed, one point per artifact x device: one chart per quality figure that was measured. */
function qualityCharts(rows: ArtifactRow[]): ChartSpec[] {
  return QUALITIES.flatMap((quality) => {
    const plotted = rows.filter((row) => row[quality.key] !== undefined && row.tokensPerS !== undefined);
    if (plotted.length === 0) return [];
    const values = plotted.map((row) => ({ artifact: row.artifact, device: row.device, tokens_per_s: row.tokensPerS, quality: row[quality.key] }));
    return [
      {
        id: quality.id,
        title: `${quality.name[0].toUpperCase()}${quality.name.slice(1)} against speed`,
        caption: `${quality.explained} One point per artifact and device; ${quality.better} and to the right is better: closer to the source model, and faster. An emulated device runs at the CPU's speed.${leftOut(rows, plotted, `no ${quality.name} or speed`)}`,
        spec: {
          width: WIDTH,
          height: HEIGHT,
          data: { values },
          encoding: {
            x: { field: 'tokens_per_s', type: 'quantitative', title: 'tokens per second (median)', scale: { zero: false, nice: true } },
            y: { field: 'quality', type: 'quantitative', title: quality.axis, scale: { zero: false, nice: true } },
          },
          layer: [
            {
              mark: { type: 'point', filled: true, size: 90 },
              encoding: {
                color: { field: 'artifact', type: 'nominal', title: 'artifact' },
                shape: { field: 'device', type: 'nominal', title: 'device' },
              },
            },
            // Named points stay readable in grey print, where the colours of the legend do not.
            { mark: { type: 'text', align: 'left', dx: 8, dy: -8, fontSize: 10 }, encoding: { text: { field: 'artifact' } } },
          ],
        },
      },
    ];
  });
}

/** Size on disk, one bar per artifact. */
function sizeChart(rows: ArtifactRow[]): ChartSpec {
  const artifacts = [...new Map(rows.map((row) => [row.artifact, row])).values()].sort((a, b) => b.sizeBytes - a.sizeBytes);
  const values = artifacts.map((row) => ({ artifact: row.artifact, mib: Math.round((row.sizeBytes / 2 ** 20) * 10) / 10 }));
  return {
    id: 'chart-size',
    title: 'Size on disk',
    caption: 'Every file of each artifact as its manifest lists it, in MiB.',
    spec: {
      width: WIDTH,
      height: { step: 24 },
      data: { values },
      encoding: {
        // Largest first, in the order of the values (a sort on the bars' length conflicts with the labels' layer).
        y: { field: 'artifact', type: 'nominal', sort: null, title: null },
        x: { field: 'mib', type: 'quantitative', title: 'size on disk, MiB' },
      },
      layer: [{ mark: { type: 'bar', color: '#4c78a8' } }, { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { text: { field: 'mib', type: 'quantitative' } } }],
    },
  };
}

/** TTFT at each prompt length of the latency sweep, a line per artifact x device; only when some artifact was swept. */
function sweepChart(rows: ArtifactRow[]): ChartSpec[] {
  const swept = rows.filter((row) => Object.keys(row.ttftByPromptTokens ?? {}).length > 0);
  if (swept.length === 0) return [];
  const values = swept.flatMap((row) => Object.entries(row.ttftByPromptTokens!).map(([tokens, ms]) => ({ series: pointName(row), prompt_tokens: Number(tokens), ttft_ms: ms })));
  return [
    {
      id: 'chart-ttft-sweep',
      title: 'Time to first token against prompt length',
      caption: `The latency sweep (validate.prompt_tokens): median TTFT of a full prefill at each prompt length.${leftOut(rows, swept, 'not swept')}`,
      spec: {
        width: WIDTH,
        height: HEIGHT,
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'prompt_tokens', type: 'quantitative', title: 'prompt length, tokens' },
          y: { field: 'ttft_ms', type: 'quantitative', title: 'time to first token, ms (median)' },
          color: { field: 'series', type: 'nominal', title: 'artifact on device' },
        },
      },
    },
  ];
}

/** Every chart the rows call for, in the order the page shows them. */
export function chartSpecs(rows: ArtifactRow[]): ChartSpec[] {
  return [...qualityCharts(rows), sizeChart(rows), ...sweepChart(rows)];
}

/** The plain look of every chart: white, sans-serif, readable on paper. */
const CONFIG = {
  background: 'white',
  font: 'sans-serif',
  view: { stroke: '#888' },
  // Artifact names are long, and a label cut short names nothing.
  axis: { labelColor: '#222', titleColor: '#222', gridColor: '#ddd', labelLimit: 360 },
  legend: { labelLimit: 360 },
} as const;

/** Renders charts to standalone SVG text, in Node, with no canvas and no network. */
export async function renderCharts(specs: ChartSpec[]): Promise<Chart[]> {
  const { vega, vegaLite } = await import('./vega.js');
  const charts: Chart[] = [];
  for (const { spec, ...chart } of specs) {
    const warnings: string[] = [];
    // Warnings become part of the result (the command shows them on stderr), never stray console output.
    const logger = vega.logger(vega.Warn);
    logger.warn = (...args: readonly unknown[]) => {
      warnings.push(args.map(String).join(' '));
      return logger;
    };
    const compiled = vegaLite.compile({ ...spec, config: { ...CONFIG, ...spec.config } } as TopLevelSpec, { logger }).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
    try {
      charts.push({ ...chart, svg: await view.toSVG(), warnings });
    } finally {
      view.finalize();
    }
  }
  return charts;
}
