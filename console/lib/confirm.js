// A two-step action: the first button opens a confirm panel in place (a
// question, an optional reason, Confirm and Cancel); only Confirm acts. Inline
// rather than window.confirm, so it is keyboard-reachable, labelled, and
// leaves focus where the operator is.

import { el } from './dom.js';

let seq = 0;

/**
 * A button that asks before it acts. `act(reason)` runs on Confirm; the panel
 * closes whatever it answers. Returns the wrapper to place in the page.
 */
export function confirmButton({ text, label, question, confirmText, cls, act }) {
  const id = `confirm-${++seq}`;
  const wrap = el('div', { class: 'confirm-wrap' });
  const open = el('button', { type: 'button', class: cls || '', text, 'aria-label': label || text, 'aria-expanded': 'false', 'aria-controls': id });
  const reason = el('input', { id: `${id}-reason`, type: 'text', maxlength: 2000, autocomplete: 'off' });
  const yes = el('button', { type: 'submit', class: `${cls || ''} confirm-yes`, text: confirmText });
  const no = el('button', { type: 'button', text: 'Cancel' });
  const panel = el(
    'form',
    { id, class: 'confirm', hidden: true, role: 'group', 'aria-label': question },
    el('p', { class: 'confirm-question', text: question }),
    el('label', { for: `${id}-reason`, text: 'Reason (recorded as a hash)' }),
    reason,
    el('div', { class: 'confirm-buttons' }, yes, no),
  );
  const close = () => {
    panel.hidden = true;
    open.hidden = false;
    open.setAttribute('aria-expanded', 'false');
  };
  open.addEventListener('click', () => {
    panel.hidden = false;
    open.hidden = true;
    open.setAttribute('aria-expanded', 'true');
    yes.focus();
  });
  no.addEventListener('click', () => {
    close();
    open.focus();
  });
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      close();
      open.focus();
    }
  });
  panel.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    yes.disabled = true;
    no.disabled = true;
    try {
      await act(reason.value.trim());
    } finally {
      yes.disabled = false;
      no.disabled = false;
      close();
    }
  });
  wrap.append(open, panel);
  return wrap;
}
