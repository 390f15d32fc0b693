// Publish / Manage: /manage lists the products of the current actor's domains (or any domain) with their
// health at a glance; /manage/{id} edits a product's metadata and moves it through its lifecycle
// (save, publish, deprecate, retire), each with a confirmation and the catalog's refusals shown per field.
//
// Stable hooks for the end-to-end tests (besides roles and labels):
//   /manage
//     data-testid="manage-domain-filter"   the domain <select> ("mine", "all" or a domain name)
//     data-testid="manage-table"           the products table; one <tr data-testid="manage-row" data-id=ID>
//   /manage/{id}
//     data-testid="product-form"           the metadata form (inputs labelled Name, Description, ...)
//     data-testid="product-status"         the status badge (data-status="draft" | "published" | ...)
//     data-testid="requirements"           the publishing checklist; items data-testid="requirement"
//                                          with data-met="true" | "false"
//     data-testid="action-save" | "action-publish" | "action-deprecate" | "action-retire"
//     data-testid="form-message"           the form-level outcome (data-kind="ok" | "error")
//     data-testid="error-<field>"          the error next to a field: name, owner, description,
//                                          documentation, qualityTier, slaTier, freshnessObjective,
//                                          version, tags, domain, outputPorts, inputPorts
//   dialogs: data-testid="confirm-dialog" (publish, retire) and "deprecate-dialog" (fields
//   deprecate-reason, deprecate-sunset, deprecate-successor); buttons dialog-confirm / dialog-cancel.

import { api, getActor } from '../lib/api.js';
import { h, clear, fmtAgo, fmtTime, fmtNumber, toast, ensureStyle } from '../lib/dom.js';
import { openDialog, confirmDialog } from '../lib/dialog.js';
import { statusBadge, badge, skeleton, emptyState, errorState } from '../lib/ui.js';

const TIERS = ['raw', 'curated', 'authoritative'];
const SLAS = ['bronze', 'silver', 'gold'];

// ----- rules shared with the governance page -----

/**
 * What the catalog will refuse publishing for (the client-side mirror of the catalog's publishing
 * requirements), as [{field, met, text, gap}] (`gap` says what is wrong when not met). `env` = {domains: Set of names, subjects: Set of registered
 * schema subjects, products: Map id -> product}.
 */
export function publishRequirements(spec, env) {
  const domain = spec.id.split('.')[0];
  const active = (spec.outputPorts || []).filter((p) => p.status !== 'retired');
  const retiredInputs = (spec.inputPorts || [])
    .map((p) => p.product)
    .filter((id) => id && env.products && env.products.get(id) && env.products.get(id).lifecycle.status === 'retired');
  const subjects = active.map((p) => p.schemaSubject).join(', ');
  return [
    { field: 'domain', met: env.domains.has(domain), text: `its domain '${domain}' exists`, gap: `its domain '${domain}' does not exist` },
    { field: 'description', met: Boolean((spec.description || '').trim()), text: 'it has a description', gap: 'no description' },
    {
      field: 'qualityTier',
      met: Boolean(spec.qualityTier),
      text: 'a quality tier is set (raw, curated or authoritative)',
      gap: 'no quality tier',
    },
    { field: 'outputPorts', met: active.length > 0, text: 'it has an output port that is not retired', gap: 'no output port that is not retired' },
    {
      field: 'outputPorts',
      met: active.some((p) => env.subjects.has(p.schemaSubject)),
      text: active.length ? `an output port has a registered schema (${subjects})` : 'an output port has a registered schema',
      gap: active.length ? `no registered schema for its output port (register ${subjects})` : 'no registered schema',
    },
    {
      field: 'inputPorts',
      met: retiredInputs.length === 0,
      text: retiredInputs.length ? `no input is retired (retired: ${retiredInputs.join(', ')})` : 'no input is retired',
      gap: `it reads a retired product: ${retiredInputs.join(', ')}`,
    },
  ];
}

/** Metadata governance recommends beyond the requirements, as [{field, met, text, gap}]. */
export function recommendations(spec) {
  return [
    { field: 'documentation', met: Boolean((spec.documentation || '').trim()), text: 'documentation for consumers', gap: 'no documentation' },
    { field: 'slaTier', met: Boolean(spec.slaTier), text: 'an SLA tier', gap: 'no SLA tier' },
    { field: 'freshnessObjective', met: Boolean(spec.freshnessObjective), text: 'a freshness objective', gap: 'no freshness objective' },
    { field: 'tags', met: (spec.tags || []).length > 0, text: 'at least one tag', gap: 'no tags' },
  ];
}

