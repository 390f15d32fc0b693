// Publish / Manage: /manage lists the products of the current actor's domains (or any domain) with their
// health at a glance; /manage/{id} edits a product's metadata and moves it through its lifecycle
// (save, publish, deprecate, retire), each with a confirmation and the catalog's refusals shown per field.
// What publishing needs and what governance flags come from the server (POST /api/v1/products:check,
// GET /api/v1/governance/violations); this page keeps no copy of those rules.
//
// Stable hooks for the end-to-end tests (besides roles and labels):
//   /manage
//     data-testid="manage-domain-filter"   the domain <select> ("mine", "all" or a domain name)
//     data-testid="manage-table"           the products table; one <tr data-testid="manage-row" data-id=ID>
//     data-testid="attention"              a row's attention cell, from the server's violations
//   /manage/{id}
//     data-testid="product-form"           the metadata form (inputs labelled Name, Description, ...)
//     data-testid="product-status"         the status badge (data-status="draft" | "published" | ...)
//     data-testid="requirements"           the live publishing checklist (lib/product-form.js: gap,
//                                          publish-ready, recommendation)
//     data-testid="action-save" | "action-publish" | "action-deprecate" | "action-retire"
//     data-testid="form-message"           the form-level outcome (data-kind="ok" | "error")
//     data-testid="error-<field>" | "gap-<field>" | "recommendation-<field>"   next to a field: name,
//                                          owner, description, documentation, qualityTier, slaTier,
//                                          freshnessObjective, version, tags, id (the domain),
//                                          outputPorts, inputPorts
//   dialogs: data-testid="confirm-dialog" (publish, retire) and "deprecate-dialog" (fields
//   deprecate-reason, deprecate-sunset, deprecate-successor); buttons dialog-confirm / dialog-cancel.

import { api, getActor, mayChangeDomain } from '../lib/api.js';
import { h, clear, fmtAgo, fmtTime, fmtNumber, toast, ensureStyle } from '../lib/dom.js';
import { openDialog, confirmDialog } from '../lib/dialog.js';
import { statusBadge, badge, skeleton, emptyState, errorState } from '../lib/ui.js';
import { ProductForm, publishChecklist } from '../lib/product-form.js';

