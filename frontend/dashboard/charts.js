// Minimal SVG charts (no library, no build step): bar charts and multi-series line charts.
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2463eb', '#b42318', '#17803d', '#a15c07', '#6941c6', '#0e7490'];

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(container, width, height) {
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img' });
  container.replaceChildren(svg);
  return svg;
}

// data: [{label, value}]
function bars(container, data) {
  const width = 640; const height = 220; const pad = 36;
  const svg = frame(container, width, height);
  if (!data.length) { svg.append(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'no data yet')); return; }
  const max = Math.max(...data.map((d) => d.value), 1);
  const bw = (width - 2 * pad) / data.length;
  svg.setAttribute('aria-label', data.map((d) => `${d.label}: ${d.value}`).join(', '));
  data.forEach((d, i) => {
    const h = ((height - 2 * pad) * d.value) / max;
    const rect = el('rect', { x: pad + i * bw + 1, y: height - pad - h, width: Math.max(1, bw - 2), height: h, fill: COLORS[0] });
    rect.append(el('title', {}, `${d.label}: ${d.value}`));
    svg.append(rect);
    if (data.length <= 24) {
      svg.append(el('text', { x: pad + i * bw + bw / 2, y: height - pad + 12, 'font-size': 9, 'text-anchor': 'middle' }, d.label.slice(0, 10)));
    }
  });
  svg.append(el('text', { x: pad - 4, y: pad, 'font-size': 10, 'text-anchor': 'end' }, String(max)));
  svg.append(el('line', { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: '#999' }));
}

// data: {series: {name: [{x, y}]}, ymax?}
function lines(container, data) {
  const width = 640; const height = 240; const pad = 40;
  const svg = frame(container, width, height);
  const all = Object.values(data.series).flat();
  if (!all.length) { svg.append(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'no data yet')); return; }
  const xs = all.map((p) => p.x); const xmin = Math.min(...xs); const xmax = Math.max(...xs, xmin + 1);
  const ymax = data.ymax ?? Math.max(...all.map((p) => p.y), 1e-9);
  const sx = (x) => pad + ((width - 2 * pad) * (x - xmin)) / (xmax - xmin);
  const sy = (y) => height - pad - ((height - 2 * pad) * y) / ymax;
  Object.entries(data.series).forEach(([name, points], k) => {
    const color = COLORS[k % COLORS.length];
    svg.append(el('polyline', { points: points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }));
    points.forEach((p) => { const c = el('circle', { cx: sx(p.x), cy: sy(p.y), r: 3, fill: color }); c.append(el('title', {}, `${name} ${p.x}: ${p.y}`)); svg.append(c); });
    svg.append(el('text', { x: width - pad + 4, y: pad + 14 * k, 'font-size': 10, fill: color }, name));
  });
  if (data.threshold !== undefined) {
    svg.append(el('line', { x1: pad, y1: sy(data.threshold), x2: width - pad, y2: sy(data.threshold), stroke: '#888', 'stroke-dasharray': '4 3' }));
  }
  svg.append(el('text', { x: pad - 4, y: pad, 'font-size': 10, 'text-anchor': 'end' }, String(Math.round(ymax * 100) / 100)));
  svg.append(el('line', { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: '#999' }));
}

export function renderChart(container, kind, data) {
  if (kind === 'bar') bars(container, data);
  else if (kind === 'line') lines(container, data);
}
