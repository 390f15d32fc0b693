// Access (/access): the current actor's grants, their requests, and the requests waiting for their
// approval (approve or deny, with a reason). Also exports the "Request access" dialog, which the product
// page reuses: `openAccessRequestDialog(productId)`.
//
// Stable hooks for the end-to-end tests (besides roles and labels):
//   data-testid="access-pending"     requests waiting for my approval; rows data-testid="access-request"
//   data-testid="access-managed"     grants I may revoke (products I own); rows data-testid="access-grant"
//   data-testid="access-grants"      my grants;                         rows data-testid="access-grant"
//   data-testid="access-mine"        my requests;                       rows data-testid="access-request"
//   rows carry data-id=REQUEST_ID data-status=STATUS data-product=PRODUCT_ID
//   data-testid="access-approve" | "access-deny" | "access-revoke"   the row buttons (each opens a dialog)
//   data-testid="access-request-open"    opens the request dialog from this page
//   dialogs: "access-request-dialog" (fields access-product, access-purpose, access-consumer) and
//            "access-decision-dialog" (field decision-reason); buttons dialog-confirm / dialog-cancel

import { api, getActor } from '../lib/api.js';
import { h, clear, fmtAgo, fmtTime, toast, ensureStyle } from '../lib/dom.js';
import { openDialog } from '../lib/dialog.js';
import { badge, skeleton, emptyState } from '../lib/ui.js';

/** `GET /api/v1/access-requests` answers `{requests: [...]}`, `GET .../grants` answers `{grants: [...]}`. */
const requestsOf = (answer) => answer.requests;
const grantsOf = (answer) => answer.grants;

/** The field of the request dialog an access error is about: the answer's `field`, or an unknown product. */
function accessFieldFor(e) {
  const field = e.body && e.body.field;
  if (field === 'purpose') return 'access-purpose';
  if (field === 'consumer') return 'access-consumer';
  if (e.code === 40404) return 'access-product';
  return null;
}

/**
 * Opens the "Request access" dialog for `productId` (or, without one, with a product chooser).
 * Resolves with the created request, or null when cancelled.
 */
