import { restoreFastStringPrototype } from '@idm/config-bus';
import { parentPort } from 'node:worker_threads';
import { parseGatewayConfig } from '../config/gateway-config';
import { createGatewayLogger } from '../logging/gateway-logger';
import { ControlRelay } from './control-relay';
import { DataPlane } from './data-plane';
import type { FromDataPlane, ToDataPlane } from './thread-messages';

/**
 * Entry point of the data-plane thread (see DataPlaneThread). The environment was checked by the
 * control thread before it started this one, so parsing it again cannot fail here; an error that
 * escapes (a port in use, say) ends the thread and the control thread exits the process.
 */
async function serve(): Promise<void> {
  const port = parentPort!;
  const post = (message: FromDataPlane) => port.postMessage(message);
  const config = parseGatewayConfig(process.env);
  const log = createGatewayLogger(config.logLevel);
  const relay = new ControlRelay((id, request) => post({ type: 'control-request', id, request }));
  const plane = new DataPlane(config, log, relay.handle);

  port.on('message', (message: ToDataPlane) => {
    switch (message.type) {
      case 'activate':
        try {
          plane.activate(message.snapshot);
        } catch (err) {
          // The previous revision keeps serving; the next snapshot handed over is complete again.
          return log.error({ err, environment: config.environment, revision: message.snapshot.revision }, 'config could not be activated; keeping the current config');
        }
        return post({ type: 'activated', revision: message.snapshot.revision });
      case 'control-reply':
        return relay.settle(message.id, message.reply);
      case 'scrape':
        return void plane.metrics.registry.metrics().then((text) => post({ type: 'scraped', id: message.id, text }));
      case 'stop':
        return void plane.close().then(() => {
          log.flush();
          post({ type: 'stopped' });
        });
    }
  });

  // Everything is loaded now; ioredis left String.prototype slow (see the function).
  restoreFastStringPrototype();
  post({ type: 'listening', ...(await plane.listen()) });
}

void serve().catch((err: unknown) => {
  // Rethrown outside the promise so the thread ends with an 'error' event carrying it.
  setImmediate(() => {
    throw err;
  });
});
