// Create (/create): write ksqlDB SQL, see it validated as you type, preview its output on live data,
// create the stream or table, then publish it as a draft data product.
//
// Stable hooks for the end-to-end tests (besides roles and labels):
//   data-testid="sql-editor"        the editor (its <textarea> is labelled "SQL")
//   data-testid="sql-status"        validation result: data-state="valid" | "invalid" | "checking" | "empty"
//   data-testid="sql-error"         the inline error message (data-line, data-column)
//   data-testid="preview-run"       the Preview button (also Ctrl/Cmd+Enter in the editor)
//   data-testid="preview-stop"      stops the preview
//   data-testid="preview-status"    "N rows" and how the preview ended (data-state="running" | "done" | "stopped" | "error")
//   data-testid="preview-table"     the preview's <table>; one <tr data-testid="preview-row"> per row
//   data-testid="create-run"        runs the statement (CREATE ... AS SELECT) through /ksql
//   data-testid="create-result"     what the statement did
//   data-testid="publish-form"      the "publish as a data product" form (after a CREATE ... AS SELECT)
//   data-testid="publish-submit"    creates the draft product and goes to /manage/{id}
//   data-testid="sources"           the side panel; one <details data-testid="source" data-name=NAME> per stream/table,
//                                   with one <a data-testid="source-product" data-product=ID> per product it serves
//   data-testid="templates"         the template gallery; one <article data-testid="template" data-id=ID> per
//                                   template, its button data-testid="template-use" (loads it and previews)

import { api, getActor } from '../lib/api.js';
import { h, clear, debounce, toast, ensureStyle, fmtNumber } from '../lib/dom.js';
import { tokenize, ksql, validateSql, previewQuery, parseSchema, streamQuery } from '../lib/sql.js';
import { confirmDialog, openDialog } from '../lib/dialog.js';
import { badge, skeleton } from '../lib/ui.js';
import { ProductForm } from '../lib/product-form.js';

const DRAFT_KEY = 'weft.create.sql';

/**
 * The use-case templates: ready queries against the demo mesh, one list in `lib/templates.json`
 * (which crates/weft/tests/demo.rs also checks against a started demo). The first is the starting
 * example. Without them (the file unreadable) the page still works, from an empty editor.
 */
