/**
 * The benchmark's pictures, rendered server-side with ECharts to SVG and from SVG to PNG with
 * resvg: throughput over time (one line per run) and latency by percentile (one line per run, the
 * percentile axis spread as in HdrHistogram plots: 90 %, 99 %, 99.9 % equally apart).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as echarts from 'echarts';
import { Resvg } from '@resvg/resvg-js';
import type { RunResult } from './bench-result.js';

const WIDTH_PX = 960;
const HEIGHT_PX = 520;
const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

export interface ChartFiles {
  readonly svg: string;
  readonly png: string;
}

/** Renders an ECharts option to an SVG string. */
export function renderSvg(option: echarts.EChartsCoreOption, widthPx = WIDTH_PX, heightPx = HEIGHT_PX): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: widthPx, height: heightPx });
  try {
    chart.setOption({ animation: false, backgroundColor: '#ffffff', textStyle: { fontFamily: FONT_FAMILY }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** Rasterizes an SVG to PNG bytes (system fonts, white background). */
export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { background: '#ffffff', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}

/** Writes `<dir>/<name>.svg` and `<dir>/<name>.png`. */
export function writeChart(dir: string, name: string, option: echarts.EChartsCoreOption): ChartFiles {
  mkdirSync(dir, { recursive: true });
  const svg = renderSvg(option);
  const files = { svg: join(dir, `${name}.svg`), png: join(dir, `${name}.png`) };
  writeFileSync(files.svg, svg);
  writeFileSync(files.png, svgToPng(svg));
  return files;
}

/** Timeline buckets averaged into one point of the throughput chart (4 x 250 ms = 1 s). */
const MOVING_AVERAGE_BUCKETS = 4;

/** A run's name in a legend: the chart's title already names the workload. */
export function seriesName(label: string): string {
  return label.replace(/^W\d\s+/, '').replace('ack before fsync (sync every 2 min)', 'sync every 2 min');
}

/** [seconds, rate] points: a moving average over the last second of buckets. */
function smoothedPoints(result: RunResult, unit: 'records/s' | 'MB/s'): Array<[number, number]> {
  const values = result.timeline.map((point) => (unit === 'records/s' ? point.recordsPerSecond : point.megabytesPerSecond));
  const points: Array<[number, number]> = [[0, 0]];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= MOVING_AVERAGE_BUCKETS) sum -= values[i - MOVING_AVERAGE_BUCKETS];
    points.push([result.timeline[i].atSeconds, sum / Math.min(i + 1, MOVING_AVERAGE_BUCKETS)]);
  }
  return points;
}

// Text is measured without a canvas here, a little short: a wide gap keeps the entries apart.
const LEGEND = { bottom: 4, left: 'center', width: WIDTH_PX - 60, itemGap: 40 };
const GRID = { left: 90, right: 40, top: 50, bottom: 125 };

/** Throughput over time of each run, in records/s or MB/s (1 s moving average of 250 ms buckets). */
export function throughputChartOption(title: string, results: readonly RunResult[], unit: 'records/s' | 'MB/s'): echarts.EChartsCoreOption {
  return {
    title: { text: title, left: 'center', textStyle: { fontSize: 15 } },
    legend: LEGEND,
    grid: GRID,
    xAxis: { type: 'value', name: 'seconds', nameLocation: 'middle', nameGap: 26, min: 0 },
    yAxis: { type: 'value', name: `${unit} (1 s average)`, nameLocation: 'middle', nameGap: 65, min: 0 },
    series: results.map((result) => ({
      name: seriesName(result.label),
      type: 'line',
      showSymbol: false,
      data: smoothedPoints(result, unit),
    })),
  };
}

/** x of a percentile on the chart: log10(1 / (1 - p)), so 90 -> 1, 99 -> 2, 99.9 -> 3. */
export function percentileAxisPosition(percentile: number): number {
  const remaining = Math.max(1e-6, 1 - percentile / 100);
  return Math.log10(1 / remaining);
}

/** Latency by percentile of each run that measured latency. */
export function latencyChartOption(title: string, results: readonly RunResult[]): echarts.EChartsCoreOption {
  const withLatency = results.filter((result) => result.latency !== null);
  const ticks = [0, 90, 99, 99.9, 99.99];
  return {
    title: { text: title, left: 'center', textStyle: { fontSize: 15 } },
    legend: LEGEND,
    grid: GRID,
    xAxis: {
      type: 'value',
      name: 'percentile',
      nameLocation: 'middle',
      nameGap: 26,
      min: 0,
      max: 4,
      interval: 1,
      axisLabel: { formatter: (value: number) => `${ticks[Math.round(value)] ?? ''}%` },
    },
    yAxis: { type: 'log', name: 'latency ms', nameLocation: 'middle', nameGap: 55, logBase: 10 },
    series: withLatency.map((result) => ({
      name: seriesName(result.label),
      type: 'line',
      showSymbol: true,
      symbolSize: 5,
      data: result.latency!.percentiles.filter((p) => p.percentile < 100 && p.percentile <= 99.99).map((p) => [percentileAxisPosition(p.percentile), Math.max(0.001, p.ms)]),
    })),
  };
}