/** The server's policy violations, by product id. */
async function violationsByProduct(signal) {
  const { violations } = await api('/api/v1/governance/violations', { signal });
  const byProduct = new Map();
  for (const v of violations) byProduct.set(v.product, [...(byProduct.get(v.product) || []), v]);
  return byProduct;
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

  let domainList;
  let productList;
  let violations;
  try {
    [{ domains: domainList }, { products: productList }, violations] = await Promise.all([
      api('/api/v1/domains', { signal }),
      api('/api/v1/products', { signal }),
      violationsByProduct(signal),
    ]);
  } catch (e) {
    if (signal.aborted) return;
    clear(body);
    body.append(h('div', { class: 'alert alert--error', role: 'alert' }, `Cannot load the products: ${e.message}`));
    return;
  }
  const mine = domainList.filter((d) => (d.spec.members || []).some((m) => m.user === actor)).map((d) => d.spec.name);
  domainFilter.append(
    h('option', { value: 'mine' }, mine.length ? `My domains (${mine.join(', ')})` : 'My domains (none)'),
    h('option', { value: 'all' }, 'All domains'),
    ...domainList.map((d) => h('option', { value: d.spec.name }, d.spec.name)),
  );
  const wanted = params.query && params.query.get('domain');
  domainFilter.value = wanted || (mine.length ? 'mine' : 'all');
  if (params.query && params.query.get('status')) statusFilter.value = params.query.get('status');

  const health = new Map(); // id -> {lastAt, error}
  function paint() {
    const scope = domainFilter.value;
    const status = statusFilter.value;
    const shown = productList.filter((p) => {
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
      const found = violations.get(spec.id) || [];
      const kinds = new Map(found.map((v) => [v.kind, v]));
      const state = health.get(spec.id);
      let freshness = h('span', { class: 'muted' }, '…');
      if (state && state.lastAt) {
        freshness = h('time', { datetime: new Date(state.lastAt).toISOString(), title: fmtTime(state.lastAt) }, fmtAgo(state.lastAt));
      } else if (state) freshness = h('span', { class: 'muted' }, state.note || 'no data');
      const volume = state && state.lastHour !== undefined ? `${fmtNumber(state.lastHour)} in the last hour` : null;
      return h(
        'tr',
        { 'data-testid': 'manage-row', 'data-id': spec.id },
        h('th', { scope: 'row' }, h('a', { href: `/manage/${encodeURIComponent(spec.id)}` }, spec.name), h('div', { class: 'muted mono' }, spec.id)),
        h('td', { 'data-label': 'Status' }, statusBadge(p.lifecycle.status)),
        h(
          'td',
          { 'data-label': 'Last record' },
          freshness,
          kinds.has('stale') ? [' ', badge('stale', 'warn', { title: kinds.get('stale').details.join('; ') })] : null,
          volume ? h('div', { class: 'muted' }, volume) : null,
          spec.freshnessObjective ? h('div', { class: 'muted' }, `objective ${spec.freshnessObjective}`) : null,
        ),
        h('td', { 'data-label': 'Changed' }, h('time', { datetime: new Date(p.updatedAt).toISOString(), title: fmtTime(p.updatedAt) }, fmtAgo(p.updatedAt)), h('div', { class: 'muted' }, `revision ${p.revision}`)),
        h('td', { 'data-label': 'Attention', 'data-testid': 'attention' }, attention(p, kinds)),
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
  // paint. Products whose topic does not exist yet have no statistics: say so without asking for them.
  async function loadHealth() {
    const topics = await api('/api/v1/topics', { signal })
      .then((t) => new Set(t.topics))
      .catch(() => null);
    await Promise.all(
      productList.map(async (p) => {
        const ports = p.spec.outputPorts || [];
        if (p.lifecycle.status === 'retired') return health.set(p.spec.id, { note: 'not served' });
        if (!ports.length) return health.set(p.spec.id, { note: 'no output port' });
        if (topics && !ports.some((o) => topics.has(o.topic))) return health.set(p.spec.id, { note: 'no topic yet' });
        try {
          const s = await api(`/api/v1/products/${encodeURIComponent(p.spec.id)}/stats`, { signal });
          return health.set(p.spec.id, s.lastRecordAt ? { lastAt: s.lastRecordAt, lastHour: s.windowRecords } : { note: 'no records yet', lastHour: 0 });
        } catch (e) {
          return health.set(p.spec.id, { note: e.status === 404 ? 'no topic yet' : 'unavailable' });
        }
      }),
    );
    if (!signal.aborted) paint();
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

/** What a product of the list needs, in the server's words (its violations), or its state when nothing. */
function attention(p, kinds) {
  const status = p.lifecycle.status;
  const notes = [];
  const blocked = kinds.get('cannot-publish');
  if (blocked) notes.push(`${blocked.details.length} to fix before publishing`);
  if (kinds.has('past-sunset')) notes.push(`past its sunset (${p.lifecycle.sunset}): retire it`);
  if (kinds.has('deprecated-input')) notes.push('reads a deprecated or retired product');
  if (kinds.has('stale')) notes.push('misses its freshness objective');
  const soft = kinds.get('missing-recommended');
  if (soft) notes.push(`${soft.details.length} recommended missing`);
  if (notes.length) return h('span', { class: 'attention-needed', title: [...kinds.values()].flatMap((v) => v.details).join('; ') }, notes.join('; '));
  if (status === 'draft') return 'ready to publish';
  if (status === 'deprecated') return `sunset ${p.lifecycle.sunset}`;
  if (status === 'retired') return 'read-only';
  return 'complete';
}

// ----- one product -----

async function renderProduct(root, id, ctx, signal) {
  ctx.setTitle(`Manage ${id}`);
  clear(root);
  root.append(h('div', { class: 'page-header' }, h('h1', {}, id)), skeleton('block'));
  let product;
  let subjects;
  try {
    [product, subjects] = await Promise.all([
      api(`/api/v1/products/${encodeURIComponent(id)}`, { signal }),
      api('/registry/subjects', { signal }).then((list) => new Set(Array.isArray(list) ? list : []), () => null),
    ]);
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
  const domainName = product.spec.id.split('.')[0];
  const domain = await api(`/api/v1/domains/${encodeURIComponent(domainName)}`, { signal }).catch(() => null);
  if (signal.aborted) return;
  if (!mayChangeDomain(domain, product.spec.owner)) {
    // Nothing here would be accepted from this user: say whose it is instead of offering a form.
    clear(root);
    root.append(
      h('div', { class: 'page-header' }, h('h1', {}, id)),
      emptyState(`Only domain ${domainName} manages ${id}`, 'Its members (and platform admins) change it; you can read it and ask for access to its data.',
        h('a', { href: `/products/${encodeURIComponent(id)}`, class: 'btn', 'data-testid': 'manage-not-yours' }, 'Open the product page')),
    );
    return;
  }
  new ProductEditor(root, product, subjects, ctx, signal).render();
}

/** The editing view of one product; re-renders itself after every change. */
class ProductEditor {
  /** `subjects`: the registered schema subjects (null when the registry did not answer). */
  constructor(root, product, subjects, ctx, signal) {
    this.root = root;
    this.product = product;
    this.subjects = subjects;
    this.ctx = ctx;
    this.signal = signal;
    this.form = null;
    this.check = null;
    this.dirty = false;
  }

  get status() {
    return this.product.lifecycle.status;
  }

  render() {
    const { product } = this;
    const spec = product.spec;
    const domain = spec.id.split('.')[0];
    if (this.check) this.check.stop();
    const form = new ProductForm('f');
    this.form = form;
    this.dirty = false;
    this.ctx.setTitle(`Manage ${spec.name}`);
    const readOnly = this.status === 'retired';

    // The domain is the id's first part: the id's gaps and refusals ("its domain does not exist") show here.
    const domainInfo = h(
      'div',
      { class: 'field', 'data-field': 'id' },
      h('span', { class: 'label', id: 'f-domain-label' }, 'Domain'),
      h('p', { 'aria-labelledby': 'f-domain-label' }, h('a', { href: `/domains/${encodeURIComponent(domain)}` }, domain), h('span', { class: 'muted' }, ' (part of the id; it cannot change)')),
      form.notes('id'),
    );

    const formEl = h(
      'form',
      { class: 'product-form', 'data-testid': 'product-form', novalidate: true },
      h(
        'fieldset',
        { class: 'form-section', disabled: readOnly },
        h('legend', {}, 'About'),
        form.field('name', { value: spec.name }),
        form.field('description', { value: spec.description || '' }),
        form.field('documentation', { value: spec.documentation || '' }),
      ),
      h(
        'fieldset',
        { class: 'form-section', disabled: readOnly },
        h('legend', {}, 'Ownership and quality'),
        h(
          'div',
          { class: 'form-grid' },
          domainInfo,
          form.field('owner', { value: spec.owner }),
          form.field('qualityTier', { value: spec.qualityTier || '' }),
          form.field('slaTier', { value: spec.slaTier || '' }),
          form.field('freshnessObjective', { value: spec.freshnessObjective || '' }),
          form.field('version', { value: spec.version || '1.0.0' }),
        ),
        form.field('tags', { value: (spec.tags || []).join(', ') }),
      ),
      this.portsSection(),
    );
    this.message = h('div', { class: 'form-message', 'data-testid': 'form-message', role: 'status', 'aria-live': 'polite' });
    this.actions = h('div', { class: 'lifecycle-actions' });
    this.check = readOnly
      ? null
      : publishChecklist({
          form,
          spec: () => this.formSpec(),
          signal: this.signal,
          // A published product keeps meeting the requirements: the catalog refuses edits that break them.
          ready: this.status === 'draft' ? 'Ready to publish: every requirement is met.' : 'Every publishing requirement is met.',
        });

    // The buttons are painted again only when the form first changes: a field's `change` fires as a
    // button is pressed, and a button replaced under the pointer never receives the click.
    const edited = () => {
      if (this.check) this.check.schedule();
      if (this.dirty) return;
      this.dirty = true;
      this.paintActions();
    };
    formEl.addEventListener('input', edited);
    formEl.addEventListener('change', edited);
    formEl.addEventListener('submit', (event) => {
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
        h('div', { class: 'manage-main' }, formEl),
        h(
          'aside',
          { class: 'manage-side' },
          h('section', { class: 'panel', 'aria-labelledby': 'lifecycle-title' }, h('h2', { id: 'lifecycle-title' }, 'Lifecycle'), this.actions, this.message),
          this.check
            ? h(
                'section',
                { class: 'panel', 'aria-labelledby': 'req-title' },
                h('h2', { id: 'req-title' }, this.status === 'draft' ? 'Before publishing' : 'Publishing requirements'),
                this.check.element,
              )
            : null,
          this.historySection(),
        ),
      ),
    );
    if (this.check) this.check.now();
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
                      this.subjects ? (this.subjects.has(p.schemaSubject) ? badge('registered', 'ok') : badge('no schema', 'error')) : null,
                    ),
                    h('td', { 'data-label': 'Format' }, p.format),
                    h('td', { 'data-label': 'Status' }, p.status || 'active'),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No output port. Products created from SQL get one for their topic.'),
      this.form.notes('outputPorts'),
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
      this.form.notes('inputPorts'),
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
    return { ...this.product.spec, ...this.form.values() };
  }

  clearErrors() {
    this.form.clearErrors();
    this.say('', '');
  }

  say(text, kind, extra) {
    clear(this.message);
    this.message.dataset.kind = kind;
    if (text) this.message.append(h('p', { class: kind === 'error' ? 'alert alert--error' : 'alert alert--info' }, text, extra || ''));
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

  /** Shows an API error next to the field(s) it is about (the answer's `field` or `gaps`), else above. */
  showApiError(e) {
    if (e.code === 40902) {
      this.say(e.message, 'error', h('button', { type: 'button', class: 'link-button', onclick: () => this.reload() }, ' Reload'));
      return;
    }
    const placed = this.form.placeError(e);
    const gaps = (e.body && e.body.gaps) || [];
    if (e.code === 42207) {
      if (this.check) this.check.showRefusal(gaps);
      this.say(`The catalog refused: ${gaps.length} publishing requirement${gaps.length === 1 ? '' : 's'} not met, shown next to ${gaps.length === 1 ? 'its field' : 'their fields'}.`, 'error');
    } else if (placed.length) {
      this.form.focus(placed[0]);
      this.say(`Not saved: ${e.message}`, 'error');
    } else {
      this.say(e.message, 'error');
    }
  }

  async reload() {
    try {
      this.product = await api(`/api/v1/products/${encodeURIComponent(this.product.spec.id)}`, { signal: this.signal });
      this.render();
    } catch (e) {
      this.say(`Cannot reload: ${e.message}`, 'error');
    }
  }

  /** PUT the form's spec; resolves true when saved. */
  async save({ quiet = false } = {}) {
    this.clearErrors();
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
    // What the server's last check said is missing (the catalog decides again when publishing).
    const missing = (this.check && this.check.latest && this.check.latest.gaps) || [];
    const ok = await confirmDialog({
      title: `Publish ${spec.name}?`,
      body: h(
        'div',
        {},
        h('p', {}, 'A published product is discoverable and consumable; from then on its changes must not break consumers.'),
        this.dirty ? h('p', {}, 'Your unsaved changes are saved first.') : null,
        missing.length
          ? h('p', { class: 'alert alert--warning' }, `The catalog will refuse while this is missing: ${missing.map((m) => m.message).join('; ')}.`)
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
    toast(`${done}: ${this.product.spec.name}`, 'success');
    this.render();
    this.say(`${done}.`, 'ok');
  }

  async deprecate() {
    const today = new Date().toISOString().slice(0, 10);
    const inThreeMonths = new Date(Date.now() + 90 * 86400000).toISOString().slice(0, 10);
    const id = this.product.spec.id;
    const { products } = await api('/api/v1/products', { signal: this.signal }).catch(() => ({ products: [] }));
    const successors = products.filter((p) => p.spec.id !== id && (p.lifecycle.status === 'published' || p.lifecycle.status === 'draft'));
    const dialogField = { reason: 'deprecate-reason', sunset: 'deprecate-sunset', successor: 'deprecate-successor' };
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
      fieldFor: (e) => dialogField[e.body && e.body.field] || null,
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
