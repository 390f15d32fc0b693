// Explore: search the catalog as you type, narrow by facets, open a product.
//
// Built on GET /api/v1/products/search (q, domain, qualityTier, status, tag (repeatable), owner, limit,
// offset), which answers hits and facet counts over every match. The URL mirrors the query
// (/explore?q=&domain=&tier=&status=&tag=&owner=) with replaceState while typing, so it can be shared
// and reloaded; the search is debounced (200 ms) and a newer search aborts the one in flight.
//
// data-testid hooks:
//   search-input          the search box (also labelled "Search data products")
//   results-count         "N data products" text
//   facets                the filter sidebar; facet-<domain|qualityTier|status|tags|owner> one group each
//   facet-option          a filter toggle button (aria-pressed; data-facet, data-value); its count in .facet__count
//   clear-filters         clears query and filters
//   results               the list of cards; product-card one card (data-id = product id)
//   load-more             loads the next page
//   empty-state           no products at all / none match

import { api, isAbort } from '../lib/api.js';
import { h, clear, debounce, ensureStyle, fmtNumber } from '../lib/dom.js';
import { statusBadge, tierBadge, emptyState, errorState, skeleton } from '../lib/ui.js';

const PAGE = 24;
// URL parameter -> search API parameter and facet name.
const FILTERS = [
  { param: 'domain', api: 'domain', facet: 'domain', label: 'Domain' },
  { param: 'tier', api: 'qualityTier', facet: 'qualityTier', label: 'Quality tier' },
  { param: 'status', api: 'status', facet: 'status', label: 'Status' },
  { param: 'tag', api: 'tag', facet: 'tags', label: 'Tags', multi: true },
  { param: 'owner', api: 'owner', facet: 'owner', label: 'Owner' },
];
const FACET_ORDER = { status: ['published', 'deprecated', 'draft', 'retired'], qualityTier: ['authoritative', 'curated', 'raw'] };

function readState(query) {
  const state = { q: query.get('q') || '' };
  for (const f of FILTERS) state[f.param] = f.multi ? query.getAll(f.param) : query.get(f.param) || '';
  return state;
}

function toUrl(state) {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  for (const f of FILTERS) {
    if (f.multi) state[f.param].forEach((v) => params.append(f.param, v));
    else if (state[f.param]) params.set(f.param, state[f.param]);
  }
  const text = params.toString();
  return text ? `/explore?${text}` : '/explore';
}

function toApi(state, offset) {
  const params = new URLSearchParams();
  if (state.q.trim()) params.set('q', state.q.trim());
  for (const f of FILTERS) {
    if (f.multi) state[f.param].forEach((v) => params.append(f.api, v));
    else if (state[f.param]) params.set(f.api, state[f.param]);
  }
  params.set('limit', String(PAGE));
  params.set('offset', String(offset));
  return `/api/v1/products/search?${params}`;
}

function activeFilters(state) {
  return FILTERS.some((f) => (f.multi ? state[f.param].length : state[f.param])) || state.q.trim() !== '';
}