async function loadTemplates(signal) {
  try {
    const response = await fetch('/ui/lib/templates.json', { signal });
    if (!response.ok) return [];
    const file = await response.json();
    return Array.isArray(file.templates) ? file.templates : [];
  } catch {
    return [];
  }
}

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/create.css');
  ctx.setTitle('Create');
  const templates = await loadTemplates(ctx.signal);
  const EXAMPLE = templates.length ? templates[0].sql : '';
  const cleanups = [];
  let validation = null; // the last answer of /api/v1/sql/validate for the current text
  let validateAbort = null;
  let previewAbort = null;
  let lastCreated = null; // {name, kind} of the last source created here
  let previewWhenChecked = false; // a template was just loaded: preview it once it validates

  // ----- the editor -----
  const initial =
    (params.query && params.query.get('sql')) ||
    (params.query && params.query.get('source') && `SELECT * FROM ${params.query.get('source')} EMIT CHANGES;`) ||
    sessionStorage.getItem(DRAFT_KEY) ||
    EXAMPLE;
  const textarea = h('textarea', {
    id: 'sql-input',
    class: 'sql-input',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    wrap: 'off',
    'aria-describedby': 'sql-help sql-status',
  });
  textarea.value = initial;
  const code = h('code', {});
  const highlight = h('pre', { class: 'sql-highlight', 'aria-hidden': 'true' }, code);
  const gutter = h('div', { class: 'sql-gutter', 'aria-hidden': 'true' });
  const editor = h(
    'div',
    { class: 'sql-editor', 'data-testid': 'sql-editor' },
    gutter,
    h('div', { class: 'sql-area' }, highlight, textarea),
  );
  const status = h('div', {
    id: 'sql-status',
    class: 'sql-status',
    'data-testid': 'sql-status',
    'data-state': 'empty',
    role: 'status',
    'aria-live': 'polite',
  });

  // ----- actions and preview -----
  const previewButton = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'preview-run', onclick: () => runPreview() },
    'Preview',
  );
  const stopButton = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'preview-stop', disabled: true, onclick: () => stopPreview() },
    'Stop',
  );
  const createButton = h(
    'button',
    { type: 'button', class: 'btn btn--primary', 'data-testid': 'create-run', disabled: true, onclick: () => runCreate() },
    'Create',
  );
  const wrapButton = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'create-wrap', hidden: true, onclick: () => wrapInCreate() },
    'Make it a stream…',
  );
  const limitInput = h('input', { id: 'preview-limit', type: 'number', min: '1', max: '1000', value: '50', class: 'input' });
  const fromSelect = h(
    'select',
    { id: 'preview-from', class: 'input' },
    h('option', { value: 'earliest' }, 'the earliest record'),
    h('option', { value: 'latest' }, 'new records only'),
  );
  const previewStatus = h('p', {
    class: 'preview-status',
    'data-testid': 'preview-status',
    'aria-live': 'polite',
  });
  const previewBox = h('div', { class: 'preview-box' });
  const createResult = h('div', { class: 'create-result', 'data-testid': 'create-result', 'aria-live': 'polite' });
  const publishBox = h('div', { class: 'publish-box' });

  // ----- the side panel -----
  const sourceFilter = h('input', { id: 'source-filter', type: 'search', class: 'input', placeholder: 'Filter' });
  const sourceList = h('div', { class: 'source-list' });
  const panel = h(
    'aside',
    { class: 'create-panel panel', 'data-testid': 'sources', 'aria-labelledby': 'sources-title' },
    h(
      'div',
      { class: 'create-panel-head' },
      h('h2', { id: 'sources-title' }, 'Streams and tables'),
      h('button', { type: 'button', class: 'btn btn--small', onclick: () => loadSources() }, 'Refresh'),
    ),
    h('label', { for: 'source-filter', class: 'visually-hidden' }, 'Filter streams and tables'),
    sourceFilter,
    h('p', { class: 'hint' }, 'Open one to see its columns; the buttons insert names at the cursor.'),
    sourceList,
  );

  // ----- the template gallery -----
  const gallery = h(
    'section',
    { class: 'templates panel', 'data-testid': 'templates', 'aria-labelledby': 'templates-title' },
    h('h2', { id: 'templates-title' }, 'Start from a template'),
    h('p', { class: 'hint' }, 'Ready queries against the demo mesh: use one to load it into the editor and preview its output live.'),
    h(
      'div',
      { class: 'template-list' },
      ...templates.map((t) =>
        h(
          'article',
          { class: 'template', 'data-testid': 'template', 'data-id': t.id, 'aria-labelledby': `template-${t.id}` },
          h('h3', { id: `template-${t.id}` }, t.title),
          h('p', { class: 'template-description' }, t.description),
          h(
            'dl',
            { class: 'template-io' },
            h('dt', {}, 'Reads'),
            h('dd', {}, ...(t.inputs || []).flatMap((name, i) => [i ? ', ' : '', h('code', {}, name)])),
            h('dt', {}, 'Creates'),
            h('dd', {}, t.output),
          ),
          h(
            'button',
            { type: 'button', class: 'btn btn--small', 'data-testid': 'template-use', onclick: () => useTemplate(t) },
            'Use and preview',
          ),
        ),
      ),
    ),
  );

  clear(root);
  root.append(
    h(
      'div',
      { class: 'page-header' },
      h(
        'div',
        {},
        h('h1', {}, 'Create'),
        h(
          'p',
          { class: 'lead' },
          'Write a query in ksqlDB SQL, preview its output on live data, create the stream or table, then publish it as a data product.',
        ),
      ),
    ),
    h(
      'div',
      { class: 'create-layout' },
      h(
        'section',
        { class: 'create-main', 'aria-label': 'SQL editor' },
        templates.length ? gallery : null,
        h('label', { for: 'sql-input', class: 'label' }, 'SQL'),
        h(
          'p',
          { id: 'sql-help', class: 'hint' },
          'Ctrl+Enter (⌘+Enter) previews the statement at the cursor. Tab indents; press Esc, then Tab, to leave the editor.',
        ),
        editor,
        status,
        h(
          'div',
          { class: 'create-actions' },
          previewButton,
          stopButton,
          h(
            'span',
            { class: 'create-options' },
            h('label', { for: 'preview-limit' }, 'Rows'),
            limitInput,
            h('label', { for: 'preview-from' }, 'from'),
            fromSelect,
          ),
          h('span', { class: 'spacer' }),
          wrapButton,
          createButton,
        ),
        createResult,
        publishBox,
        h(
          'section',
          { class: 'preview panel', 'aria-labelledby': 'preview-title' },
          h('h2', { id: 'preview-title' }, 'Preview'),
          previewStatus,
          previewBox,
        ),
      ),
      panel,
    ),
  );
  previewStatus.textContent = 'Nothing previewed yet: the preview runs the query on live data and creates nothing.';
  previewStatus.dataset.state = 'idle';

  // ----- editor behaviour -----
  function paint() {
    const text = textarea.value;
    const error = validation && !validation.valid && !createdHere() && validation.errors[0];
    const lines = text.split('\n');
    // Gutter.
    clear(gutter);
    lines.forEach((_, i) => {
      const bad = error && error.line === i + 1;
      gutter.append(
        h('div', { class: bad ? 'sql-lineno sql-lineno-error' : 'sql-lineno', title: bad ? error.message : null }, String(i + 1)),
      );
    });
    // Highlighted text, one element per line so the error line can be marked and annotated.
    clear(code);
    let line = [];
    let column = 1; // of the next character on the current line
    const lineEls = [];
    const flush = () => {
      lineEls.push(line);
      line = [];
      column = 1;
    };
    for (const token of tokenize(text)) {
      const parts = token.text.split('\n');
      parts.forEach((part, i) => {
        if (i > 0) flush();
        if (!part) return;
        const width = [...part].length;
        // The token the error's column falls in gets the wavy underline.
        const hit = error && error.line === lineEls.length + 1 && error.column >= column && error.column < column + width;
        const plain = token.type === 'space' || token.type === 'op';
        let node = plain && !hit ? part : h('span', { class: `tok-${token.type}` }, part);
        if (hit) node = h('span', { class: 'sql-error-token' }, node);
        line.push(node);
        column += width;
      });
    }
    flush();
    lineEls.forEach((children, i) => {
      const bad = error && error.line === i + 1;
      const el = h('span', { class: bad ? 'sql-line sql-line-error' : 'sql-line' }, ...children);
      if (bad) {
        el.append(
          h(
            'span',
            { class: 'sql-inline-error', 'data-testid': 'sql-error', 'data-line': String(error.line), 'data-column': String(error.column) },
            `  ✖ ${error.message}`,
          ),
        );
      }
      code.append(el, '\n');
    });
    syncScroll();
  }

  function syncScroll() {
    highlight.scrollTop = textarea.scrollTop;
    highlight.scrollLeft = textarea.scrollLeft;
    gutter.scrollTop = textarea.scrollTop;
  }

  function caretTo(line, column) {
    const lines = textarea.value.split('\n');
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, column - 1);
    textarea.focus();
    textarea.setSelectionRange(offset, offset);
  }

  function insertAtCursor(text) {
    const { selectionStart: s, selectionEnd: e, value } = textarea;
    textarea.value = value.slice(0, s) + text + value.slice(e);
    textarea.focus();
    textarea.setSelectionRange(s + text.length, s + text.length);
    onEdit();
  }

  function showStatus() {
    clear(status);
    if (!textarea.value.trim()) {
      status.dataset.state = 'empty';
      status.append('Write a statement to check it.');
    } else if (!validation) {
      status.dataset.state = 'checking';
      status.append('Checking…');
    } else if (validation.valid) {
      status.dataset.state = 'valid';
      const described = validation.statements.map(describeStatement).join('; ');
      const partly = validation.statements.some((s) => s.checked === 'syntax');
      status.append(
        badge('Valid', 'ok'),
        ' ',
        described || 'no statement',
        partly ? ' (statements after a CREATE were checked for syntax only)' : '',
      );
    } else if (createdHere()) {
      // Running the text again would fail only because it already ran: say that instead of an error.
      status.dataset.state = 'created';
      status.append(badge('Created', 'ok'), ' ', `${lastCreated.name} exists now. Publish it below, or edit the SQL to create something else.`);
    } else {
      status.dataset.state = 'invalid';
      const e = validation.errors[0];
      status.append(
        badge('Error', 'error'),
        ' ',
        h('span', {}, `Line ${e.line}, column ${e.column}: ${e.message}`),
        ' ',
        h('button', { type: 'button', class: 'link-button', onclick: () => caretTo(e.line, e.column) }, 'Go to the error'),
      );
    }
    updateButtons();
  }

  /** Whether the only problem is that the source this page just created exists. */
  function createdHere() {
    if (!lastCreated || !validation || validation.valid || validation.errors.length !== 1) return false;
    const e = validation.errors[0];
    return /already exists/.test(e.message) && e.message.includes(`'${lastCreated.name}'`);
  }

  /** Puts a push query over `name` in the editor, keeping what the user wrote (the example aside). */
  function queryIt(name) {
    const query = `SELECT * FROM ${quoteName(name)} EMIT CHANGES;`;
    const current = textarea.value.trim();
    textarea.value = !current || textarea.value === EXAMPLE ? `${query}\n` : `${textarea.value.replace(/\s*$/, '')}\n\n${query}\n`;
    onEdit();
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function describeStatement(s) {
    const what = {
      createAsSelect: `creates ${(s.sourceKind || '').toLowerCase()} ${s.name} from a query`,
      createSource: `declares ${(s.sourceKind || '').toLowerCase()} ${s.name}`,
      insertInto: `inserts a query's output into ${s.name}`,
      insertValues: `inserts a row into ${s.name}`,
      query: s.push ? 'a push query' : 'a pull query',
      drop: `drops ${s.name}`,
      describe: `describes ${s.name}`,
    }[s.kind];
    return what || s.kind;
  }

  function selectToPreview() {
    if (!validation) return null;
    // A name that is taken does not stop the query from running: it can still be previewed.
    const blocking = validation.errors.filter((e) => !/already exists/.test(e.message));
    if (blocking.length) return null;
    // The statement the caret is in, when it has a query; else the first one that has.
    const before = textarea.value.slice(0, textarea.selectionStart).split('\n');
    const caret = [before.length, before[before.length - 1].length + 1];
    const started = validation.statements.filter((s) => s.line < caret[0] || (s.line === caret[0] && s.column <= caret[1]));
    const current = started[started.length - 1];
    const withSelect = current && current.select ? current : validation.statements.find((s) => s.select);
    return withSelect ? withSelect.select : null;
  }

  function updateButtons() {
    const running = Boolean(previewAbort);
    previewButton.disabled = running || !selectToPreview();
    stopButton.disabled = !running;
    const statements = (validation && validation.valid && validation.statements) || [];
    const onlyQueries = statements.length > 0 && statements.every((s) => s.kind === 'query');
    createButton.disabled = statements.length === 0 || onlyQueries;
    const csas = statements.find((s) => s.kind === 'createAsSelect' || s.kind === 'createSource');
    if (csas) createButton.textContent = `Create ${(csas.sourceKind || '').toLowerCase()} ${csas.name}`;
    else createButton.textContent = statements.length && !onlyQueries ? 'Run' : 'Create';
    createButton.title = onlyQueries ? 'A query creates nothing: write CREATE STREAM name AS SELECT … to create a stream' : '';
    wrapButton.hidden = !(onlyQueries && statements.length === 1 && statements[0].push);
  }

  const validateSoon = debounce(async () => {
    const text = textarea.value;
    if (validateAbort) validateAbort.abort();
    if (!text.trim()) {
      validation = { valid: false, statements: [], errors: [] };
      paint();
      showStatus();
      return;
    }
    const controller = new AbortController();
    validateAbort = controller;
    if (ctx.signal) ctx.signal.addEventListener('abort', () => controller.abort());
    try {
      const answer = await validateSql(text, controller.signal);
      if (controller.signal.aborted || text !== textarea.value) return;
      validation = answer;
    } catch (e) {
      if (controller.signal.aborted) return;
      validation = { valid: false, statements: [], errors: [{ line: 1, column: 1, message: `cannot check the SQL: ${e.message}` }] };
    } finally {
      if (validateAbort === controller) validateAbort = null;
    }
    paint();
    showStatus();
    if (previewWhenChecked) {
      previewWhenChecked = false;
      if (selectToPreview()) runPreview();
    }
  }, 300);

  /** Loads a template into the editor (asking first when that replaces the user's own SQL), then previews it. */
  async function useTemplate(template) {
    const current = textarea.value.trim();
    const own = current && !templates.some((t) => t.sql.trim() === current);
    if (own) {
      const ok = await confirmDialog({
        title: `Replace your SQL with “${template.title}”?`,
        body: h('p', {}, 'The editor holds SQL of your own; the template takes its place.'),
        confirmLabel: 'Replace',
      });
      if (!ok) return;
    }
    stopPreview();
    clear(previewBox);
    previewStatus.dataset.state = 'idle';
    previewStatus.textContent = `Checking “${template.title}”, then previewing it…`;
    textarea.value = template.sql;
    previewWhenChecked = true;
    onEdit();
    textarea.focus();
    textarea.setSelectionRange(0, 0);
  }

  function onEdit() {
    sessionStorage.setItem(DRAFT_KEY, textarea.value);
    validation = null;
    paint();
    showStatus();
    validateSoon();
  }

  let escaped = false;
  textarea.addEventListener('input', onEdit);
  textarea.addEventListener('scroll', syncScroll);
  textarea.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
      event.preventDefault();
      if (selectToPreview()) runPreview();
      else if (validation && !validation.valid) toast('Fix the error first: the preview needs a valid query.', 'error');
      return;
    }
    if (event.key === 'Escape') {
      escaped = true;
      return;
    }
    if (event.key === 'Tab' && !event.shiftKey && !escaped && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      insertAtCursor('  ');
      return;
    }
    escaped = false;
  });

  // ----- preview -----
  async function runPreview() {
    const select = selectToPreview();
    if (!select) return;
    stopPreview();
    const limit = Math.max(1, Math.min(1000, Number(limitInput.value) || 50));
    const query = previewQuery(select, limit);
    const controller = new AbortController();
    previewAbort = controller;
    if (ctx.signal) ctx.signal.addEventListener('abort', () => controller.abort());
    updateButtons();
    let rows = 0;
    let columns = [];
    const tbody = h('tbody', {});
    const table = h('table', { class: 'table preview-table', 'data-testid': 'preview-table' });
    clear(previewBox);
    previewBox.append(h('p', { class: 'hint preview-query' }, h('code', {}, query)));
    const setStatus = (state, text) => {
      previewStatus.dataset.state = state;
      previewStatus.textContent = text;
    };
    setStatus('running', 'Waiting for rows…');
    try {
      const ending = await streamQuery(query, {
        properties: { 'auto.offset.reset': fromSelect.value },
        signal: controller.signal,
        onHeader(header) {
          columns = parseSchema(header.schema || '');
          table.append(
            h('caption', { class: 'visually-hidden' }, 'Preview rows'),
            h(
              'thead',
              {},
              h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c.name, h('span', { class: 'col-type' }, c.type)))),
            ),
            tbody,
          );
          previewBox.append(h('div', { class: 'table-wrap' }, table));
        },
        onRow(values) {
          rows += 1;
          tbody.append(h('tr', { 'data-testid': 'preview-row' }, ...values.map((v) => h('td', {}, cell(v)))));
          setStatus('running', `${fmtNumber(rows)} ${rows === 1 ? 'row' : 'rows'}, waiting for more…`);
        },
      });
      const count = `${fmtNumber(rows)} ${rows === 1 ? 'row' : 'rows'}`;
      if (ending.reason === 'aborted') setStatus('stopped', `Stopped: ${count}.`);
      else if (ending.reason === 'limit') setStatus('done', `${count}: the limit of ${limit} was reached.`);
      else setStatus('done', `${count}; the query ended.`);
    } catch (e) {
      setStatus('error', `The preview failed: ${e.message}`);
    } finally {
      if (previewAbort === controller) previewAbort = null;
      updateButtons();
    }
  }

  function stopPreview() {
    if (previewAbort) previewAbort.abort();
  }

  function cell(value) {
    if (value === null || value === undefined) return h('span', { class: 'null' }, 'null');
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  // ----- create -----
  /** Rewrites a push query as CREATE STREAM name WITH (VALUE_FORMAT=...) AS SELECT ... (no EMIT, no LIMIT). */
  async function wrapInCreate() {
    const query = validation.statements[0];
    const answer = await openDialog({
      title: 'Create a stream from this query',
      testid: 'wrap-dialog',
      body: h('p', {}, 'The query becomes a persistent query writing a new stream; its output topic gets the stream’s name.'),
      fields: [
        { id: 'wrap-name', label: 'Stream name', required: true, placeholder: 'BIG_ORDERS', hint: 'Letters, digits and underscores.' },
        {
          id: 'wrap-format',
          label: 'Value format',
          type: 'select',
          value: 'JSON_SR',
          options: [
            { value: 'JSON_SR', label: 'JSON_SR (JSON with a registered schema)' },
            { value: 'AVRO', label: 'AVRO' },
            { value: 'JSON', label: 'JSON (schema registered only when it becomes a product)' },
          ],
          hint: 'JSON_SR and AVRO register the schema as the query starts; plain JSON gets one when published as a product.',
        },
      ],
      confirmLabel: 'Rewrite the SQL',
      onConfirm: (v) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v['wrap-name'])) throw new Error('Use letters, digits and underscores, starting with a letter.');
        return v;
      },
      fieldFor: () => 'wrap-name',
    });
    if (!answer) return;
    const select = query.select
      .replace(/;+\s*$/, '')
      .replace(/\s+limit\s+\d+\s*$/i, '')
      .replace(/\s+emit\s+changes\s*$/i, '');
    textarea.value = `CREATE STREAM ${answer['wrap-name'].toUpperCase()} WITH (VALUE_FORMAT='${answer['wrap-format']}') AS\n${select};\n`;
    onEdit();
    textarea.focus();
  }

  async function runCreate() {
    if (!validation || !validation.valid) return;
    const statements = validation.statements;
    const creates = statements.filter((s) => s.kind === 'createAsSelect' || s.kind === 'createSource');
    const summary = statements.filter((st) => st.kind !== 'query').map(describeStatement).join('; ');
    const ok = await confirmDialog({
      title: creates.length ? `Create ${creates.map((s) => s.name).join(', ')}?` : 'Run these statements?',
      body: h(
        'div',
        {},
        h('p', {}, `This ${summary}.`),
        creates.some((st) => st.kind === 'createAsSelect')
          ? h(
              'p',
              {},
              `Its persistent query keeps running on the server until it is terminated, starting from ${
                fromSelect.value === 'earliest' ? 'the earliest record of its inputs' : 'new records only'
              } (the “from” choice).`,
            )
          : null,
      ),
      confirmLabel: creates.length ? 'Create' : 'Run',
    });
    if (!ok) return;
    createButton.disabled = true;
    clear(createResult);
    createResult.append(h('p', { class: 'hint' }, 'Running…'));
    try {
      // Queries create nothing (and push queries belong to /query): run the other statements only.
      const runnable = statements.filter((st) => st.kind !== 'query');
      const entities = await ksql(runnable.map((st) => `${st.text};`).join('\n'), { 'auto.offset.reset': fromSelect.value });
      clear(createResult);
      const messages = (Array.isArray(entities) ? entities : [])
        .map((e) => (e.commandStatus && e.commandStatus.message) || e['@type'])
        .filter(Boolean);
      createResult.append(
        h('div', { class: 'alert alert--info', role: 'status' }, h('strong', {}, 'Done. '), messages.join(' ') || 'The statements ran.'),
      );
      toast(messages[0] || 'Done', 'success');
      const made = creates.find((s) => s.kind === 'createAsSelect') || creates[0];
      if (made) {
        lastCreated = { name: made.name, kind: made.sourceKind };
        showPublishForm(lastCreated);
      }
      loadSources();
      validateSoon();
    } catch (e) {
      clear(createResult);
      createResult.append(h('div', { class: 'alert alert--error', role: 'alert' }, h('strong', {}, 'The statement failed: '), e.message));
    } finally {
      updateButtons();
    }
  }

  // ----- publish -----
  // The fields are the product form's (lib/product-form.js), as Manage shows them; the server fills in
  // the ports and lineage from the query, and says which field a refusal is about.
  async function showPublishForm(source) {
    clear(publishBox);
    const slug = source.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
    const form = new ProductForm('pub');
    const domainSelect = h('select', { class: 'input', required: true }, h('option', { value: '' }, 'Loading domains…'));
    const submit = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'publish-submit' }, 'Create the draft product');
    const formError = h('div', { class: 'field-error form-error', role: 'alert' });
    const el = h(
      'form',
      { class: 'panel publish-form', 'data-testid': 'publish-form', novalidate: true },
      h('h2', {}, `Publish ${source.name} as a data product`),
      h(
        'p',
        { class: 'hint' },
        'This creates a draft product whose output port is the new ',
        (source.kind || 'stream').toLowerCase(),
        "'s topic, with input ports and field lineage taken from the query. You can complete its metadata and publish it on the next page, which shows what publishing still needs.",
      ),
      h(
        'div',
        { class: 'form-grid' },
        form.field('domain', { label: 'Domain', hint: null, input: domainSelect }),
        form.field('id', {
          label: 'Product id (in the domain)',
          hint: 'Lowercase letters, digits and dashes: the id becomes DOMAIN.ID.',
          input: h('input', { class: 'input', required: true }),
          value: slug,
        }),
        form.field('name', { label: 'Display name', hint: null, value: source.name.replace(/_/g, ' ').toLowerCase().replace(/^./, (c) => c.toUpperCase()) }),
        form.field('owner', { value: getActor() }),
        form.field('qualityTier', { value: '' }),
      ),
      form.field('description'),
      formError,
      h('div', { class: 'form-actions' }, submit),
    );
    publishBox.append(el);
    try {
      const { domains } = await api('/api/v1/domains');
      clear(domainSelect);
      const actor = getActor();
      const mine = domains.filter((d) => (d.spec.members || []).some((m) => m.user === actor));
      const ordered = mine.concat(domains.filter((d) => !mine.includes(d)));
      domainSelect.append(h('option', { value: '' }, ordered.length ? 'Choose a domain' : 'No domain exists yet'));
      for (const d of ordered) {
        domainSelect.append(h('option', { value: d.spec.name }, mine.includes(d) ? `${d.spec.name} (yours)` : d.spec.name));
      }
      if (mine.length === 1) domainSelect.value = mine[0].spec.name;
    } catch (e) {
      formError.textContent = `Cannot list the domains: ${e.message}`;
    }
    el.addEventListener('submit', async (event) => {
      event.preventDefault();
      form.clearErrors();
      formError.textContent = '';
      const values = form.values();
      if (!values.domain) {
        form.setError('domain', 'Choose the domain that will own the product.');
        form.focus('domain');
        return;
      }
      // `id` within `domain`: the server makes DOMAIN.ID and says what is wrong with it.
      const body = { source: source.name, id: values.id, domain: values.domain, name: values.name || undefined, owner: values.owner || undefined };
      if (values.description.trim()) body.description = values.description.trim();
      if (values.qualityTier) body.qualityTier = values.qualityTier;
      submit.disabled = true;
      try {
        const made = await api('/api/v1/products/from-sql', { method: 'POST', body });
        const productId = made.product.spec.id;
        toast(`Draft product ${productId} created`, 'success');
        ctx.navigate(`/manage/${encodeURIComponent(productId)}`);
      } catch (e) {
        // The answer's `field` says where; an id that is taken or not valid, or a domain that does not
        // exist, by their codes.
        const byCode = { 40901: 'id', 42202: 'id', 40403: 'domain' }[e.code];
        const placed = form.placeError(e);
        if (!placed.length && byCode) form.setError(byCode, e.message);
        const where = placed[0] || byCode;
        if (where) form.focus(where);
        else formError.textContent = e.message;
      } finally {
        submit.disabled = false;
      }
    });
    el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  // ----- streams and tables -----
  let sources = [];
  async function loadSources() {
    clear(sourceList);
    sourceList.append(skeleton('lines', 3));
    try {
      // The streams and tables SHOW STREAMS and SHOW TABLES list, each with the products it serves.
      ({ sources } = await api('/api/v1/sql/sources'));
      sources.sort((a, b) => a.name.localeCompare(b.name));
      paintSources();
    } catch (e) {
      clear(sourceList);
      sourceList.append(h('p', { class: 'field-error' }, `Cannot list streams and tables: ${e.message}`));
    }
  }

  function paintSources() {
    clear(sourceList);
    const filter = sourceFilter.value.trim().toUpperCase();
    const shown = sources.filter((s) => !filter || s.name.toUpperCase().includes(filter));
    if (!sources.length) {
      sourceList.append(h('p', { class: 'muted' }, 'No streams or tables yet. Declare one with CREATE STREAM name (columns…) WITH (KAFKA_TOPIC=…).'));
      return;
    }
    if (!shown.length) {
      sourceList.append(h('p', { class: 'muted' }, 'Nothing matches the filter.'));
      return;
    }
    for (const s of shown) {
      const columnsBox = h('div', { class: 'source-columns' });
      const details = h(
        'details',
        { class: 'source', 'data-testid': 'source', 'data-name': s.name },
        h(
          'summary',
          {},
          h('span', { class: 'source-name' }, s.name),
          ' ',
          badge(s.kind.toLowerCase(), s.kind === 'TABLE' ? 'info' : 'plain'),
          (s.products || []).length
            ? h('span', { class: 'source-products' }, 'serves ', ...s.products.flatMap((p, i) => [
              i ? ', ' : null,
              h('a', { href: `/products/${encodeURIComponent(p.product)}`, 'data-testid': 'source-product', 'data-product': p.product,
                title: `${p.name} (${p.status}), port ${p.port} v${p.portVersion}` }, p.product)]))
            : null,
        ),
        h(
          'div',
          { class: 'source-body' },
          h('p', { class: 'hint' }, `Topic ${s.topic} · ${s.valueFormat || ''}`),
          h(
            'div',
            { class: 'source-actions' },
            h('button', { type: 'button', class: 'btn btn--small', onclick: () => insertAtCursor(s.name) }, 'Insert name'),
            h(
              'button',
              { type: 'button', class: 'btn btn--small', onclick: () => queryIt(s.name) },
              'Query it',
            ),
          ),
          columnsBox,
        ),
      );
      details.addEventListener('toggle', async () => {
        if (!details.open || columnsBox.dataset.loaded) return;
        columnsBox.dataset.loaded = '1';
        columnsBox.append(skeleton('lines', 2));
        try {
          const [entity] = await ksql(`DESCRIBE ${quoteName(s.name)};`);
          clear(columnsBox);
          const fields = (entity.sourceDescription && entity.sourceDescription.fields) || [];
          const list = h('ul', { class: 'column-list', 'aria-label': `Columns of ${s.name}` });
          for (const f of fields) {
            list.append(
              h(
                'li',
                {},
                h('button', { type: 'button', class: 'link-button mono column-insert', title: `Insert ${f.name}`, onclick: () => insertAtCursor(quoteName(f.name)) }, f.name),
                ' ',
                h('span', { class: 'col-type' }, (f.schema && f.schema.type) || ''),
                f.type === 'KEY' ? badge('key', 'info') : null,
              ),
            );
          }
          columnsBox.append(list);
        } catch (e) {
          clear(columnsBox);
          delete columnsBox.dataset.loaded;
          columnsBox.append(h('p', { class: 'field-error' }, e.message));
        }
      });
      sourceList.append(details);
    }
  }
  sourceFilter.addEventListener('input', paintSources);

  paint();
  showStatus();
  validateSoon.flush(); // at once: the debounce is for typing
  loadSources();

  return () => {
    stopPreview();
    if (validateAbort) validateAbort.abort();
    for (const c of cleanups) c();
  };
}

/** A name as SQL: unquoted when the parser would read it back unchanged (upper case), else back-quoted. */
function quoteName(name) {
  return /^[A-Z_][A-Z0-9_]*$/.test(name) ? name : `\`${name.replace(/`/g, '``')}\``;
}
