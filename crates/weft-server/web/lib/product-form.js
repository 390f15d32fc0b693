// The fields of a data product's metadata, shared by the forms that write them: Create's "publish as a
// data product" form and Manage's editor. One builder per field (label, hint, input), the slots next to
// each field for the server's refusals and publishing gaps, and the live publishing check.
//
// The rules are the server's, never copied here: what publishing needs comes from
// POST /api/v1/products:check ({gaps, recommendations}, each {field, rule, message}); a refusal names
// its field in the error body (`field`, or `gaps` for a refused publish, 42207). Both are placed by
// their field path (`description`, `tags[1]`, `outputPorts[0].schemaSubject`): the part before the
// first `.` or `[` names the form field.
//
// Hooks for the end-to-end tests, per field NAME (name, description, documentation, owner, qualityTier,
// slaTier, freshnessObjective, version, tags, and the slots id, outputPorts, inputPorts):
//   data-testid="error-NAME"           a refusal of the server about the field
//   data-testid="gap-NAME"             what publishing still needs from the field (empty when nothing)
//   data-testid="recommendation-NAME"  what governance recommends for the field (empty when nothing)
// The checklist (publishChecklist): data-testid="requirements" with data-state = "checking" | "ready" |
// "gaps" | "invalid" | "error"; one <li data-testid="gap" data-field data-rule> per gap,
// data-testid="publish-ready" when there is none, <li data-testid="recommendation" data-field> per
// recommendation.

import { api, isAbort } from './api.js';
import { h, clear } from './dom.js';

export const QUALITY_TIERS = ['raw', 'curated', 'authoritative'];
export const SLA_TIERS = ['bronze', 'silver', 'gold'];

function select(options, emptyLabel) {
  return h('select', { class: 'input' }, h('option', { value: '' }, emptyLabel), ...options.map((o) => h('option', { value: o }, o)));
}

// Each field's label, hint and input, as both forms show them.
const FIELDS = {
  name: () => ({ label: 'Name', hint: 'The display name.', input: h('input', { class: 'input', required: true, maxlength: '200' }) }),
  description: () => ({
    label: 'Description',
    hint: 'What the product holds and what it is for.',
    input: h('textarea', { class: 'input', rows: '3' }),
  }),
  documentation: () => ({
    label: 'Documentation',
    hint: 'Markdown for consumers: semantics of the fields, known limitations, how to join it.',
    input: h('textarea', { class: 'input mono', rows: '8' }),
  }),
  owner: () => ({ label: 'Owner', hint: 'The accountable person or team.', input: h('input', { class: 'input', required: true }) }),
  qualityTier: () => ({ label: 'Quality tier', hint: null, input: select(QUALITY_TIERS, 'Not set') }),
  slaTier: () => ({ label: 'SLA tier', hint: null, input: select(SLA_TIERS, 'Not set') }),
  freshnessObjective: () => ({
    label: 'Freshness objective',
    hint: 'How old the newest record may be: a number and s, m, h or d (e.g. 15m).',
    input: h('input', { class: 'input', placeholder: '15m' }),
  }),
  version: () => ({ label: 'Version', hint: 'Semantic version; a breaking change is a new major version.', input: h('input', { class: 'input' }) }),
  tags: () => ({ label: 'Tags', hint: 'Separated by commas.', input: h('input', { class: 'input' }) }),
};

/** The form field a spec field path is about: `outputPorts[0].schemaSubject` is `outputPorts`. */
export function formField(path) {
  const text = String(path || '');
  const end = [text.indexOf('.'), text.indexOf('[')].filter((i) => i >= 0);
  return end.length ? text.slice(0, Math.min(...end)) : text;
}

/** The inputs, refusal slots and gap notes of one product form. */
export class ProductForm {
  /** `prefix` keeps element ids unique on the page (`f` makes `f-description`). */
  constructor(prefix = 'f') {
    this.prefix = prefix;
    this.inputs = {};
    this.slots = {}; // name -> {error, gap, recommendation}
  }

