/**
 * Stacked bar chart of refresh successes and failures per time bucket, as inline SVG.
 *
 * Failures sit on top of successes, drawn darker and hatched, so the two series read without
 * colour: by position, by pattern and by the legend. Exact values are in the widget's table.
 */

import { svg } from './dom.js';

const HEIGHT = 184;
const MARGIN = { top: 10, right: 8, bottom: 26, left: 46 };
// A non-zero segment is drawn at least this tall so that one failure among thousands of
// successes stays visible; the table gives the exact numbers.
const MIN_SEGMENT_PX = 2;
const MINUTE_TICK_STEPS = [1, 2, 5, 10, 15, 30, 60];
const HOUR_TICK_STEPS = [1, 2, 3, 6, 12];
const DAY_TICK_STEPS = [1, 2];

let chartCount = 0;

/** Returns the smallest "round" step (1, 2 or 5 times a power of ten) of at least `rough`. */
function niceStep(rough) {
  if (rough <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const factor of [1, 2, 5, 10]) {
    if (factor * power >= rough) return factor * power;
  }
  return 10 * power;
}

/** Returns the y-axis ticks: 0 up to a round maximum at or above `maxValue`. */
export function yTicks(maxValue, intervals = 4) {
  const step = niceStep(Math.max(maxValue, 1) / intervals);
  const top = step * Math.max(1, Math.ceil(maxValue / step));
  const ticks = [];
  for (let value = 0; value <= top; value += step) ticks.push(value);
  return ticks;
}

/**
 * Picks the indexes of the points that get an x-axis label, aligned on round local times,
 * with at most one label per `labelWidth` pixels.
 */
function xTickIndexes(points, stepSeconds, band, labelWidth) {
  const maxLabels = Math.max(1, Math.floor((points.length * band) / labelWidth));
  const byDay = stepSeconds >= 3600 && points.length > 48;
  const steps = stepSeconds < 3600 ? MINUTE_TICK_STEPS : byDay ? DAY_TICK_STEPS : HOUR_TICK_STEPS;

  const candidates = (every) =>
    points.flatMap((point, index) => {
      const date = new Date(point.start * 1000);
      if (byDay) {
        const localDay = Math.floor((point.start - date.getTimezoneOffset() * 60) / 86400);
        return date.getHours() === 0 && localDay % every === 0 ? [index] : [];
      }
      const unit = stepSeconds < 3600 ? date.getMinutes() : date.getHours();
      return unit % every === 0 ? [index] : [];
    });

  for (const every of steps) {
    const indexes = candidates(every);
    if (indexes.length <= maxLabels) return indexes;
  }
  return candidates(steps[steps.length - 1]).filter((_, i) => i % 2 === 0);
}

/**
 * Builds the chart SVG.
 *
 * @param {{stepSeconds: number, points: Array<{start: number, success: number, failure: number}>}} series
 * @param {{width: number, partialFrom: number, formatCount: (n: number) => string,
 *   formatTick: (date: Date, byDay: boolean) => string, describeBar: (point: object) => string,
 *   label: string}} options
 */
export function buildChart(series, options) {
  const { points, stepSeconds } = series;
  const width = Math.max(240, Math.floor(options.width));
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const band = plotWidth / Math.max(points.length, 1);
  const barWidth = band >= 4 ? Math.max(1, band * 0.72) : band;
  const ticks = yTicks(Math.max(0, ...points.map((p) => p.success + p.failure)));
  const yMax = ticks[ticks.length - 1];
  const y = (value) => MARGIN.top + plotHeight - (value / yMax) * plotHeight;
  const patternId = `smw-hatch-${++chartCount}`;

  const root = svg('svg', {
    class: 'chart-svg',
    width,
    height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'img',
    'aria-label': options.label,
  });
  root.append(hatchPattern(patternId));

  const grid = svg('g', { class: 'chart-grid', 'aria-hidden': 'true' });
  for (const value of ticks) {
    grid.append(
      svg('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(value), y2: y(value) }),
      svg('text', {
        x: MARGIN.left - 6,
        y: y(value),
        dy: '0.32em',
        'text-anchor': 'end',
        text: options.formatCount(value),
      }),
    );
  }
  root.append(grid);

  const bars = svg('g', { class: 'chart-bars' });
  points.forEach((point, index) => {
    const x = MARGIN.left + index * band + (band - barWidth) / 2;
    const successHeight = segmentHeight(point.success, yMax, plotHeight);
    const failureHeight = segmentHeight(point.failure, yMax, plotHeight);
    const base = MARGIN.top + plotHeight;
    const partial = point.start + stepSeconds > options.partialFrom;
    const group = svg('g', { class: partial ? 'bar is-partial' : 'bar' }, [
      svg('title', { text: options.describeBar(point, partial) }),
      svg('rect', {
        class: 'bar-hit',
        x: MARGIN.left + index * band,
        y: MARGIN.top,
        width: band,
        height: plotHeight,
      }),
    ]);
    if (successHeight > 0) {
      group.append(
        svg('rect', {
          class: 'bar-success',
          x,
          y: base - successHeight,
          width: barWidth,
          height: successHeight,
        }),
      );
    }
    if (failureHeight > 0) {
      group.append(
        svg('rect', {
          class: 'bar-failure',
          x,
          y: base - successHeight - failureHeight,
          width: barWidth,
          height: failureHeight,
          fill: `url(#${patternId})`,
        }),
      );
    }
    bars.append(group);
  });
  root.append(bars);

  root.append(xAxis(points, stepSeconds, band, width, options.formatTick));
  return root;
}

function segmentHeight(value, yMax, plotHeight) {
  if (value <= 0) return 0;
  return Math.max(MIN_SEGMENT_PX, (value / yMax) * plotHeight);
}

function hatchPattern(id) {
  return svg('defs', {}, [
    svg(
      'pattern',
      {
        id,
        width: 6,
        height: 6,
        patternUnits: 'userSpaceOnUse',
        patternTransform: 'rotate(45)',
      },
      [
        svg('rect', { class: 'hatch-fill', width: 6, height: 6 }),
        svg('line', { class: 'hatch-line', x1: 0, y1: 0, x2: 0, y2: 6 }),
      ],
    ),
  ]);
}

function xAxis(points, stepSeconds, band, width, formatTick) {
  const baseline = HEIGHT - MARGIN.bottom;
  const byDay = stepSeconds >= 3600 && points.length > 48;
  const axis = svg('g', { class: 'chart-axis', 'aria-hidden': 'true' }, [
    svg('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: baseline, y2: baseline }),
  ]);
  for (const index of xTickIndexes(points, stepSeconds, band, byDay ? 64 : 52)) {
    const x = MARGIN.left + (index + 0.5) * band;
    const label = formatTick(new Date(points[index].start * 1000), byDay);
    const anchor =
      x < MARGIN.left + 24 ? 'start' : x > width - MARGIN.right - 24 ? 'end' : 'middle';
    axis.append(
      svg('line', { x1: x, x2: x, y1: baseline, y2: baseline + 4 }),
      svg('text', { x, y: baseline + 17, 'text-anchor': anchor, text: label }),
    );
  }
  return axis;
}