/** Loads what the rules need: domains, registered subjects, products. */
export async function loadRuleEnv(signal) {
  const [domains, subjects, products] = await Promise.all([
    api('/api/v1/domains', { signal }),
    api('/registry/subjects', { signal }).catch(() => []),
    api('/api/v1/products', { signal }),
  ]);
  return {
    domainList: domains.domains,
    domains: new Set(domains.domains.map((d) => d.spec.name)),
    subjects: new Set(Array.isArray(subjects) ? subjects : []),
    productList: products.products,
    products: new Map(products.products.map((p) => [p.spec.id, p])),
  };
}

/** The form field a catalog message is about: "invalid tags[1]: ..." is tags; publishing gaps by their words. */
export function fieldOfMessage(message) {
  const m = /^invalid ([A-Za-z]+)/.exec(message);
  if (m) return m[1];
  if (/qualityTier/.test(message)) return 'qualityTier';
  if (/description/.test(message)) return 'description';
  if (/domain/.test(message)) return 'domain';
  if (/output port|schema/.test(message)) return 'outputPorts';
  if (/input/.test(message)) return 'inputPorts';
  return null;
}


// ----- the page -----

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/manage.css');
  // The shell aborts ctx.signal when the page is left; the local controller covers older shells.
  const controller = new AbortController();
  const signal = ctx.signal || controller.signal;
  if (params.id) await renderProduct(root, params.id, ctx, signal);
  else await renderList(root, params, ctx, signal);
  return () => controller.abort();
}

