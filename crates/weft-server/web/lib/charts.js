// Charts as inline SVG (no library). Each returns an <svg role="img"> with a <title> and aria-label
// summarising the data, and a <title> per bar or point for hover tooltips. Sizes are in viewBox units;
// the SVG scales to its container's width.
//
//   barChart(data: [{label, value}], {title, width, height, format, horizontal})
//   histogram(bins: [{from, to, count}], {title, width, height, format})
//   lineChart(points: [{x, y}], {title, width, height, xFormat, yFormat, area})
//   sparkline(values: number[], {title, width, height})

import { svg } from './dom.js';

const fmt = (v) => (typeof v === 'number' ? new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(v) : String(v));

function frame(title, width, height, summary) {
  return svg('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary ? `${title}. ${summary}` : title,
    preserveAspectRatio: 'xMidYMid meet',
  }, svg('title', null, title));
}

function niceMax(max) {
  if (max <= 0) return 1;
  const pow = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * pow >= max) return step * pow;
  return 10 * pow;
}

function truncate(text, n) {
  const s = String(text);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function barChart(data, { title = 'Bar chart', width = 360, height, format = fmt } = {}) {
  // Horizontal bars: labels (often long category values) stay readable on narrow screens.
  const rowH = 22;
  const h = height || Math.max(40, data.length * rowH + 8);
  const labelW = Math.min(140, Math.round(width * 0.38));
  const valueW = 56;
  const max = Math.max(0, ...data.map((d) => Number(d.value) || 0));
  const summary = data.slice(0, 5).map((d) => `${d.label}: ${format(d.value)}`).join(', ');
  const root = frame(title, width, h, summary);
  data.forEach((d, i) => {
    const y = 4 + i * rowH;
    const w = max > 0 ? ((width - labelW - valueW) * (Number(d.value) || 0)) / max : 0;
    root.appendChild(svg('text', { x: labelW - 6, y: y + 14, 'text-anchor': 'end' }, truncate(d.label, 22)));
    root.appendChild(svg('rect', { class: 'chart__bar', x: labelW, y: y + 3, width: Math.max(1, w), height: rowH - 8, rx: 3 },
      svg('title', null, `${d.label}: ${format(d.value)}`)));
    root.appendChild(svg('text', { x: labelW + Math.max(1, w) + 5, y: y + 14 }, format(d.value)));
  });
  return root;
}

export function histogram(bins, { title = 'Histogram', width = 360, height = 140, format = fmt } = {}) {
  const pad = { top: 8, right: 8, bottom: 22, left: 36 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...bins.map((b) => b.count)));
  const total = bins.reduce((sum, b) => sum + b.count, 0);
  const summary = bins.length ? `${total} values from ${format(bins[0].from)} to ${format(bins[bins.length - 1].to)}` : 'no values';
  const root = frame(title, width, height, summary);
  root.appendChild(svg('line', { class: 'chart__axis', x1: pad.left, x2: width - pad.right, y1: pad.top + innerH, y2: pad.top + innerH }));
  root.appendChild(svg('text', { x: pad.left - 4, y: pad.top + 8, 'text-anchor': 'end' }, fmt(max)));
  root.appendChild(svg('text', { x: pad.left - 4, y: pad.top + innerH, 'text-anchor': 'end' }, '0'));
  const bw = bins.length ? innerW / bins.length : innerW;
  bins.forEach((b, i) => {
    const bh = (innerH * b.count) / max;
    root.appendChild(svg('rect', { class: 'chart__bar', x: pad.left + i * bw + 1, y: pad.top + innerH - bh, width: Math.max(1, bw - 2), height: bh, rx: 2 },
      svg('title', null, `${format(b.from)} – ${format(b.to)}: ${b.count}`)));
  });
  if (bins.length) {
    root.appendChild(svg('text', { x: pad.left, y: height - 6 }, format(bins[0].from)));
    root.appendChild(svg('text', { x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, format(bins[bins.length - 1].to)));
  }
  return root;
}

export function lineChart(points, { title = 'Line chart', width = 520, height = 160, xFormat = fmt, yFormat = fmt, area = true } = {}) {
  const pad = { top: 10, right: 10, bottom: 24, left: 40 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const xs = points.map((p) => p.x);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const maxY = niceMax(Math.max(0, ...points.map((p) => p.y)));
  const total = points.reduce((sum, p) => sum + p.y, 0);
  const summary = points.length ? `${points.length} points, peak ${yFormat(Math.max(...points.map((p) => p.y)))}, total ${yFormat(total)}` : 'no data';
  const root = frame(title, width, height, summary);
  const sx = (x) => pad.left + (maxX > minX ? ((x - minX) * innerW) / (maxX - minX) : innerW / 2);
  const sy = (y) => pad.top + innerH - (innerH * y) / maxY;
  for (const frac of [0, 0.5, 1]) {
    const y = pad.top + innerH * (1 - frac);
    root.appendChild(svg('line', { class: 'chart__grid', x1: pad.left, x2: width - pad.right, y1: y, y2: y }));
    root.appendChild(svg('text', { x: pad.left - 4, y: y + 4, 'text-anchor': 'end' }, fmt(maxY * frac)));
  }
  if (points.length) {
    const path = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    if (area) {
      root.appendChild(svg('path', { class: 'chart__area', d: `${path} L${sx(maxX).toFixed(1)},${sy(0)} L${sx(minX).toFixed(1)},${sy(0)} Z` }));
    }
    root.appendChild(svg('path', { class: 'chart__line', d: path }));
    points.forEach((p) => {
      root.appendChild(svg('circle', { class: 'chart__dot', cx: sx(p.x), cy: sy(p.y), r: points.length > 40 ? 1.5 : 2.5 },
        svg('title', null, `${xFormat(p.x)}: ${yFormat(p.y)}`)));
    });
    root.appendChild(svg('text', { x: pad.left, y: height - 6 }, xFormat(minX)));
    root.appendChild(svg('text', { x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, xFormat(maxX)));
  }
  return root;
}

export function sparkline(values, { title = 'Trend', width = 120, height = 28 } = {}) {
  const max = Math.max(1, ...values);
  const root = frame(title, width, height, values.length ? `latest ${fmt(values[values.length - 1])}, peak ${fmt(max)}` : 'no data');
  if (values.length > 1) {
    const d = values.map((v, i) => `${i ? 'L' : 'M'}${((i * (width - 2)) / (values.length - 1) + 1).toFixed(1)},${(height - 2 - ((height - 4) * v) / max).toFixed(1)}`).join(' ');
    root.appendChild(svg('path', { class: 'chart__line', d, 'stroke-width': 1.5 }));
  }
  return root;
}