export function productCard(hit) {
  const domain = String(hit.id).split('.')[0];
  return h('article', { class: 'card card--link product-card', 'data-testid': 'product-card', 'data-id': hit.id },
    h('div', { class: 'product-card__top' },
      h('h2', { class: 'card__title' }, h('a', { href: `/products/${encodeURIComponent(hit.id)}` }, hit.name || hit.id)),
      h('div', { class: 'product-card__badges' }, statusBadge(hit.status), tierBadge(hit.qualityTier))),
    h('p', { class: 'product-card__id mono' }, hit.id),
    h('p', { class: 'card__body product-card__desc' }, hit.description || 'No description yet.'),
    h('div', { class: 'card__meta' },
      h('span', null, 'Domain ', h('a', { href: `/domains/${encodeURIComponent(domain)}` }, domain)),
      h('span', null, `Owner ${hit.owner || '—'}`)),
    hit.tags && hit.tags.length
      ? h('ul', { class: 'tags', 'aria-label': 'Tags' }, hit.tags.map((t) => h('li', null,
        h('a', { class: 'tag', href: `/explore?tag=${encodeURIComponent(t)}` }, t))))
      : null);
}

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/explore.css');
  ctx.setTitle('Explore');
  const state = readState(params.query);
  let controller = null;
  let offset = 0;

  const input = h('input', {
    id: 'explore-search', type: 'search', value: state.q, placeholder: 'Search by name, description, field, tag…',
    autocomplete: 'off', spellcheck: 'false', 'data-testid': 'search-input', 'aria-controls': 'explore-results',
  });
  const count = h('p', { class: 'explore__count', 'data-testid': 'results-count', 'aria-live': 'polite' }, '\u00a0');
  const facetsEl = h('div', { class: 'facets', 'data-testid': 'facets' }, skeleton('lines', 6));
  const results = h('div', { id: 'explore-results', class: 'grid explore__results', 'data-testid': 'results', 'aria-busy': 'true' },
    Array.from({ length: 6 }, () => h('div', { class: 'skeleton skeleton--card', 'aria-hidden': 'true' })));
  const more = h('div', { class: 'explore__more' });
  const clearButton = h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-testid': 'clear-filters', hidden: true,
    onclick: () => {
      state.q = '';
      input.value = '';
      for (const f of FILTERS) state[f.param] = f.multi ? [] : '';
      update(true);
      input.focus();
    } }, 'Clear all');
  const filterSummary = h('summary', null, 'Filters');
  const filters = h('details', { class: 'facets-wrap', open: window.innerWidth > 900 }, filterSummary, facetsEl);

  root.append(
    h('div', { class: 'page-header' },
      h('div', null,
        h('h1', null, 'Explore data products'),
        h('p', { class: 'lead' }, 'Find data products across every domain: search as you type, then narrow with filters.'))),
    h('form', { class: 'explore__search', role: 'search', onsubmit: (e) => { e.preventDefault(); search.flush(); } },
      h('label', { for: 'explore-search', class: 'visually-hidden' }, 'Search data products'),
      input),
    h('div', { class: 'row explore__status' }, count, h('span', { class: 'spacer' }), clearButton),
    h('div', { class: 'layout-sidebar' },
      h('aside', { 'aria-label': 'Filters' }, filters),
      h('section', { 'aria-label': 'Results' }, results, more)));

  function showActive() {
    const n = FILTERS.reduce((sum, f) => sum + (f.multi ? state[f.param].length : state[f.param] ? 1 : 0), 0);
    clearButton.hidden = !activeFilters(state);
    filterSummary.textContent = n ? `Filters (${n} on)` : 'Filters';
  }

  function update(immediate) {
    window.history.replaceState(null, '', toUrl(state));
    showActive();
    if (immediate) search.flush();
    else search();
  }

  async function load(append) {
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    if (!append) {
      offset = 0;
      results.setAttribute('aria-busy', 'true');
      results.classList.add('is-loading');
    }
    try {
      const body = await api(toApi(state, offset), { signal });
      if (signal.aborted) return;
      results.classList.remove('is-loading');
      results.setAttribute('aria-busy', 'false');
      if (!append) clear(results);
      count.textContent = `${fmtNumber(body.total)} data product${body.total === 1 ? '' : 's'}`;
      renderFacets(body.facets || {});
      for (const hit of body.hits) results.appendChild(productCard(hit));
      offset += body.hits.length;
      clear(more);
      if (!body.total) {
        results.appendChild(activeFilters(state)
          ? emptyState('No data products match', 'Try fewer words or remove a filter.',
            h('button', { type: 'button', class: 'btn', onclick: () => clearButton.click() }, 'Clear filters'))
          : emptyState('No data products yet', 'Products appear here once a domain creates them.',
            h('a', { class: 'btn btn--primary', href: '/create' }, 'Create a data product')));
      } else if (offset < body.total) {
        more.appendChild(h('button', { type: 'button', class: 'btn', 'data-testid': 'load-more', onclick: () => load(true) },
          `Show more (${fmtNumber(body.total - offset)} left)`));
      }
    } catch (error) {
      if (isAbort(error) || signal.aborted) return;
      results.classList.remove('is-loading');
      results.setAttribute('aria-busy', 'false');
      clear(results);
      results.appendChild(errorState(error, () => load(false)));
    }
  }

  const search = debounce(() => load(false), 200);

  function renderFacets(facets) {
    clear(facetsEl);
    for (const f of FILTERS) {
      const counts = facets[f.facet] || {};
      const selected = f.multi ? state[f.param] : state[f.param] ? [state[f.param]] : [];
      let values = Object.keys(counts);
      // Keep a selected value visible even when the current matches no longer count it.
      for (const v of selected) if (!values.includes(v)) values.push(v);
      const order = FACET_ORDER[f.facet];
      values.sort((a, b) => (order ? order.indexOf(a) - order.indexOf(b) : (counts[b] || 0) - (counts[a] || 0) || a.localeCompare(b)));
      if (!values.length) continue;
      const shown = f.facet === 'tags' || f.facet === 'owner' ? values.slice(0, 12) : values;
      facetsEl.appendChild(h('fieldset', { class: 'facet', 'data-testid': `facet-${f.facet}` },
        h('legend', null, f.label),
        h('ul', { class: 'facet__list' }, shown.map((value) => {
          const on = selected.includes(value);
          return h('li', null, h('button', {
            type: 'button', class: 'facet__option', 'aria-pressed': String(on), 'data-testid': 'facet-option',
            'data-facet': f.facet, 'data-value': value,
            onclick: () => {
              if (f.multi) state[f.param] = on ? state[f.param].filter((v) => v !== value) : [...state[f.param], value];
              else state[f.param] = on ? '' : value;
              update(true);
            },
          }, h('span', { class: 'facet__check', 'aria-hidden': 'true' }), h('span', { class: 'facet__label' }, value),
          h('span', { class: 'facet__count' }, h('span', { class: 'visually-hidden' }, ', '), fmtNumber(counts[value] || 0),
            h('span', { class: 'visually-hidden' }, ' products'))));
        }))));
    }
    if (!facetsEl.childNodes.length) facetsEl.appendChild(h('p', { class: 'hint' }, 'No filters for these results.'));
  }

  input.addEventListener('input', () => {
    state.q = input.value;
    update(false);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && input.value) {
      input.value = '';
      state.q = '';
      update(true);
    }
  });
  showActive();
  load(false);
  if (!state.q && window.innerWidth > 640) input.focus({ preventScroll: true });

  return () => {
    search.cancel();
    if (controller) controller.abort();
  };
}