async function renderList(root, params, ctx, signal) {
  ctx.setTitle('Manage');
  const actor = getActor();
  const domainFilter = h('select', { id: 'manage-domain', class: 'input', 'data-testid': 'manage-domain-filter' });
  const statusFilter = h(
    'select',
    { id: 'manage-status', class: 'input' },
    h('option', { value: '' }, 'Any status'),
    ...['draft', 'published', 'deprecated', 'retired'].map((s) => h('option', { value: s }, s)),
  );
  const body = h('div', { class: 'manage-list' }, skeleton('lines', 5));
  clear(root);
  root.append(
    h(
      'div',
      { class: 'page-header' },
      h('div', {}, h('h1', {}, 'Manage'), h('p', { class: 'lead' }, `Data products of your domains, ${actor}, and their health at a glance.`)),
      h('div', { class: 'page-header__actions' }, h('a', { href: '/create', class: 'btn btn--primary' }, 'Create from SQL')),
    ),
    h(
      'div',
      { class: 'filters' },
      h('div', { class: 'field field-inline' }, h('label', { for: 'manage-domain' }, 'Domain'), domainFilter),
      h('div', { class: 'field field-inline' }, h('label', { for: 'manage-status' }, 'Status'), statusFilter),
    ),
    body,
  );

  let env;
  try {
    env = await loadRuleEnv(signal);
  } catch (e) {
    if (signal.aborted) return;
    clear(body);
    body.append(h('div', { class: 'alert alert--error', role: 'alert' }, `Cannot load the products: ${e.message}`));
    return;
  }
  const mine = env.domainList.filter((d) => (d.spec.members || []).some((m) => m.user === actor)).map((d) => d.spec.name);
  domainFilter.append(
    h('option', { value: 'mine' }, mine.length ? `My domains (${mine.join(', ')})` : 'My domains (none)'),
    h('option', { value: 'all' }, 'All domains'),
    ...env.domainList.map((d) => h('option', { value: d.spec.name }, d.spec.name)),
  );
  const wanted = params.query && params.query.get('domain');
  domainFilter.value = wanted || (mine.length ? 'mine' : 'all');
  if (params.query && params.query.get('status')) statusFilter.value = params.query.get('status');

  const health = new Map(); // id -> {lastAt, error}
  function paint() {
    const scope = domainFilter.value;
    const status = statusFilter.value;
    const shown = env.productList.filter((p) => {
      const domain = p.spec.id.split('.')[0];
      if (scope === 'mine' && !mine.includes(domain)) return false;
      if (scope !== 'mine' && scope !== 'all' && domain !== scope) return false;
      return !status || p.lifecycle.status === status;
    });
    clear(body);
    if (!shown.length) {
      body.append(
        emptyState(
          scope === 'mine' && !mine.length ? `${actor} is not a member of any domain` : 'No products match',
          'Choose "All domains" to see every product, or create one from SQL.',
          h('a', { href: '/create', class: 'btn btn--primary' }, 'Create from SQL'),
        ),
      );
      return;
    }
    const rows = shown.map((p) => {
      const spec = p.spec;
      const gaps = publishRequirements(spec, env).filter((r) => !r.met);
      const soft = recommendations(spec).filter((r) => !r.met);
      const state = health.get(spec.id);
      let freshness = h('span', { class: 'muted' }, '…');
      if (state && state.lastAt) {
        freshness = [
          h('time', { datetime: new Date(state.lastAt).toISOString(), title: fmtTime(state.lastAt) }, fmtAgo(state.lastAt)),
          state.stale ? [' ', badge('stale', 'warn')] : null,
        ];
      } else if (state) freshness = h('span', { class: 'muted' }, state.note || 'no data');
      const volume = state && state.lastHour !== undefined ? `${fmtNumber(state.lastHour)} in the last hour` : null;
      let attention;
      if (p.lifecycle.status === 'draft') {
        attention = gaps.length ? `${gaps.length} to fix before publishing` : 'ready to publish';
      } else if (p.lifecycle.status === 'deprecated') {
        attention = `sunset ${p.lifecycle.sunset}`;
      } else if (p.lifecycle.status === 'published') {
        attention = soft.length ? `${soft.length} recommended missing` : 'complete';
      } else attention = 'read-only';
      return h(
        'tr',
        { 'data-testid': 'manage-row', 'data-id': spec.id },
        h('th', { scope: 'row' }, h('a', { href: `/manage/${encodeURIComponent(spec.id)}` }, spec.name), h('div', { class: 'muted mono' }, spec.id)),
        h('td', { 'data-label': 'Status' }, statusBadge(p.lifecycle.status)),
        h(
          'td',
          { 'data-label': 'Last record' },
          freshness,
          volume ? h('div', { class: 'muted' }, volume) : null,
          spec.freshnessObjective ? h('div', { class: 'muted' }, `objective ${spec.freshnessObjective}`) : null,
        ),
        h('td', { 'data-label': 'Changed' }, h('time', { datetime: new Date(p.updatedAt).toISOString(), title: fmtTime(p.updatedAt) }, fmtAgo(p.updatedAt)), h('div', { class: 'muted' }, `revision ${p.revision}`)),
        h('td', { 'data-label': 'Attention' }, attention),
        h('td', { 'data-label': 'Open' }, h('a', { href: `/products/${encodeURIComponent(spec.id)}` }, 'Catalog page')),
      );
    });
    body.append(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table table-responsive', 'data-testid': 'manage-table' },
          h('caption', { class: 'visually-hidden' }, 'Data products'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Product', 'Status', 'Last record', 'Changed', 'Attention'].map((t) => h('th', { scope: 'col' }, t)),
              h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Links')),
            ),
          ),
          h('tbody', {}, ...rows),
        ),
      ),
    );
  }

  // Health: the output port's statistics (newest record, last hour's volume), fetched after the first
  // paint; servers without /stats answer the newest record through /sample.
  async function loadHealth() {
    for (const p of env.productList) if (p.lifecycle.status === 'retired') health.set(p.spec.id, { note: 'not served' });
    // Products whose topic does not exist yet have no statistics: say so without asking for them.
    const topics = await api('/api/v1/topics', { signal })
      .then((t) => new Set(t.topics))
      .catch(() => null);
    for (const p of env.productList) {
      const ports = (p.spec.outputPorts || []).filter((o) => o.status !== 'retired');
      if (topics && ports.length && !ports.some((o) => topics.has(o.topic)) && !health.has(p.spec.id)) {
        health.set(p.spec.id, { note: 'no topic yet' });
      }
    }
    const products = env.productList.filter((p) => !health.has(p.spec.id));
    await Promise.all(
      products.map(async (p) => {
        const base = `/api/v1/products/${encodeURIComponent(p.spec.id)}`;
        if (!(p.spec.outputPorts || []).length) {
          health.set(p.spec.id, { note: 'no output port' });
          return;
        }
        try {
          const s = await api(`${base}/stats`, { signal });
          health.set(p.spec.id, s.lastRecordAt ? { lastAt: s.lastRecordAt, lastHour: s.windowRecords, stale: stale(p, s) } : { note: 'no records yet', lastHour: 0 });
          return;
        } catch (e) {
          if (signal.aborted || !(e.status === 404 && e.code === 40400)) {
            // 404 with another code: the port's topic does not exist yet.
            health.set(p.spec.id, { note: e.status === 404 ? 'no topic yet' : 'unavailable' });
            return;
          }
        }
        try {
          const sample = await api(`${base}/sample?limit=1`, { signal });
          const last = sample.records && sample.records[sample.records.length - 1];
          health.set(p.spec.id, last ? { lastAt: last.timestamp } : { note: 'no records yet' });
        } catch {
          health.set(p.spec.id, { note: 'unavailable' });
        }
      }),
    );
    if (!signal.aborted) paint();
  }

  /** Whether the newest record is older than the product's freshness objective. */
  function stale(p, s) {
    return Boolean(s.freshnessObjectiveSeconds && s.freshnessMs !== null && s.freshnessMs > s.freshnessObjectiveSeconds * 1000);
  }

  const sync = () => {
    const q = new URLSearchParams();
    if (domainFilter.value !== (mine.length ? 'mine' : 'all')) q.set('domain', domainFilter.value);
    if (statusFilter.value) q.set('status', statusFilter.value);
    history.replaceState(null, '', `/manage${q.toString() ? `?${q}` : ''}`);
    paint();
  };
  domainFilter.addEventListener('change', sync);
  statusFilter.addEventListener('change', sync);
  paint();
  loadHealth();
}

