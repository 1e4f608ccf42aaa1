// The dashboard's charts: a thin adapter over Apache ECharts (vendored: frontend/vendor/echarts/VERSION).
// Pages keep their data shapes and say what the axes mean in data attributes of the chart's element:
//   bars  [{label, value}]                         data-axis="time" when labels are dates (a day per bar)
//   lines {series: {name: [{x, y}]}, ymax?, threshold?}  x is a round or run number, drawn as a category
//         data.right: names of series drawn against a second y axis (a loss beside scores)
//   data-x-name / data-y-name / data-y2-name   axis titles;  data-x-prefix  put before each x label ("#" for runs)
import * as echarts from '../vendor/echarts/echarts.esm.min.js';

const COLORS = ['#2463eb', '#b42318', '#17803d', '#a15c07', '#6941c6', '#0e7490', '#be185d', '#4d7c0f'];
const INK = '#344054';
const MUTED = '#667085';
const DAY_MS = 86_400_000;

function number(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return Number.isInteger(value) ? value.toLocaleString('en') : (Math.round(value * 1000) / 1000).toString();
}

// an x axis's title sits under its labels; a y axis's above its top, running inwards from the axis
// (centred on it, it would stick out of the chart)
function axisName(name, location = 'end', align = 'left') {
  if (!name) return {};
  return location === 'middle'
    ? { name, nameLocation: 'middle', nameGap: 30, nameTextStyle: { color: MUTED } }
    : { name, nameLocation: 'end', nameGap: 10, nameTextStyle: { color: MUTED, align } };
}

const LEGEND_ROW = 22;
const LEGEND_ROWS_MAX = 5;
const FONT_PX = 12;
let measure = null;

// How many rows the legend's entries take when they wrap across the chart's width: the chart grows by
// that many rows, so every entry shows and none covers the plot. Past LEGEND_ROWS_MAX rows the legend
// becomes one scrollable row instead.
function legendRows(container, names, fontFamily) {
  measure ||= document.createElement('canvas').getContext('2d');
  measure.font = `${FONT_PX}px ${fontFamily}`;
  const width = container.clientWidth - 2 * 8 - 2 * 5;
  let rows = 1;
  let x = 0;
  for (const name of names) {
    const item = 14 + 5 + measure.measureText(name).width * 1.05 + 10;  // icon, gap, text, item gap
    if (x > 0 && x + item > width) { rows += 1; x = 0; }
    x += item;
  }
  return rows;
}

function base(container, { empty, legend = [], xTitle = false }) {
  const fontFamily = getComputedStyle(container).fontFamily;
  const rows = legend.length ? legendRows(container, legend, fontFamily) : 0;
  const scroll = rows > LEGEND_ROWS_MAX;
  const strip = scroll ? LEGEND_ROW : rows * LEGEND_ROW;
  return {
    strip,
    option: {
      color: COLORS,
      // the charts are read, not watched: a refresh must not replay an animation
      animation: false,
      aria: { enabled: true },
      textStyle: { fontFamily, color: INK, fontSize: FONT_PX },
      // containLabel keeps rotated and long axis labels inside the chart; the legend has its own strip below
      // (containLabel leaves out the x axis's title: it gets its own room)
      grid: { left: 12, right: 28, top: 36, bottom: strip + 12 + (xTitle ? 22 : 0), containLabel: true },
      tooltip: { trigger: 'axis', confine: true, valueFormatter: number, className: 'chart-tooltip' },
      legend: legend.length ? { type: scroll ? 'scroll' : 'plain', left: 8, right: 8, bottom: 2, itemGap: 10,
        icon: 'roundRect', itemWidth: 14, itemHeight: 8, pageIconSize: 10, textStyle: { color: INK } } : undefined,
      title: empty ? { text: 'No data yet', left: 'center', top: 'middle',
        textStyle: { color: MUTED, fontSize: 13, fontWeight: 'normal' } } : undefined,
    },
  };
}

function valueAxis(name, { ymax, integer, right } = {}) {
  return { type: 'value', max: ymax, minInterval: integer ? 1 : undefined, splitLine: { show: !right, lineStyle: { color: '#eef1f5' } },
    axisLabel: { formatter: number, hideOverlap: true }, ...axisName(name, 'end', right ? 'right' : 'left') };
}

const ROW_PX = 18;
const ROWS_FROM = 13;

