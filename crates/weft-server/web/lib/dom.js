// DOM helpers. Data never goes through innerHTML: h() makes text nodes of strings.
//
//   h(tag, attrs, ...children)   element; attrs: class (string or array), on<event> handlers, aria-*, data-*,
//                                style (object), value/checked/selected/disabled (properties), others as attributes;
//                                false/null/undefined attributes are left out; children: strings, numbers,
//                                nodes, arrays, null/false (skipped)
//   svg(tag, attrs, ...children) the same in the SVG namespace
//   clear(el), fmtTime(ms), fmtAgo(ms), fmtNumber(n, options), fmtBytes(n), debounce(fn, ms),
//   toast(message, kind = 'info'|'success'|'warning'|'error'), ensureStyle(href)

const SVG_NS = 'http://www.w3.org/2000/svg';
const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'indeterminate', 'open']);

function build(el, attrs, children) {
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class' || name === 'className') {
        const cls = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
        if (cls) el.setAttribute('class', cls);
      } else if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2).toLowerCase(), value);
      } else if (name === 'style' && typeof value === 'object') {
        Object.assign(el.style, value);
      } else if (PROPS.has(name) && !(el instanceof SVGElement)) {
        el[name] = value;
        if (name !== 'value' && value === true) el.setAttribute(name, '');
      } else if (name === 'ref' && typeof value === 'function') {
        value(el);
      } else {
        el.setAttribute(name, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el && el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

export function fmtTime(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '—';
  return timeFormat.format(new Date(Number(ms)));
}

export function fmtAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const seconds = Math.round((now - Number(ms)) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  let text;
  if (s < 5) return 'just now';
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 86400) text = `${Math.round(s / 3600)} h`;
  else text = `${Math.round(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

const numberFormats = new Map();
export function fmtNumber(n, options = {}) {
  if (n === null || n === undefined || n === '' || Number.isNaN(Number(n))) return '—';
  const key = JSON.stringify(options);
  if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, ...options }));
  return numberFormats.get(key).format(Number(n));
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${fmtNumber(value, { maximumFractionDigits: unit ? 1 : 0 })} ${units[unit]}`;
}

export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  debounced.flush = (...args) => {
    clearTimeout(timer);
    fn(...args);
  };
  return debounced;
}

export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h('div', { class: `toast toast--${kind}`, 'data-testid': 'toast', 'data-kind': kind },
    h('span', { class: 'visually-hidden' }, kind === 'error' ? 'Error: ' : kind === 'success' ? 'Done: ' : ''),
    h('span', null, String(message)));
  const close = h('button', { type: 'button', class: 'toast__close', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×');
  item.appendChild(close);
  region.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 5000);
}

export function ensureStyle(href) {
  if (document.querySelector(`link[rel="stylesheet"][href="${CSS.escape(href)}"]`)) return;
  document.head.appendChild(h('link', { rel: 'stylesheet', href }));
}