// ----- one product -----

async function renderProduct(root, id, ctx, signal) {
  ctx.setTitle(`Manage ${id}`);
  clear(root);
  root.append(h('div', { class: 'page-header' }, h('h1', {}, id)), skeleton('block'));
  let product;
  let env;
  try {
    [product, env] = await Promise.all([api(`/api/v1/products/${encodeURIComponent(id)}`, { signal }), loadRuleEnv(signal)]);
  } catch (e) {
    if (signal.aborted) return;
    clear(root);
    root.append(
      h('div', { class: 'page-header' }, h('h1', {}, id)),
      e.status === 404
        ? emptyState(`There is no data product '${id}'`, 'It may have been deleted, or the id is misspelt.', h('a', { href: '/manage', class: 'btn' }, 'Back to Manage'))
        : errorState(e, () => renderProduct(root, id, ctx, signal)),
    );
    return;
  }
  new ProductEditor(root, product, env, ctx, signal).render();
}

/** The editing view of one product; re-renders itself after every change. */
class ProductEditor {
  constructor(root, product, env, ctx, signal) {
    this.root = root;
    this.product = product;
    this.env = env;
    this.ctx = ctx;
    this.signal = signal;
    this.inputs = {};
    this.errors = {};
    this.dirty = false;
  }

  get status() {
    return this.product.lifecycle.status;
  }

  field(name, label, input, hint) {
    input.id = `f-${name}`;
    input.name = name;
    input.setAttribute('aria-describedby', `f-${name}-hint f-${name}-error`);
    this.inputs[name] = input;
    this.errors[name] = h('p', { class: 'field-error', id: `f-${name}-error`, 'data-testid': `error-${name}`, 'aria-live': 'polite' });
    return h(
      'div',
      { class: 'field', 'data-field': name },
      h('label', { for: input.id }, label),
      input,
      hint ? h('p', { class: 'hint', id: `f-${name}-hint` }, hint) : null,
      this.errors[name],
    );
  }

  /** An error slot for what is not an input (domain, ports). */
  slot(name) {
    this.errors[name] = h('p', { class: 'field-error', id: `f-${name}-error`, 'data-testid': `error-${name}`, 'aria-live': 'polite' });
    return this.errors[name];
  }

  select(options, value, emptyLabel) {
    const el = h('select', { class: 'input' }, h('option', { value: '' }, emptyLabel), ...options.map((o) => h('option', { value: o }, o)));
    el.value = value || '';
    return el;
  }