export async function openAccessRequestDialog(productId) {
  let options = null;
  if (!productId) {
    try {
      const { products } = await api('/api/v1/products');
      options = products
        .filter((p) => p.lifecycle.status === 'published' || p.lifecycle.status === 'deprecated')
        .map((p) => ({ value: p.spec.id, label: `${p.spec.name} (${p.spec.id})` }));
    } catch (e) {
      toast(`Cannot list the products: ${e.message}`, 'error');
      return null;
    }
    if (!options.length) {
      toast('No published product to request access to yet.', 'info');
      return null;
    }
  }
  const fields = [];
  if (options) fields.push({ id: 'access-product', label: 'Data product', type: 'select', required: true, options: [{ value: '', label: 'Choose a product' }, ...options] });
  fields.push(
    {
      id: 'access-purpose',
      label: 'Purpose',
      type: 'textarea',
      required: true,
      hint: 'What you will use the data for; the owners decide on this.',
    },
    {
      id: 'access-consumer',
      label: 'Consuming application or product (optional)',
      hint: 'Who reads the data, if not you: an application name or a data product id.',
      placeholder: 'e.g. billing.invoices',
    },
  );
  return openDialog({
    title: productId ? `Request access to ${productId}` : 'Request access to a data product',
    testid: 'access-request-dialog',
    body: h('p', {}, `You are requesting as ${getActor()}. The product’s domain owners approve or deny the request.`),
    fields,
    confirmLabel: 'Send request',
    onConfirm: async (v) => {
      const id = productId || v['access-product'];
      const body = { purpose: v['access-purpose'] };
      if (v['access-consumer']) body.consumer = v['access-consumer'];
      let created;
      try {
        created = await api(`/api/v1/products/${encodeURIComponent(id)}/access-requests`, { method: 'POST', body });
      } catch (e) {
        if (e.status === 404 && e.code === 40400) throw new Error('Access requests are not available on this server yet.');
        throw e;
      }
      toast(`Access to ${id} requested`, 'success');
      return created;
    },
    fieldFor: accessFieldFor,
  });
}

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/access.css');
  ctx.setTitle('Access');
  const controller = new AbortController();
  const signal = ctx.signal || controller.signal;
  const actor = getActor();

  const pending = h('div', { 'data-testid': 'access-pending' }, skeleton('lines', 2));
  const mine = h('div', { 'data-testid': 'access-mine' }, skeleton('lines', 2));
  const grants = h('div', { 'data-testid': 'access-grants' }, skeleton('lines', 2));
  const managed = h('div', { 'data-testid': 'access-managed' }, skeleton('lines', 2));
  const pendingCount = h('span', { class: 'badge badge--warn', 'aria-live': 'polite', hidden: true });

  clear(root);
  root.append(
    h(
      'div',
      { class: 'page-header' },
      h('div', {}, h('h1', {}, 'Access'), h('p', { class: 'lead' }, `Who may read which data product. You are acting as ${actor}.`)),
      h(
        'div',
        { class: 'page-header__actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn--primary',
            'data-testid': 'access-request-open',
            onclick: async () => {
              if (await openAccessRequestDialog(null)) load();
            },
          },
          'Request access…',
        ),
      ),
    ),
    h('section', { class: 'access-section', 'aria-labelledby': 'pending-title' }, h('h2', { id: 'pending-title' }, 'Waiting for my approval ', pendingCount), pending),
    h('section', { class: 'access-section', 'aria-labelledby': 'managed-title' }, h('h2', { id: 'managed-title' }, 'Grants I manage'), managed),
    h('section', { class: 'access-section', 'aria-labelledby': 'grants-title' }, h('h2', { id: 'grants-title' }, 'My grants'), grants),
    h('section', { class: 'access-section', 'aria-labelledby': 'mine-title' }, h('h2', { id: 'mine-title' }, 'My requests'), mine),
  );

  function when(ms) {
    if (!ms) return '';
    return h('time', { datetime: new Date(ms).toISOString(), title: fmtTime(ms) }, fmtAgo(ms));
  }

  function productLink(id) {
    return h('a', { href: `/products/${encodeURIComponent(id)}` }, id);
  }

  function statusText(r) {
    return badge(r.status, r.status, { 'data-status': r.status });
  }

  function decide(r, action) {
    const verb = { approve: 'Approve', deny: 'Deny', revoke: 'Revoke' }[action];
    return openDialog({
      title: `${verb} ${r.requester}’s access to ${r.product}?`,
      testid: 'access-decision-dialog',
      body: h(
        'div',
        {},
        h('p', {}, h('strong', {}, 'Purpose: '), r.purpose || '—'),
        r.consumer ? h('p', {}, h('strong', {}, 'Consumer: '), r.consumer) : null,
      ),
      fields: [
        {
          id: 'decision-reason',
          label: action === 'approve' ? 'Reason (optional)' : 'Reason',
          type: 'textarea',
          required: action !== 'approve',
          hint: action === 'approve' ? 'Recorded with the grant.' : `Shown to ${r.requester}.`,
        },
      ],
      confirmLabel: verb,
      danger: action !== 'approve',
      onConfirm: async (v) => {
        const body = v['decision-reason'] ? { reason: v['decision-reason'] } : {};
        await api(`/api/v1/access-requests/${encodeURIComponent(r.id)}/${action}`, { method: 'POST', body });
        const done = { approve: 'Approved', deny: 'Denied', revoke: 'Revoked' }[action];
        toast(`${done}: ${r.requester}’s access to ${r.product}`, 'success');
      },
      fieldFor: (e) => (e.body && e.body.field === 'reason' ? 'decision-reason' : null),
    }).then((done) => {
      if (done) load();
    });
  }

  function table(rows, columns, testid, caption) {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table table-responsive', 'data-testid': `${testid}-table` },
        h('caption', { class: 'visually-hidden' }, caption),
        h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c || h('span', { class: 'visually-hidden' }, 'Actions'))))),
        h('tbody', {}, ...rows),
      ),
    );
  }

  function fill(box, rows, columns, caption, emptyText) {
    clear(box);
    if (!rows.length) box.append(emptyState(emptyText[0], emptyText[1]));
    else box.append(table(rows, columns, box.dataset.testid, caption));
  }

  function failed(box, e) {
    clear(box);
    if (e.status === 404 && e.code === 40400) {
      box.append(emptyState('Access requests are not available on this server yet.'));
    } else {
      box.append(h('div', { class: 'alert alert--error', role: 'alert' }, `Cannot load: ${e.message}`));
    }
  }

  async function load() {
    const q = (params) => `/api/v1/access-requests?${new URLSearchParams(params)}`;
    const [waiting, requested, granted] = await Promise.allSettled([
      api(q({ approver: actor, status: 'pending' }), { signal }),
      api(q({ requester: actor }), { signal }),
      api(q({ approver: actor, status: 'approved' }), { signal }),
    ]);
    if (signal.aborted) return;

    if (waiting.status === 'fulfilled') {
      const list = requestsOf(waiting.value);
      pendingCount.textContent = list.length ? `${list.length} waiting` : '';
      pendingCount.hidden = !list.length;
      fill(
        pending,
        list.map((r) =>
          h(
            'tr',
            { 'data-testid': 'access-request', 'data-id': r.id, 'data-status': r.status, 'data-product': r.product },
            h('td', { 'data-label': 'Product' }, productLink(r.product)),
            h('td', { 'data-label': 'Requester' }, r.requester, r.consumer ? h('div', { class: 'muted' }, `for ${r.consumer}`) : null),
            h('td', { 'data-label': 'Purpose' }, r.purpose),
            h('td', { 'data-label': 'Asked' }, when(r.requestedAt)),
            h(
              'td',
              { 'data-label': 'Decision', class: 'row-actions' },
              h('button', { type: 'button', class: 'btn btn--primary btn--small', 'data-testid': 'access-approve', onclick: () => decide(r, 'approve') }, 'Approve…'),
              h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'access-deny', onclick: () => decide(r, 'deny') }, 'Deny…'),
            ),
          ),
        ),
        ['Product', 'Requester', 'Purpose', 'Asked', 'Decision'],
        'Requests waiting for my approval',
        ['Nothing is waiting for you.', 'Requests for products of the domains you own appear here.'],
      );
    } else failed(pending, waiting.reason);

    if (granted.status === 'fulfilled') {
      fill(
        managed,
        requestsOf(granted.value).map((r) =>
          h(
            'tr',
            { 'data-testid': 'access-grant', 'data-id': r.id, 'data-status': r.status, 'data-product': r.product },
            h('td', { 'data-label': 'Product' }, productLink(r.product)),
            h('td', { 'data-label': 'Consumer' }, r.requester, r.consumer ? h('div', { class: 'muted' }, `for ${r.consumer}`) : null),
            h('td', { 'data-label': 'Purpose' }, r.purpose),
            h('td', { 'data-label': 'Approved' }, r.decidedBy || '—', ' ', when(r.decidedAt)),
            h(
              'td',
              { 'data-label': '', class: 'row-actions' },
              h('button', { type: 'button', class: 'btn btn--danger btn--small', 'data-testid': 'access-revoke', onclick: () => decide(r, 'revoke') }, 'Revoke…'),
            ),
          ),
        ),
        ['Product', 'Consumer', 'Purpose', 'Approved', ''],
        'Grants I manage',
        ['No grant to manage.', 'Approved requests for products of the domains you own appear here; you can revoke them.'],
      );
    } else failed(managed, granted.reason);

    if (requested.status === 'fulfilled') {
      const list = requestsOf(requested.value);
      const active = list.filter((r) => r.status === 'approved');
      fill(
        grants,
        active.map((r) =>
          h(
            'tr',
            { 'data-testid': 'access-grant', 'data-id': r.id, 'data-status': r.status, 'data-product': r.product },
            h('td', { 'data-label': 'Product' }, productLink(r.product)),
            h('td', { 'data-label': 'Purpose' }, r.purpose),
            h('td', { 'data-label': 'Approved by' }, r.decidedBy || r.approver || '—', r.reason ? h('div', { class: 'muted' }, r.reason) : null),
            h('td', { 'data-label': 'Since' }, when(r.decidedAt)),
          ),
        ),
        ['Product', 'Purpose', 'Approved by', 'Since'],
        'My grants',
        ['You have no grant yet.', 'Request access to a published product to read its data.'],
      );
      fill(
        mine,
        list.map((r) =>
          h(
            'tr',
            { 'data-testid': 'access-request', 'data-id': r.id, 'data-status': r.status, 'data-product': r.product },
            h('td', { 'data-label': 'Product' }, productLink(r.product)),
            h('td', { 'data-label': 'Status' }, statusText(r)),
            h('td', { 'data-label': 'Purpose' }, r.purpose),
            h('td', { 'data-label': 'Asked' }, when(r.requestedAt)),
            h(
              'td',
              { 'data-label': 'Decision' },
              r.status === 'pending'
                ? h('span', { class: 'muted' }, 'waiting for the owners')
                : [`${r.status} by ${r.decidedBy || '?'} `, when(r.decidedAt), r.reason ? h('div', { class: 'muted' }, `“${r.reason}”`) : null],
            ),
          ),
        ),
        ['Product', 'Status', 'Purpose', 'Asked', 'Decision'],
        'My requests',
        ['You have not requested access to anything yet.', null],
      );
    } else {
      failed(grants, requested.reason);
      failed(mine, requested.reason);
    }
  }

  load();
  return () => controller.abort();
}
