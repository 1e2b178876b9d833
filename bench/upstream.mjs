// The upstream every target forwards to: the project's echo server, in its own process so its
// event loop is not shared with the harness. Prints {"port":N} once listening; exits when the
// harness goes away (stdin closes), so it cannot outlive a killed run.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { createEchoServer } = require(fileURLToPath(new URL('../apps/echo-upstream/dist/index.js', import.meta.url)));

const server = createEchoServer();
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
