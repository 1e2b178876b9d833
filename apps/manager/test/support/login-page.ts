import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './console-browser';

/** A Chromium with one page for the OpenID Provider's pages; screenshots land in .test-output/<folder>/. */
export async function openLoginBrowser(folder: string): Promise<{ browser: Browser; context: BrowserContext; page: Page; shot: (name: string) => Promise<Buffer> }> {
  const shots = join(__dirname, '..', '..', '..', '..', '.test-output', folder);
  mkdirSync(shots, { recursive: true });
  const browser = await launchChromium();
  const context = await browser.newContext();
  const page = await context.newPage();
  return { browser, context, page, shot: (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }) };
}

/** Waits for our login page and signs in with this username and password (the outcome is the caller's to wait for). */
export async function submitLogin(page: Page, username: string, password: string): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
