// A minimal OpenAI-compatible upstream for the LLM route benchmark, in its own process: a chat
// completion as JSON with usage, or as 4 SSE events with usage in the last one when the request
// streams. Prints {"port":N} once listening; exits when the harness goes away (stdin closes).
import { createServer } from 'node:http';

const usage = { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 };
const json = JSON.stringify({ id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there, how can I help?' } }], usage });
const event = (data) => `data: ${JSON.stringify(data)}\n\n`;
const delta = (content) => ({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] });
const stream = event(delta('Hello')) + event(delta(' there,')) + event(delta(' how can I help?')) + event({ id: 'c', choices: [], usage }) + 'data: [DONE]\n\n';

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const streamed = Buffer.concat(chunks).includes('"stream":true');
    if (streamed) res.writeHead(200, { 'content-type': 'text/event-stream' }).end(stream);
    else res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
