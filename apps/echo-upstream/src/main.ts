import { createEchoServer } from './echo-server';

const port = Number(process.env.ECHO_PORT ?? 8082);
const host = process.env.ECHO_HOST ?? '127.0.0.1';
createEchoServer().listen(port, host, () => {
  process.stdout.write(JSON.stringify({ level: 30, msg: `echo upstream listening on http://${host}:${port}` }) + '\n');
});
