import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@idm/test-kit';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

/**
 * Driving the console in a real Chromium (Debian's, by playwright-core): launching it, signing
 * in, axe-core checks, keyboard walks and narrow-window checks, shared by the console specs.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = join(__dirname, '..', '..', '..', '..', '.test-output', 'console');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root in CI; no background traffic to hosts this machine cannot reach.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

export async function signIn(context: BrowserContext, ui: string, username: string, password: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${ui}/`);
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  return page;
}

/**
 * Picks `option` of the combobox named `combobox` inside `scope` (a dialog, or the page). A click
 * made while a screen settles can miss the dropdown (CI once saw an option never show in 30 s),
 * and options may arrive after the list opens: the combobox is clicked again (open, or close and
 * reopen) until the option shows.
 */
export async function pick(page: Page, scope: Page | Locator, combobox: string, option: string): Promise<void> {
  const choice = page.getByRole('option', { name: option, exact: true });
  await eventually(async () => (await choice.isVisible()) || (await scope.getByRole('combobox', { name: combobox }).click({ force: true }), false), Boolean, {
    what: `option ${option} of ${combobox}`,
    timeoutMs: 30_000,
    intervalMs: 1_000,
  });
  await choice.click();
}

/** axe-core in the page (a context that bypasses the CSP only to inject it): serious and critical findings. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return axe.run(document);
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The console's session of a signed-in page, to open more contexts as the same operator (the session is per tab). */
export function sessionOf(page: Page): Promise<string | null> {
  return page.evaluate(() => sessionStorage.getItem('idm.session'));
}

/**
 * The screens at `paths` (after `then`, e.g. a dialog opened), each checked by axe-core (own
 * context: only there is the CSP bypassed, to inject axe).
 */
export async function seriousViolationsIn(browser: Browser, ui: string, signedIn: BrowserContext, paths: string[], then?: (page: Page) => Promise<unknown>): Promise<string[]> {
  const storage = await sessionOf(signedIn.pages()[0]);
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  await context.addInitScript((session) => sessionStorage.setItem('idm.session', session!), storage);
  const page = await context.newPage();
  const found: string[] = [];
  for (const path of paths) {
    await page.goto(`${ui}${path}`);
    await page.getByRole('heading', { level: 2 }).first().waitFor();
    await page.waitForLoadState('networkidle');
    if (then) {
      await then(page);
      await page.getByRole('dialog').last().waitFor(); // a confirmation may open over another dialog
      // The pointer left where `then` clicked may now hover a button of the dialog: axe judges the resting colours.
      await page.mouse.move(0, 0);
    }
    found.push(...(await seriousViolations(page)).map((v) => `${path}: ${v}`));
  }
  await context.close();
  return found;
}

/** Presses Tab until the focused element is named `name` (its label or text); fails when focus is not visibly outlined. */
export async function tabTo(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return null;
      const label = el.getAttribute('aria-label') ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null) ?? el.textContent;
      const style = getComputedStyle(el);
      return { label: (label ?? '').replace(/\s*\*$/, '').trim(), outline: style.outlineStyle !== 'none' && style.outlineWidth !== '0px' };
    });
    if (focused?.label === name) {
      if (!focused.outline) throw new Error(`${name} has focus but no visible outline`);
      return;
    }
  }
  throw new Error(`Tab never reached ${name}`);
}

/** A screen for `sidewaysScroll`: its name (the screenshot's), its path, and what to do there first (e.g. open a dialog). */
export type NarrowScreen = [name: string, path: string, then?: (page: Page) => Promise<unknown>];
/** A screen's name and how far it scrolls sideways; with a third entry, the text of each badge cut short there. */
export type NarrowFit = [name: string, sideways: number] | [name: string, sideways: number, cutBadges: string[]];

/**
 * Each screen on a narrow window (420 px unless `width` says; a phone is 375 or 390): how far it
 * scrolls sideways, or its open dialog sticks out or scrolls sideways (0 everywhere is the goal; a
 * wide table scrolls in its own box), with a screenshot. A Mantine badge whose text is cut (an
 * ellipsis, or clipped: its label or itself holds more than it shows) is named in a third entry,
 * so `[name, 0]` says the screen fits and every badge on it reads whole.
 */
export async function sidewaysScroll(browser: Browser, ui: string, signedIn: Page, screens: NarrowScreen[], width = 420): Promise<NarrowFit[]> {
  const storage = await sessionOf(signedIn);
  const narrow = await browser.newContext({ viewport: { width, height: 860 } });
  await narrow.addInitScript((session) => sessionStorage.setItem('idm.session', session!), storage);
  const small = await narrow.newPage();
  const found: NarrowFit[] = [];
  for (const [name, path, then] of screens) {
    await small.goto(`${ui}${path}`);
    await small.getByRole('heading', { level: 2 }).first().waitFor();
    await small.waitForLoadState('networkidle');
    if (then) {
      await then(small);
      await small.getByRole('dialog').last().waitFor();
    }
    const { sideways, cutBadges } = await small.evaluate(() => {
      const page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
      // A dialog is fixed to the viewport: it adds nothing to the page's width, so it is measured itself.
      const dialogs = Array.from(document.querySelectorAll('[role="dialog"]')).map((d) => {
        const box = d.getBoundingClientRect();
        return Math.max(d.scrollWidth - d.clientWidth, Math.ceil(box.right - window.innerWidth), Math.ceil(-box.left));
      });
      const holdsMore = (el: Element) => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
      const cut = Array.from(document.querySelectorAll('.mantine-Badge-root')).filter((badge) => {
        const label = badge.querySelector('.mantine-Badge-label');
        return holdsMore(badge) || (label !== null && holdsMore(label));
      });
      return { sideways: Math.max(page, 0, ...dialogs), cutBadges: cut.map((b) => b.textContent ?? '') };
    });
    found.push(cutBadges.length > 0 ? [name, sideways, cutBadges] : [name, sideways]);
    await shot(small, `narrow-${name}`);
  }
  await narrow.close();
  return found;
}
