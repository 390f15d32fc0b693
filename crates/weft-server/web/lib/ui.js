// Shared components built on dom.js, so every page looks and behaves the same.
//
//   statusBadge(status)            draft | published | deprecated | retired, text + colour
//   tierBadge(tier)                raw | curated | authoritative
//   slaBadge(sla)                  bronze | silver | gold
//   badge(text, kind)              any other badge (kind: ok, warn, error, info, plain)
//   skeleton(kind = 'lines', n)    placeholder while loading: 'lines', 'cards', 'block'
//   emptyState(title, text, ...actions)
//   errorState(error, retry?)      an alert with the server's message (and code), and a Retry button
//   tabs({label, tabs: [{id, label, render(panel)}], selected, onChange(id)}) ARIA tabs, arrow keys move
//   props([[term, value], ...])    a <dl class="props">

import { h, clear } from './dom.js';

const STATUS_TEXT = { draft: 'Draft', published: 'Published', deprecated: 'Deprecated', retired: 'Retired' };
const TIER_TEXT = { raw: 'Raw', curated: 'Curated', authoritative: 'Authoritative' };

export function badge(text, kind = 'plain', attrs = {}) {
  return h('span', { class: `badge badge--${kind}`, ...attrs }, text);
}

export function statusBadge(status) {
  const s = String(status || 'draft').toLowerCase();
  return badge(STATUS_TEXT[s] || s, s, { 'data-testid': 'status-badge', title: `Status: ${STATUS_TEXT[s] || s}` });
}

export function tierBadge(tier) {
  if (!tier) return badge('No tier', 'plain', { 'data-testid': 'tier-badge' });
  const t = String(tier).toLowerCase();
  return badge(TIER_TEXT[t] || t, t, { 'data-testid': 'tier-badge', title: `Quality tier: ${TIER_TEXT[t] || t}` });
}

export function slaBadge(sla) {
  if (!sla) return null;
  const t = String(sla).toLowerCase();
  return badge(`SLA ${t[0].toUpperCase()}${t.slice(1)}`, t, { 'data-testid': 'sla-badge' });
}

export function skeleton(kind = 'lines', n = 3) {
  const wrap = h('div', { class: `skeleton-group skeleton-group--${kind}`, 'aria-hidden': 'true', 'data-testid': 'skeleton' });
  if (kind === 'cards') {
    wrap.className += ' grid';
    for (let i = 0; i < n; i += 1) wrap.appendChild(h('div', { class: 'skeleton skeleton--card' }));
  } else if (kind === 'block') {
    wrap.appendChild(h('div', { class: 'skeleton skeleton--block' }));
  } else {
    for (let i = 0; i < n; i += 1) wrap.appendChild(h('div', { class: 'skeleton skeleton--line' }));
  }
  return wrap;
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'empty', 'data-testid': 'empty-state' },
    h('p', { class: 'empty__title' }, title),
    text ? h('p', null, text) : null,
    actions.length ? h('p', { class: 'row', style: { justifyContent: 'center' } }, actions) : null);
}

export function errorState(error, retry) {
  const status = error && error.status ? ` (HTTP ${error.status}${error.code ? `, code ${error.code}` : ''})` : '';
  return h('div', { class: 'alert alert--error', role: 'alert', 'data-testid': 'error-state' },
    h('p', { class: 'alert__title' }, `Could not load this${status}`),
    h('p', { style: { margin: 0 } }, (error && error.message) || String(error)),
    retry ? h('p', { style: { margin: '8px 0 0' } }, h('button', { type: 'button', class: 'btn btn--small', onclick: retry }, 'Retry')) : null);
}

export function props(rows) {
  return h('dl', { class: 'props' }, rows.filter(Boolean).map(([term, value]) => [h('dt', null, term), h('dd', null, value ?? '—')]));
}

let tabsCounter = 0;
export function tabs({ label, tabs: items, selected, onChange }) {
  tabsCounter += 1;
  const base = `tabs${tabsCounter}`;
  const list = h('div', { class: 'tabs', role: 'tablist', 'aria-label': label });
  const panels = h('div', { class: 'tab-panels' });
  const rendered = new Set();
  const buttons = items.map((item, index) => {
    const button = h('button', {
      type: 'button', role: 'tab', id: `${base}-tab-${item.id}`, 'aria-controls': `${base}-panel-${item.id}`,
      'data-testid': `tab-${item.id}`, 'data-tab': item.id,
      onclick: () => select(item.id, true),
      onkeydown: (event) => {
        let next = null;
        if (event.key === 'ArrowRight') next = (index + 1) % items.length;
        else if (event.key === 'ArrowLeft') next = (index - 1 + items.length) % items.length;
        else if (event.key === 'Home') next = 0;
        else if (event.key === 'End') next = items.length - 1;
        if (next !== null) {
          event.preventDefault();
          select(items[next].id, true);
          buttons[next].focus();
        }
      },
    }, item.label);
    list.appendChild(button);
    return button;
  });
  const panelEls = items.map((item) => {
    const panel = h('div', { role: 'tabpanel', id: `${base}-panel-${item.id}`, 'aria-labelledby': `${base}-tab-${item.id}`,
      tabindex: '0', hidden: true, 'data-testid': `panel-${item.id}` });
    panels.appendChild(panel);
    return panel;
  });
  function select(id, byUser) {
    const index = Math.max(0, items.findIndex((item) => item.id === id));
    items.forEach((item, i) => {
      const on = i === index;
      buttons[i].setAttribute('aria-selected', String(on));
      buttons[i].tabIndex = on ? 0 : -1;
      panelEls[i].hidden = !on;
    });
    const item = items[index];
    if (!rendered.has(item.id)) {
      rendered.add(item.id);
      clear(panelEls[index]);
      item.render(panelEls[index]);
    }
    // Keep the selected tab visible in a tab row that scrolls sideways (narrow screens).
    let frames = 0;
    const reveal = () => {
      // The tab row may not be in the document yet (first render): wait for it, briefly.
      if (!list.isConnected || !list.clientWidth) {
        frames += 1;
        if (frames < 60) requestAnimationFrame(reveal);
        return;
      }
      const button = buttons[index];
      const left = button.offsetLeft;
      const right = left + button.offsetWidth;
      if (right > list.scrollLeft + list.clientWidth) list.scrollLeft = right - list.clientWidth + 16;
      else if (left < list.scrollLeft) list.scrollLeft = Math.max(0, left - 16);
    };
    requestAnimationFrame(reveal);
    if (byUser && onChange) onChange(item.id);
  }
  select(selected || items[0].id, false);
  return { element: h('div', { class: 'tabset' }, list, panels), select };
}
