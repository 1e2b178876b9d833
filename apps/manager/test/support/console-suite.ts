import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { AdminClient } from './admin-client';
import { CLUSTER_ADMIN_PASSWORD, startCluster, type Cluster, type ClusterOptions } from './cluster';
import { SHOTS, launchChromium, seriousViolationsIn, signIn } from './console-browser';

/**
 * One describe's console set-up, shared by the console e2e specs: a Manager + Gateway cluster and
 * a Chromium, started in beforeAll and stopped in afterAll, and the steps every screen test
 * begins with (a signed-in window, an axe-core check of the operator's screens).
 */
export interface ConsoleSuite {
  readonly cluster: Cluster;
  readonly browser: Browser;
  /** The console's address: the Manager's `/ui`. */
  readonly ui: string;
  /** A desktop-sized (1280 px) window signed in as `username` (the cluster's admin unless named). */
  signedIn(username?: string, password?: string): Promise<{ context: BrowserContext; page: Page }>;
  /** axe-core's serious findings on `paths`, seen as the operator signed in to `context` (after `then`, e.g. a dialog opened). */
  seriousViolationsIn(context: BrowserContext, paths: string[], then?: (page: Page) => Promise<unknown>): Promise<string[]>;
}

/** Registers the beforeAll/afterAll of a console spec; call it inside the describe. Its fields are set once beforeAll ran. */
export function consoleSuite(options: ClusterOptions): ConsoleSuite {
  const suite = {} as { cluster: Cluster; browser: Browser; ui: string };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    suite.cluster = await startCluster(options);
    suite.ui = `${suite.cluster.manager.baseUrl}/ui`;
    suite.browser = await launchChromium();
  });

  afterAll(async () => {
    await suite.browser?.close();
    await suite.cluster?.stop();
  });

  return {
    get cluster() {
      return suite.cluster;
    },
    get browser() {
      return suite.browser;
    },
    get ui() {
      return suite.ui;
    },
    async signedIn(username = 'admin', password = CLUSTER_ADMIN_PASSWORD) {
      const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
      return { context, page: await signIn(context, suite.ui, username, password) };
    },
    seriousViolationsIn: (context, paths, then) => seriousViolationsIn(suite.browser, suite.ui, context, paths, then),
  };
}

/** The form group of the open dialog's field with `id` (rjsf's), where its messages show. */
export const fieldGroup = (page: Page, id: string) =>
  page
    .getByRole('dialog')
    .locator('.form-group')
    .filter({ has: page.locator(`#${id}`) })
    .last();

/** A new operator bound to the built-in project-viewer role on `projectId`: what a read-only operator sees. Its user id. */
export async function projectViewer(admin: AdminClient, projectId: string, username: string, password: string): Promise<string> {
  const viewer: { id: string } = await admin.call('POST', '/api/v1/users', { username, password });
  await bindProjectRole(admin, 'project-viewer', viewer.id, projectId);
  return viewer.id;
}

/** Binds the operator `userId` to the built-in role `roleName` (project-viewer, project-owner, …) on `projectId`. */
export async function bindProjectRole(admin: AdminClient, roleName: string, userId: string, projectId: string): Promise<void> {
  const roles: { id: string; name: string }[] = await admin.call('GET', '/api/v1/roles');
  await admin.call('POST', '/api/v1/role-bindings', {
    roleId: roles.find((r) => r.name === roleName)!.id,
    subject: { type: 'user', id: userId },
    scope: { type: 'project', id: projectId },
  });
}
