import type { ServerResponse } from 'node:http';
import { escapeHtml, page, writeHtml } from './login-page';

/**
 * The HTML of the self-service pages (same headers as the login page: no framing, no scripts, no
 * caching, no referrer — a mail token in the URL never leaves in a Referer). Every value escaped.
 */
export interface SelfServiceForm {
  title: string;
  action: string;
  /** Hidden fields (transaction or project and token, and the CSRF token). */
  hidden: Record<string, string>;
  fields: { name: string; label: string; type: 'email' | 'password'; autocomplete: string; value?: string }[];
  button: string;
  intro?: string;
  /** A stable code for scripts and tests on the intro (`data-outcome`), when the form answers something (a refused login). */
  outcome?: string;
  error?: string | null;
}

export function writeSelfServiceForm(res: ServerResponse, status: number, form: SelfServiceForm, headers: Record<string, string | string[]> = {}): void {
  const hidden = Object.entries(form.hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const fields = form.fields
    .map(
      (f) =>
        `<label for="${escapeHtml(f.name)}">${escapeHtml(f.label)}</label><input id="${escapeHtml(f.name)}" name="${escapeHtml(f.name)}" type="${f.type}" autocomplete="${escapeHtml(f.autocomplete)}" required${f.value ? ` value="${escapeHtml(f.value)}"` : ''}>`,
    )
    .join('\n');
  const html = page(
    form.title,
    `<h1>${escapeHtml(form.title)}</h1>${form.intro ? `<p${form.outcome ? ` role="status" data-outcome="${escapeHtml(form.outcome)}"` : ''}>${escapeHtml(form.intro)}</p>` : ''}${form.error ? `<p class="error" role="alert">${escapeHtml(form.error)}</p>` : ''}
<form method="post" action="${escapeHtml(form.action)}">${hidden}
${fields}
<button type="submit">${escapeHtml(form.button)}</button></form>`,
  );
  writeHtml(res, status, html, headers);
}

/** An outcome page: what happened, with a stable code for scripts and tests (`data-outcome`). */
export function writeSelfServiceNotice(res: ServerResponse, status: number, title: string, outcome: string, text: string, headers: Record<string, string | string[]> = {}): void {
  writeHtml(res, status, page(title, `<h1>${escapeHtml(title)}</h1><p role="status" data-outcome="${escapeHtml(outcome)}">${escapeHtml(text)}</p>`), headers);
}