// Bars: a day per bar on a time axis, or one bar per category. Up to a dozen categories stand side by
// side; more lie one per row with their names written in full, and the chart grows to hold the rows.
function bars(container, data, options) {
  const time = options.axis === 'time';
  const rows = !time && data.length >= ROWS_FROM;
  const integer = data.every((d) => Number.isInteger(d.value));
  const name = options.seriesName || options.yName || 'value';
  const shown = data.length > 0;
  const { option, strip } = base(container, { empty: !shown, xTitle: rows || Boolean(options.xName) });
  const values = data.map((d) => d.value);
  if (rows) {
    const height = data.length * ROW_PX + 80;
    return { strip: strip + Math.max(0, height - container.clientHeight), option: {
      ...option,
      tooltip: { ...option.tooltip, axisPointer: { type: 'shadow' } },
      yAxis: { type: 'category', data: data.map((d) => d.label), inverse: true, axisTick: { show: false },
        axisLabel: { interval: 0, width: 140, overflow: 'truncate' } },
      xAxis: { ...valueAxis(null, { integer }), ...axisName(options.yName, 'middle') },
      series: [{ type: 'bar', name, data: values, barMaxWidth: 14, itemStyle: { borderRadius: [0, 3, 3, 0] } }],
    } };
  }
  const xAxis = time
    ? { type: 'time', minInterval: DAY_MS, axisLabel: { hideOverlap: true, formatter: '{yyyy}-{MM}-{dd}' },
      // one day alone would have no extent; a day either side gives the bar a scale to stand on
      min: (v) => v.min - DAY_MS, max: (v) => v.max + DAY_MS, ...axisName(options.xName, 'middle') }
    : { type: 'category', data: data.map((d) => d.label), axisTick: { alignWithLabel: true },
      axisLabel: { interval: 0, hideOverlap: true, rotate: data.length > 6 ? 35 : 0, width: 110, overflow: 'truncate' },
      ...axisName(options.xName, 'middle') };
  return { strip, option: {
    ...option,
    tooltip: { ...option.tooltip, axisPointer: { type: 'shadow' } },
    xAxis: { ...xAxis, show: shown },
    yAxis: { ...valueAxis(options.yName, { integer }), show: shown },
    series: [{ type: 'bar', name, barMaxWidth: 28, itemStyle: { borderRadius: [3, 3, 0, 0] },
      data: time ? data.map((d) => [d.label, d.value]) : values }],
  } };
}

function lines(container, data, options) {
  const entries = Object.entries(data.series || {});
  const xs = [...new Set(entries.flatMap(([, points]) => points.map((p) => p.x)))].sort((a, b) => a - b);
  const prefix = options.xPrefix || '';
  // series named in data.right (a loss beside scores) get a second y axis with their own scale
  const right = new Set(data.right || []);
  const twoAxes = entries.some(([name]) => right.has(name));
  const series = entries.map(([name, points]) => {
    const at = new Map(points.map((p) => [p.x, p.y]));
    // every point carries a symbol, so a series seen in one round is a visible, hoverable marker
    return { type: 'line', name, data: xs.map((x) => (at.has(x) ? at.get(x) : null)), connectNulls: true,
      showSymbol: true, symbol: 'circle', symbolSize: 7, lineStyle: { width: 2, type: right.has(name) ? 'dashed' : 'solid' },
      emphasis: { focus: 'series' }, yAxisIndex: twoAxes && right.has(name) ? 1 : 0 };
  });
  if (data.threshold !== undefined && data.threshold !== null && series.length) {
    series[0].markLine = { silent: true, symbol: 'none', lineStyle: { color: '#888', type: 'dashed' },
      label: { formatter: `threshold ${data.threshold}`, position: 'insideEndTop', color: MUTED },
      data: [{ yAxis: data.threshold }] };
  }
  const { option, strip } = base(container, { empty: !xs.length, legend: series.map((x) => x.name),
    xTitle: Boolean(options.xName) });
  return { strip, option: {
    ...option,
    xAxis: { type: 'category', show: xs.length > 0, data: xs.map((x) => `${prefix}${x}`), boundaryGap: true, axisTick: { alignWithLabel: true },
      axisLabel: { hideOverlap: true }, ...axisName(options.xName, 'middle') },
    yAxis: (twoAxes
      ? [valueAxis(options.yName, { ymax: data.ymax }), valueAxis(options.y2Name, { right: true })]
      : [valueAxis(options.yName, { ymax: data.ymax })]).map((axis) => ({ ...axis, show: xs.length > 0 })),
    series,
  } };
}

const KINDS = { bar: bars, line: lines };

function draw(container) {
  const { kind, data, options } = container.chartArgs;
  // the builders see the height the stylesheet gives the chart; what they need more (a legend's
  // strip, rows of bars) is added to it
  container.style.height = '';
  const { option, strip } = KINDS[kind](container, data, { ...container.dataset, ...options });
  const height = container.clientHeight + strip;
  container.style.height = `${height}px`;
  const chart = echarts.getInstanceByDom(container) || echarts.init(container, null, { renderer: 'svg' });
  chart.resize();
  chart.setOption(option, { notMerge: true });
  return chart;
}

// Draw (or redraw, with new data) the chart of `kind` in `container`; returns the ECharts instance.
export function renderChart(container, kind, data, options = {}) {
  if (!KINDS[kind]) throw new Error(`unknown chart kind ${kind}`);
  container.chartArgs = { kind, data, options };
  const chart = draw(container);
  if (!container.chartObserved) {
    container.chartObserved = true;
    let width = container.clientWidth;
    // a new width may wrap the legend differently: lay the chart out again (a height change is ours)
    new ResizeObserver(() => {
      if (container.clientWidth !== width) { width = container.clientWidth; draw(container); }
    }).observe(container);
  }
  return chart;
}