  render() {
    const { product } = this;
    const spec = product.spec;
    const domain = spec.id.split('.')[0];
    this.inputs = {};
    this.errors = {};
    this.dirty = false;
    this.ctx.setTitle(`Manage ${spec.name}`);
    const readOnly = this.status === 'retired';

    const name = this.field('name', 'Name', h('input', { class: 'input', required: true, maxlength: '200' }), 'The display name.');
    this.inputs.name.value = spec.name;
    const description = this.field(
      'description',
      'Description',
      h('textarea', { class: 'input', rows: '3' }),
      'What the product holds and what it is for. Required to publish.',
    );
    this.inputs.description.value = spec.description || '';
    const documentation = this.field(
      'documentation',
      'Documentation',
      h('textarea', { class: 'input mono', rows: '8' }),
      'Markdown for consumers: semantics of the fields, known limitations, how to join it.',
    );
    this.inputs.documentation.value = spec.documentation || '';
    const owner = this.field('owner', 'Owner', h('input', { class: 'input', required: true }), 'The accountable person or team.');
    this.inputs.owner.value = spec.owner;
    const tier = this.field('qualityTier', 'Quality tier', this.select(TIERS, spec.qualityTier, 'Not set'), 'Required to publish.');
    const sla = this.field('slaTier', 'SLA tier', this.select(SLAS, spec.slaTier, 'Not set'));
    const freshness = this.field(
      'freshnessObjective',
      'Freshness objective',
      h('input', { class: 'input', placeholder: '15m' }),
      'How old the newest record may be: a number and s, m, h or d (e.g. 15m).',
    );
    this.inputs.freshnessObjective.value = spec.freshnessObjective || '';
    const version = this.field('version', 'Version', h('input', { class: 'input' }), 'Semantic version; a breaking change is a new major version.');
    this.inputs.version.value = spec.version || '1.0.0';
    const tags = this.field('tags', 'Tags', h('input', { class: 'input' }), 'Separated by commas.');
    this.inputs.tags.value = (spec.tags || []).join(', ');

    const domainInfo = h(
      'div',
      { class: 'field', 'data-field': 'domain' },
      h('span', { class: 'label', id: 'f-domain-label' }, 'Domain'),
      h('p', { 'aria-labelledby': 'f-domain-label' }, h('a', { href: `/domains/${encodeURIComponent(domain)}` }, domain), h('span', { class: 'muted' }, ' (part of the id; it cannot change)')),
      this.slot('domain'),
    );

    const form = h(
      'form',
      { class: 'product-form', 'data-testid': 'product-form', novalidate: true },
      h(
        'fieldset',
        { class: 'form-section', disabled: readOnly },
        h('legend', {}, 'About'),
        name,
        description,
        documentation,
      ),
      h(
        'fieldset',
        { class: 'form-section', disabled: readOnly },
        h('legend', {}, 'Ownership and quality'),
        h('div', { class: 'form-grid' }, domainInfo, owner, tier, sla, freshness, version),
        tags,
      ),
      this.portsSection(),
    );
    this.form = form;
    this.message = h('div', { class: 'form-message', 'data-testid': 'form-message', role: 'status', 'aria-live': 'polite' });
    this.checklist = h('div', { class: 'requirements', 'data-testid': 'requirements' });
    this.actions = h('div', { class: 'lifecycle-actions' });

    form.addEventListener('input', (event) => {
      this.dirty = true;
      const field = event.target.name;
      if (field) this.checkField(field);
      this.paintChecklist();
      this.paintActions();
    });
    form.addEventListener('change', () => {
      this.dirty = true;
      this.paintChecklist();
      this.paintActions();
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });

    clear(this.root);
    this.root.append(
      h(
        'div',
        { class: 'page-header' },
        h(
          'div',
          {},
          h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumbs' }, h('a', { href: '/manage' }, 'Manage'), ' / ', spec.id),
          h('div', { class: 'row' }, h('h1', {}, spec.name), h('span', { 'data-testid': 'product-status' }, statusBadge(this.status))),
          h(
            'p',
            { class: 'lead' },
            h('span', { class: 'mono' }, spec.id),
            ` · revision ${product.revision} · changed ${fmtAgo(product.updatedAt)}`,
          ),
        ),
        h('div', { class: 'page-header__actions' }, h('a', { href: `/products/${encodeURIComponent(spec.id)}`, class: 'btn' }, 'View in the catalog')),
      ),
      this.lifecycleNotice(),
      h(
        'div',
        { class: 'manage-layout' },
        h('div', { class: 'manage-main' }, form),
        h(
          'aside',
          { class: 'manage-side' },
          h('section', { class: 'panel', 'aria-labelledby': 'lifecycle-title' }, h('h2', { id: 'lifecycle-title' }, 'Lifecycle'), this.actions, this.message),
          h('section', { class: 'panel', 'aria-labelledby': 'req-title' }, h('h2', { id: 'req-title' }, this.status === 'draft' ? 'Before publishing' : 'Requirements'), this.checklist),
          this.historySection(),
        ),
      ),
    );
    this.paintChecklist();
    this.paintActions();
  }

  lifecycleNotice() {
    const l = this.product.lifecycle;
    if (l.status === 'deprecated') {
      return h(
        'div',
        { class: 'alert alert--warning', role: 'note' },
        h('strong', {}, 'Deprecated: '),
        l.reason,
        `. Served until ${l.sunset}`,
        l.successor ? [' · successor ', h('a', { href: `/manage/${encodeURIComponent(l.successor)}` }, l.successor)] : '',
        '.',
      );
    }
    if (l.status === 'retired') {
      return h('div', { class: 'alert alert--info', role: 'note' }, h('strong', {}, 'Retired: '), 'no longer served and read-only.');
    }
    return ''; // Element.append would write null as text.

  }