  /**
   * One field of FIELDS as a labelled block; `options` may replace `label`, `hint` or `input` (Create
   * names its fields for what a draft from SQL is) and give the `value`.
   */
  field(name, options = {}) {
    const base = FIELDS[name] ? FIELDS[name]() : { label: name, hint: null, input: h('input', { class: 'input' }) };
    const label = options.label || base.label;
    const hint = options.hint === undefined ? base.hint : options.hint;
    const input = options.input || base.input;
    const id = `${this.prefix}-${name}`;
    input.id = id;
    input.name = name;
    if (options.value !== undefined && options.value !== null) input.value = options.value;
    this.inputs[name] = input;
    const notes = this.notes(name);
    input.setAttribute('aria-describedby', [hint ? `${id}-hint` : null, `${id}-error`, `${id}-gap`].filter(Boolean).join(' '));
    return h(
      'div',
      { class: 'field', 'data-field': name },
      h('label', { for: id }, label),
      input,
      hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
      notes,
    );
  }

  /** The refusal, gap and recommendation slots of `name`, for what is not an input (the domain, ports). */
  notes(name) {
    const id = `${this.prefix}-${name}`;
    const slot = {
      error: h('p', { class: 'field-error', id: `${id}-error`, 'data-testid': `error-${name}`, 'aria-live': 'polite' }),
      gap: h('p', { class: 'field-gap', id: `${id}-gap`, 'data-testid': `gap-${name}` }),
      recommendation: h('p', { class: 'field-soft', 'data-testid': `recommendation-${name}` }),
    };
    this.slots[name] = slot;
    return [slot.error, slot.gap, slot.recommendation];
  }

  /** The text of a field's input, trimmed ('' when the form has no such field). */
  text(name) {
    return this.inputs[name] ? this.inputs[name].value.trim() : '';
  }

  /** The spec fields this form holds, as the API takes them (unset choices are null). */
  values() {
    const out = {};
    for (const name of Object.keys(this.inputs)) {
      const input = this.inputs[name];
      if (name === 'tags') {
        out.tags = input.value.split(',').map((t) => t.trim()).filter(Boolean);
      } else if (name === 'description' || name === 'documentation') {
        out[name] = input.value;
      } else if (input.tagName === 'SELECT' || name === 'freshnessObjective') {
        out[name] = input.value.trim() || null;
      } else {
        out[name] = input.value.trim();
      }
    }
    return out;
  }

