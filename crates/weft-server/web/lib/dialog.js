// Modal dialogs for confirmations and small forms, on the native <dialog> element (focus is trapped,
// Escape closes it). Owned by the web-pages helper; used by pages/manage.js, access.js and create.js.
//
// Hooks: the dialog has data-testid = the `testid` option (default "dialog"); its buttons are
// data-testid="dialog-confirm" and "dialog-cancel"; each field's input has the field's `id`.

import { h } from './dom.js';

/**
 * Opens a modal dialog and resolves with what `onConfirm` returned (or the field values when there is
 * no `onConfirm`), or with `null` when cancelled.
 *
 * fields: [{id, label, type: 'text' | 'textarea' | 'date' | 'select', value, required, hint, options:
 * [{value, label}], min, placeholder}]. `onConfirm(values)` may be async; when it throws, the dialog
 * stays open and shows the message next to the field `fieldFor(error, values)` names (a field id), or
 * above the buttons.
 */
export function openDialog({
  title,
  body = null,
  fields = [],
  confirmLabel = 'Confirm',
  danger = false,
  onConfirm = null,
  fieldFor = null,
  testid = 'dialog',
}) {
  return new Promise((resolve) => {
    const inputs = {};
    const errors = {};
    const fieldEls = fields.map((f) => {
      let input;
      const common = {
        id: f.id,
        name: f.id,
        class: 'input',
        'aria-describedby': `${f.id}-hint ${f.id}-error`,
      };
      if (f.type === 'textarea') {
        input = h('textarea', { ...common, rows: String(f.rows || 3), placeholder: f.placeholder || null });
      } else if (f.type === 'select') {
        input = h('select', common, ...(f.options || []).map((o) => h('option', { value: o.value }, o.label)));
      } else {
        input = h('input', { ...common, type: f.type || 'text', min: f.min || null, placeholder: f.placeholder || null });
      }
      if (f.required) input.required = true;
      if (f.value !== undefined && f.value !== null) input.value = f.value;
      inputs[f.id] = input;
      errors[f.id] = h('p', { class: 'field-error', id: `${f.id}-error`, 'aria-live': 'polite' });
      return h(
        'div',
        { class: 'field' },
        h('label', { for: f.id }, f.label, f.required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null),
        input,
        f.hint ? h('p', { class: 'hint', id: `${f.id}-hint` }, f.hint) : null,
        errors[f.id],
      );
    });
    const formError = h('p', { class: 'field-error form-error', role: 'alert' });
    const confirm = h(
      'button',
      { type: 'submit', class: danger ? 'btn btn--danger' : 'btn btn--primary', 'data-testid': 'dialog-confirm' },
      confirmLabel,
    );
    const cancel = h('button', { type: 'button', class: 'btn', 'data-testid': 'dialog-cancel' }, 'Cancel');
    const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
    const form = h(
      'form',
      { method: 'dialog', class: 'dialog-form', novalidate: true },
      h('h2', { id: titleId }, title),
      body ? h('div', { class: 'dialog-body' }, body) : null,
      ...fieldEls,
      formError,
      h('div', { class: 'form-actions' }, cancel, confirm),
    );
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'data-testid': testid }, form);
    document.body.append(dialog);
    let result = null;
    const close = () => {
      if (dialog.open) dialog.close();
    };
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      formError.textContent = '';
      for (const id of Object.keys(errors)) {
        errors[id].textContent = '';
        inputs[id].removeAttribute('aria-invalid');
      }
      const values = {};
      for (const f of fields) values[f.id] = inputs[f.id].value.trim();
      const missing = fields.find((f) => f.required && !values[f.id]);
      if (missing) {
        errors[missing.id].textContent = `${missing.label} is required.`;
        inputs[missing.id].setAttribute('aria-invalid', 'true');
        inputs[missing.id].focus();
        return;
      }
      if (!onConfirm) {
        result = values;
        close();
        return;
      }
      confirm.disabled = true;
      cancel.disabled = true;
      try {
        const answer = await onConfirm(values);
        result = answer === undefined ? values : answer;
        close();
      } catch (e) {
        const id = fieldFor ? fieldFor(e, values) : null;
        if (id && errors[id]) {
          errors[id].textContent = e.message;
          inputs[id].setAttribute('aria-invalid', 'true');
          inputs[id].focus();
        } else {
          formError.textContent = e.message;
        }
      } finally {
        confirm.disabled = false;
        cancel.disabled = false;
      }
    });
    dialog.showModal();
    const first = fields.length ? inputs[fields[0].id] : confirm;
    first.focus();
  });
}

/** A yes/no confirmation; resolves true when confirmed. */
export async function confirmDialog({ title, body, confirmLabel = 'Confirm', danger = false, testid = 'confirm-dialog' }) {
  const answer = await openDialog({ title, body, confirmLabel, danger, testid });
  return answer !== null;
}