  portsSection() {
    const spec = this.product.spec;
    const outputs = spec.outputPorts || [];
    const inputs = spec.inputPorts || [];
    return h(
      'section',
      { class: 'form-section ports', 'aria-labelledby': 'ports-title' },
      h('h2', { id: 'ports-title', class: 'legend' }, 'Ports'),
      h('h3', {}, 'Output ports'),
      outputs.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'table table-compact' },
              h('thead', {}, h('tr', {}, ...['Port', 'Topic', 'Schema subject', 'Format', 'Status'].map((t) => h('th', { scope: 'col' }, t)))),
              h(
                'tbody',
                {},
                ...outputs.map((p) =>
                  h(
                    'tr',
                    {},
                    h('td', { 'data-label': 'Port' }, `${p.name} v${p.version}`),
                    h('td', { 'data-label': 'Topic', class: 'mono' }, p.topic),
                    h(
                      'td',
                      { 'data-label': 'Schema subject', class: 'mono' },
                      p.schemaSubject,
                      ' ',
                      this.env.subjects.has(p.schemaSubject)
                        ? badge('registered', 'ok')
                        : badge('no schema', 'error'),
                    ),
                    h('td', { 'data-label': 'Format' }, p.format),
                    h('td', { 'data-label': 'Status' }, p.status || 'active'),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No output port. Products created from SQL get one for their topic.'),
      this.slot('outputPorts'),
      h('h3', {}, 'Input ports'),
      inputs.length
        ? h(
            'ul',
            { class: 'input-ports' },
            ...inputs.map((p) =>
              h(
                'li',
                {},
                p.name,
                p.product
                  ? [' ← ', h('a', { href: `/products/${encodeURIComponent(p.product)}` }, p.product)]
                  : h('span', { class: 'muted' }, p.topic ? ` (topic ${p.topic}, not a data product)` : ' (external)'),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'None: the product reads no other product.'),
      this.slot('inputPorts'),
      h('p', { class: 'hint' }, 'Ports are edited with the CLI or an ODPS document (weft product apply).'),
    );
  }

  historySection() {
    const list = h('ol', { class: 'history-list', reversed: true }, h('li', {}, skeleton('lines', 3)));
    api(`/api/v1/products/${encodeURIComponent(this.product.spec.id)}/history`, { signal: this.signal })
      .then(({ history }) => {
        clear(list);
        for (const entry of history.slice(-6).reverse()) {
          list.append(
            h(
              'li',
              {},
              h('strong', {}, describeEvent(entry)),
              h('div', { class: 'muted' }, `${entry.actor} · `, h('time', { datetime: new Date(entry.at).toISOString(), title: fmtTime(entry.at) }, fmtAgo(entry.at))),
            ),
          );
        }
      })
      .catch((e) => {
        if (this.signal.aborted) return;
        clear(list);
        list.append(h('li', { class: 'field-error' }, e.message));
      });
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title' }, 'Recent changes'),
      list,
      h('a', { href: '/governance#audit' }, 'The audit log of the mesh'),
    );
  }

  /** The spec as the form describes it now. */
  formSpec() {
    const v = (name) => this.inputs[name].value.trim();
    const tags = v('tags')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    return {
      ...this.product.spec,
      name: v('name'),
      owner: v('owner'),
      description: this.inputs.description.value,
      documentation: this.inputs.documentation.value,
      qualityTier: v('qualityTier') || null,
      slaTier: v('slaTier') || null,
      freshnessObjective: v('freshnessObjective') || null,
      version: v('version'),
      tags,
    };
  }

  /** Client-side checks of one field, the same the catalog makes; returns the message or ''. */
  checkField(name) {
    const value = this.inputs[name] ? this.inputs[name].value.trim() : '';
    let message = '';
    if ((name === 'name' || name === 'owner') && !value) message = 'It is required and may not be blank.';
    else if ((name === 'name' || name === 'owner') && value.length > 200) message = 'At most 200 characters.';
    else if (name === 'freshnessObjective' && value && !/^[1-9][0-9]*[smhd]$/.test(value)) message = 'Use a positive number and a unit s, m, h or d, such as 15m.';
    else if (name === 'version' && !/^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$/.test(value)) message = 'A semantic version MAJOR.MINOR.PATCH, such as 1.2.0.';
    else if (name === 'tags') {
      const tags = value.split(',').map((t) => t.trim()).filter(Boolean);
      const long = tags.find((t) => t.length > 64);
      const twice = tags.find((t, i) => tags.indexOf(t) !== i);
      if (long) message = `A tag is at most 64 characters: '${long.slice(0, 20)}…'.`;
      else if (twice) message = `Tag '${twice}' is listed twice.`;
    }
    this.setError(name, message);
    return message;
  }

  setError(name, message) {
    const slot = this.errors[name];
    if (!slot) return false;
    slot.textContent = message;
    const input = this.inputs[name];
    if (input) {
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    return true;
  }

  clearErrors() {
    for (const name of Object.keys(this.errors)) this.setError(name, '');
    this.say('', '');
  }

  say(text, kind, extra) {
    clear(this.message);
    this.message.dataset.kind = kind;
    if (text) this.message.append(h('p', { class: kind === 'error' ? 'alert alert--error' : 'alert alert--info' }, text, extra || ''));
  }

  paintChecklist() {
    clear(this.checklist);
    const spec = this.formSpec();
    const required = publishRequirements(spec, this.env);
    const recommended = recommendations(spec);
    const missing = required.filter((r) => !r.met);
    const item = (r) =>
      h(
        'li',
        { 'data-testid': 'requirement', 'data-met': String(r.met), class: r.met ? 'req-met' : 'req-missing' },
        h('span', { class: 'req-mark', 'aria-hidden': 'true' }, r.met ? '✓' : '✗'),
        h('span', { class: 'visually-hidden' }, r.met ? 'Met: ' : 'Missing: '),
        this.inputs[r.field] && !r.met
          ? h('button', { type: 'button', class: 'link-button', onclick: () => this.inputs[r.field].focus() }, r.text)
          : r.text,
      );
    this.checklist.append(
      h(
        'p',
        { class: missing.length ? 'req-summary req-summary-missing' : 'req-summary' },
        missing.length ? `${missing.length} of ${required.length} requirements missing.` : 'Every publishing requirement is met.',
      ),
      h('ul', { class: 'req-list' }, ...required.map(item)),
      h('h3', {}, 'Recommended'),
      h('ul', { class: 'req-list' }, ...recommended.map(item)),
    );
  }

  paintActions() {
    clear(this.actions);
    const s = this.status;
    const buttons = [];
    if (s !== 'retired') {
      buttons.push(
        h(
          'button',
          { type: 'button', class: this.dirty ? 'btn btn--primary' : 'btn', 'data-testid': 'action-save', disabled: !this.dirty, onclick: () => this.save() },
          this.dirty ? 'Save changes' : 'Saved',
        ),
      );
      if (this.dirty) buttons.push(h('button', { type: 'button', class: 'btn', onclick: () => this.render() }, 'Discard changes'));
    }
    if (s === 'draft') buttons.push(h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'action-publish', onclick: () => this.publish() }, this.dirty ? 'Save and publish' : 'Publish'));
    if (s === 'published') buttons.push(h('button', { type: 'button', class: 'btn btn--danger', 'data-testid': 'action-deprecate', onclick: () => this.deprecate() }, 'Deprecate…'));
    if (s === 'deprecated' || s === 'draft') buttons.push(h('button', { type: 'button', class: 'btn btn--danger', 'data-testid': 'action-retire', onclick: () => this.retire() }, s === 'draft' ? 'Abandon (retire)…' : 'Retire…'));
    const explain = {
      draft: 'A draft is invisible to consumers. Publishing makes it discoverable and consumable.',
      published: 'Published: consumers rely on it. Deprecate it, with a sunset date, before retiring it.',
      deprecated: 'Deprecated: still served until its sunset date; it can be retired from then on.',
      retired: 'Retired: final and read-only.',
    }[s];
    this.actions.append(h('p', { class: 'hint' }, explain), h('div', { class: 'button-row' }, ...buttons));
  }

  /** Shows an API error next to the field it is about; true when it found one. */
  showApiError(e) {
    if (e.code === 42204 || /publishing requirements/.test(e.message)) {
      const list = e.message.split(': ').slice(1).join(': ').split('; ').filter(Boolean);
      let placed = 0;
      for (const gap of list) {
        const field = fieldOfMessage(gap);
        if (field && this.setError(field, `Publishing needs this: ${gap}.`)) placed += 1;
      }
      this.say(`The catalog refused: ${list.length} publishing requirement${list.length === 1 ? '' : 's'} not met.`, 'error');
      return placed > 0;
    }
    const field = fieldOfMessage(e.message);
    if (field && this.errors[field]) {
      this.setError(field, e.message.replace(/^invalid [^:]+: /, ''));
      if (this.inputs[field]) this.inputs[field].focus();
      this.say(`Not saved: ${e.message}`, 'error');
      return true;
    }
    if (e.code === 40902) {
      this.say(e.message, 'error', h('button', { type: 'button', class: 'link-button', onclick: () => this.reload() }, ' Reload'));
      return true;
    }
    this.say(e.message, 'error');
    return false;
  }

  async reload() {
    try {
      this.product = await api(`/api/v1/products/${encodeURIComponent(this.product.spec.id)}`, { signal: this.signal });
      this.render();
    } catch (e) {
      this.say(`Cannot reload: ${e.message}`, 'error');
    }
  }

  validateAll() {
    let first = null;
    for (const name of ['name', 'owner', 'freshnessObjective', 'version', 'tags']) {
      if (this.checkField(name) && !first) first = name;
    }
    if (first) {
      this.inputs[first].focus();
      this.say('Fix the fields marked above first.', 'error');
      return false;
    }
    return true;
  }

  /** PUT the form's spec; resolves true when saved. */
  async save({ quiet = false } = {}) {
    this.clearErrors();
    if (!this.validateAll()) return false;
    const id = this.product.spec.id;
    try {
      this.product = await api(`/api/v1/products/${encodeURIComponent(id)}?ifRevision=${this.product.revision}`, {
        method: 'PUT',
        body: this.formSpec(),
      });
    } catch (e) {
      this.showApiError(e);
      return false;
    }
    this.env.products.set(id, this.product);
    if (!quiet) {
      toast(`Saved ${this.product.spec.name}`, 'success');
      this.render();
      this.say(`Saved: revision ${this.product.revision}.`, 'ok');
    }
    return true;
  }

  async publish() {
    this.clearErrors();
    const spec = this.formSpec();
    const missing = publishRequirements(spec, this.env).filter((r) => !r.met);
    const ok = await confirmDialog({
      title: `Publish ${spec.name}?`,
      body: h(
        'div',
        {},
        h('p', {}, 'A published product is discoverable and consumable; from then on its changes must not break consumers.'),
        this.dirty ? h('p', {}, 'Your unsaved changes are saved first.') : null,
        missing.length
          ? h('p', { class: 'alert alert--warning' }, `The catalog will likely refuse: ${missing.map((m) => m.text).join('; ')}.`)
          : null,
      ),
      confirmLabel: this.dirty ? 'Save and publish' : 'Publish',
    });
    if (!ok) return;
    if (this.dirty && !(await this.save({ quiet: true }))) return;
    try {
      await this.transition('publish', null, 'Published');
    } catch {
      // The refusal is shown next to the fields it is about.
    }
  }

  async transition(action, body, done) {
    const id = this.product.spec.id;
    try {
      this.product = await api(`/api/v1/products/${encodeURIComponent(id)}/${action}?ifRevision=${this.product.revision}`, {
        method: 'POST',
        body,
      });
    } catch (e) {
      // A save before the transition may have succeeded: show the saved state with the refusal.
      this.render();
      this.showApiError(e);
      throw e;
    }
    this.env.products.set(id, this.product);
    toast(`${done}: ${this.product.spec.name}`, 'success');
    this.render();
    this.say(`${done}.`, 'ok');
  }

  async deprecate() {
    const today = new Date().toISOString().slice(0, 10);
    const inThreeMonths = new Date(Date.now() + 90 * 86400000).toISOString().slice(0, 10);
    const id = this.product.spec.id;
    const successors = this.env.productList.filter((p) => p.spec.id !== id && (p.lifecycle.status === 'published' || p.lifecycle.status === 'draft'));
    await openDialog({
      title: `Deprecate ${this.product.spec.name}`,
      testid: 'deprecate-dialog',
      body: h('p', {}, 'Consumers are told to move away before the sunset date; the product is served until then.'),
      fields: [
        { id: 'deprecate-reason', label: 'Reason', type: 'textarea', required: true, hint: 'Why consumers should move away (shown to them).' },
        { id: 'deprecate-sunset', label: 'Sunset date', type: 'date', required: true, min: today, value: inThreeMonths, hint: 'Today or later; it can be retired from then on.' },
        {
          id: 'deprecate-successor',
          label: 'Successor (optional)',
          type: 'select',
          options: [{ value: '', label: 'None' }, ...successors.map((p) => ({ value: p.spec.id, label: `${p.spec.name} (${p.spec.id})` }))],
        },
      ],
      confirmLabel: 'Deprecate',
      danger: true,
      onConfirm: async (v) => {
        if (this.dirty && !(await this.save({ quiet: true }))) throw new Error('Your changes could not be saved; see the form.');
        const body = { reason: v['deprecate-reason'], sunset: v['deprecate-sunset'] };
        if (v['deprecate-successor']) body.successor = v['deprecate-successor'];
        await this.transition('deprecate', body, 'Deprecated');
      },
      fieldFor: (e) => {
        const f = fieldOfMessage(e.message);
        if (f === 'reason') return 'deprecate-reason';
        if (f === 'sunset' || /date/.test(e.message)) return 'deprecate-sunset';
        if (f === 'successor') return 'deprecate-successor';
        return null;
      },
    });
  }

  async retire() {
    const draft = this.status === 'draft';
    await openDialog({
      title: draft ? `Abandon the draft ${this.product.spec.name}?` : `Retire ${this.product.spec.name}?`,
      testid: 'confirm-dialog',
      body: h(
        'div',
        {},
        h('p', {}, 'A retired product is no longer served and becomes read-only. This cannot be undone.'),
        draft ? null : h('p', {}, `Its sunset date is ${this.product.lifecycle.sunset}; the catalog refuses before it.`),
      ),
      confirmLabel: draft ? 'Abandon' : 'Retire',
      danger: true,
      onConfirm: () => this.transition('retire', null, 'Retired'),
    });
  }
}

/** A one-line summary of a catalog history entry. */
export function describeEvent(entry) {
  const e = entry.event || {};
  switch (e.type) {
    case 'ProductCreated':
      return 'Created as a draft';
    case 'ProductUpdated':
      return `Changed ${(entry.changed || []).join(', ') || 'nothing visible'}`;
    case 'ProductStatusChanged':
      return `${e.before && e.before.status} → ${e.after && e.after.status}${e.after && e.after.reason ? `: ${e.after.reason}` : ''}`;
    case 'ProductDeleted':
      return 'Deleted';
    case 'FieldLineageSet':
      return `Field lineage set (${(e.after || []).length} edges)`;
    case 'DomainCreated':
      return 'Domain created';
    case 'DomainUpdated':
      return `Domain changed: ${(entry.changed || []).join(', ')}`;
    case 'DomainDeleted':
      return 'Domain deleted';
    default:
      return e.type || 'Change';
  }
}