  /** Shows `message` as the refusal of the field `path` is about; false when the form has no such field. */
  setError(path, message) {
    const name = formField(path);
    const slot = this.slots[name];
    if (!slot) return false;
    slot.error.textContent = message || '';
    const input = this.inputs[name];
    if (input) {
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    return true;
  }

  clearErrors() {
    for (const name of Object.keys(this.slots)) this.setError(name, '');
  }

  /**
   * Places an API error next to its field: the `field` of a 42201, each of the `gaps` of a refused
   * publish (42207). Returns the fields it placed errors at (empty when none had a place).
   */
  placeError(error) {
    const body = (error && error.body) || {};
    const placed = [];
    if (body.field && this.setError(body.field, error.message)) placed.push(formField(body.field));
    for (const gap of body.gaps || []) {
      if (this.setError(gap.field, `Publishing needs this: ${gap.message}.`)) placed.push(formField(gap.field));
    }
    return placed;
  }

  /** Shows each gap and recommendation of a publish check next to its field, and clears the others. */
  showCheck({ gaps = [], recommendations = [] }) {
    const text = { gap: new Map(), recommendation: new Map() };
    const add = (kind, item) => {
      const name = formField(item.field);
      text[kind].set(name, [...(text[kind].get(name) || []), item.message]);
    };
    gaps.forEach((g) => add('gap', g));
    recommendations.forEach((r) => add('recommendation', r));
    for (const [name, slot] of Object.entries(this.slots)) {
      const gap = text.gap.get(name);
      slot.gap.textContent = gap ? `Publishing needs: ${gap.join('; ')}.` : '';
      const soft = text.recommendation.get(name);
      slot.recommendation.textContent = soft ? `Recommended: ${soft.join('; ')}.` : '';
    }
  }

  /** Moves the focus to the field `path` is about (its input, or its slot); false when there is none. */
  focus(path) {
    const name = formField(path);
    const target = this.inputs[name] || (this.slots[name] && this.slots[name].error.parentElement);
    if (!target) return false;
    if (target.focus && this.inputs[name] && !this.inputs[name].disabled) target.focus();
    else target.scrollIntoView({ block: 'center', behavior: 'smooth' });
    return true;
  }
}

/**
 * The live checklist of what publishing needs: asks the server about `spec()` (debounced, each call
 * aborting the one before), shows the gaps next to their fields in `form` and as a list in the element
 * it returns. `check.schedule()` after every edit, `check.now()` for at once; `check.showRefusal(gaps)`
 * paints the gaps a refused publish listed; `check.latest` is the last answer. `ready` is what the
 * list says when nothing is missing.
 */
export function publishChecklist({ form, spec, signal, delay = 300, ready = 'Ready to publish: every requirement is met.' }) {
  // Only the one-line summary is a live region: the lists are painted again on every answer, and a
  // screen reader should hear what changed, not the whole checklist after each keystroke.
  const summary = h('p', { class: 'req-summary', role: 'status' }, 'Checking what publishing needs…');
  const details = h('div');
  const element = h('div', { class: 'requirements', 'data-testid': 'requirements', 'data-state': 'checking' }, summary, details);
  const say = (text, kind, testid) => {
    if (summary.textContent !== text) summary.textContent = text;
    summary.className = `req-summary${kind ? ` req-summary-${kind}` : ''}`;
    if (testid) summary.dataset.testid = testid;
    else delete summary.dataset.testid;
  };
  let timer = null;
  let inflight = null;
  let latest = null;

  const item = (entry, testid, mark) =>
    h(
      'li',
      { 'data-testid': testid, 'data-field': entry.field, 'data-rule': entry.rule, class: testid === 'gap' ? 'req-missing' : 'req-soft' },
      h('span', { class: 'req-mark', 'aria-hidden': 'true' }, mark),
      h('button', { type: 'button', class: 'link-button', onclick: () => form.focus(entry.field) }, entry.message),
    );

  function paint(answer) {
    clear(details);
    const { gaps, recommendations } = answer;
    element.dataset.state = gaps.length ? 'gaps' : 'ready';
    if (gaps.length) say(`${gaps.length} to fix before publishing:`, 'missing');
    else say(`✓ ${ready}`, 'ready', 'publish-ready');
    details.append(
      gaps.length ? h('ul', { class: 'req-list' }, ...gaps.map((g) => item(g, 'gap', '✗'))) : '',
      h('h3', {}, 'Recommended'),
      recommendations.length
        ? h('ul', { class: 'req-list' }, ...recommendations.map((r) => item(r, 'recommendation', '○')))
        : h('p', { class: 'muted' }, 'Everything governance recommends is there.'),
    );
  }

  async function run() {
    timer = null;
    if (signal && signal.aborted) return;
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    if (signal) signal.addEventListener('abort', () => controller.abort(), { once: true });
    element.dataset.state = 'checking';
    try {
      const answer = await api('/api/v1/products:check', { method: 'POST', body: spec(), signal: controller.signal });
      if (controller.signal.aborted) return;
      latest = answer;
      form.showCheck(answer);
      // A value the check could read is no longer refused (a save's refusals stay until the next save).
      for (const name of Object.keys(form.slots)) if (form.slots[name].error.dataset.from === 'check') clearCheckError(name);
      paint(answer);
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      latest = null;
      clear(details);
      // The spec does not parse: the server names the field; publishing cannot be judged until it does.
      const field = error.body && error.body.field;
      if (field && form.setError(field, error.message)) {
        const slot = form.slots[formField(field)];
        slot.error.dataset.from = 'check';
        // What the last readable spec lacked there no longer applies to what the field holds now.
        slot.gap.textContent = '';
        slot.recommendation.textContent = '';
        element.dataset.state = 'invalid';
        say('Fix the field marked in the form to see what publishing needs.', 'missing');
      } else {
        element.dataset.state = 'error';
        say(`Cannot check the publishing requirements: ${error.message}`, 'missing');
      }
    } finally {
      if (inflight === controller) inflight = null;
    }
  }

  function clearCheckError(name) {
    delete form.slots[name].error.dataset.from;
    form.setError(name, '');
  }

  return {
    element,
    get latest() {
      return latest;
    },
    schedule() {
      clearTimeout(timer);
      timer = setTimeout(run, delay);
    },
    now() {
      clearTimeout(timer);
      return run();
    },
    showRefusal(gaps) {
      const answer = { gaps, recommendations: (latest && latest.recommendations) || [] };
      form.showCheck(answer);
      paint(answer);
    },
    stop() {
      clearTimeout(timer);
      if (inflight) inflight.abort();
    },
  };
}
