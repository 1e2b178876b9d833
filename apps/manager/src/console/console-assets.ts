import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The console's policy: scripts, styles and fonts from this origin only, data only from this
 * origin, no framing (clickjacking), no plugins, no inline script. Mantine writes inline style
 * attributes, hence 'unsafe-inline' for styles alone.
 */
export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the console's build lands in this repository (apps/console/dist), seen from apps/manager/dist/console. */
export const DEFAULT_CONSOLE_DIR = resolve(__dirname, '..', '..', '..', 'console', 'dist');

function setSecurityHeaders(set: (name: string, value: string) => unknown): void {
  set('content-security-policy', CONSOLE_CONTENT_SECURITY_POLICY);
  set('x-content-type-options', 'nosniff');
  set('x-frame-options', 'DENY');
  set('referrer-policy', 'no-referrer');
}

/**
 * Serves the console under /ui: hashed assets cached for a year (their name changes with their
 * content), index.html never cached (so a deployment is picked up at once), and every other
 * /ui/... path answered with index.html so the app's own router shows the screen. Without a
 * build (a source checkout before `npm run build`) /ui says how to get one instead of a 404.
 */
export async function installConsole(fastify: FastifyInstance, consoleDir: string): Promise<void> {
  // Public routes (the early authentication hook lets them pass): the console's own code asks the
  // operator to sign in; its data calls to /api/v1 carry the session.
  const config = { public: true };
  fastify.get('/', { config }, async (_request, reply) => reply.redirect('/ui/', 302));
  fastify.get('/admin', { config }, async (_request, reply) => reply.redirect('/ui/', 302));
  if (!existsSync(join(consoleDir, 'index.html'))) {
    const notBuilt = async (_request: unknown, reply: FastifyReply) => {
      setSecurityHeaders((n, v) => reply.header(n, v));
      return reply.code(503).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build` (`npm start` builds it).\n');
    };
    fastify.get('/ui', { config }, notBuilt);
    fastify.get('/ui/*', { config }, notBuilt);
    return;
  }
  // Only reply.sendFile from the plugin (it refuses paths outside the root); the routes are ours.
  await fastify.register(fastifyStatic, { root: consoleDir, serve: false, cacheControl: false });
  fastify.get('/ui/assets/*', { config }, async (request, reply) => {
    setSecurityHeaders((n, v) => reply.header(n, v));
    const file = (request.params as { '*': string })['*'];
    return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(`assets/${file}`);
  });
  const sendIndex = async (_request: unknown, reply: FastifyReply) => {
    setSecurityHeaders((n, v) => reply.header(n, v));
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  };
  fastify.get('/ui', { config }, sendIndex);
  fastify.get('/ui/*', { config }, sendIndex);
}
