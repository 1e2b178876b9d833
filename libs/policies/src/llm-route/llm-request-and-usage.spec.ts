import { readLlmRequest, LlmRequest } from './llm-request';
import { estimateTokens } from './token-estimator';
import { UsageMeter } from './usage-meter';

const sse = (...events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
const delta = (content: string) => ({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] });

/** Feeds `text` to a meter in slices of `size` bytes (cutting events and UTF-8 characters anywhere). */
function meter(contentType: string, text: string | Buffer, size = 7): UsageMeter {
  const m = new UsageMeter(contentType);
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) m.observe(bytes.subarray(i, i + size));
  return m;
}

describe('readLlmRequest', () => {
  it('refuses what is not an OpenAI-compatible request, naming why', () => {
    const cases: [string, RegExp][] = [
      ['{"model": "gpt-4o"', /not JSON/],
      ['[1,2]', /not a JSON object/],
      ['"gpt-4o"', /not a JSON object/],
      ['null', /not a JSON object/],
      ['{"messages": []}', /"model"/],
      ['{"model": 4}', /"model"/],
      ['{"model": ["gpt-4o"]}', /"model"/],
      ['{"model": {"name": "gpt-4o"}}', /"model"/],
      ['{"model": ""}', /"model"/],
      [JSON.stringify({ model: 'm'.repeat(257) }), /"model"/],
      ['{"model": "gpt-4o", "stream": "yes"}', /"stream"/],
      ['{"model": "gpt-4o", "stream": true, "stream_options": [1]}', /"stream_options"/],
      ['{"model": "gpt-4o", "stream": true, "stream_options": "x"}', /"stream_options"/],
    ];
    for (const [body, reason] of cases) expect(readLlmRequest(Buffer.from(body), true)).toMatch(reason);
  });

  it('asks a streamed call for its usage unless it already does, keeping the other options', () => {
    const raw = Buffer.from(JSON.stringify({ model: 'gpt-4o', stream: true, stream_options: { foo: 1 }, messages: [{ role: 'user', content: 'hi' }] }));
    const injected = readLlmRequest(raw, true) as LlmRequest;
    expect(injected.usageInjected).toBe(true);
    expect(JSON.parse(injected.body.toString())).toEqual({
      model: 'gpt-4o',
      stream: true,
      stream_options: { foo: 1, include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    });

    for (const body of [{ model: 'gpt-4o', stream: true, stream_options: { include_usage: true } }, { model: 'gpt-4o', stream: false }, { model: 'gpt-4o' }]) {
      const raw2 = Buffer.from(JSON.stringify(body));
      const call = readLlmRequest(raw2, true) as LlmRequest;
      expect(call.usageInjected).toBe(false);
      expect(call.body).toBe(raw2); // the client's bytes, untouched
    }
    expect((readLlmRequest(raw, false) as LlmRequest).body).toBe(raw);
  });

  it('estimates the prompt of chat, completions, embeddings and responses requests', () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    const chat = readLlmRequest(Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text }] }] })), true) as LlmRequest;
    expect(chat.promptEstimate).toBe(estimateTokens(['user', 'text', text].join('\n')) + 4);
    const completion = readLlmRequest(Buffer.from(JSON.stringify({ model: 'm', prompt: [text, text] })), true) as LlmRequest;
    expect(completion.promptEstimate).toBe(estimateTokens(`${text}\n${text}`));
    const tokenIds = readLlmRequest(Buffer.from(JSON.stringify({ model: 'm', input: [1, 2, 3, 4, 5] })), true) as LlmRequest;
    expect(tokenIds.promptEstimate).toBe(5);
    const responses = readLlmRequest(Buffer.from(JSON.stringify({ model: 'm', instructions: 'Be brief.', input: text })), true) as LlmRequest;
    expect(responses.promptEstimate).toBeGreaterThan(10);
    // Hostile nesting is not walked past a fixed depth, and does not throw.
    const deep = (stream: boolean) => Buffer.from(`{"model": "m", "stream": ${stream}, "input": ${'['.repeat(100_000)}"deep text"${']'.repeat(100_000)}}`);
    expect((readLlmRequest(deep(false), true) as LlmRequest).promptEstimate).toBe(0);
    // Too deep to rewrite with include_usage: refused (a 400), not a stack overflow (a 500).
    expect(readLlmRequest(deep(true), true)).toMatch(/nested too deeply/);
  });
});

describe('estimateTokens', () => {
  it('counts English with the o200k tokenizer', () => {
    expect(estimateTokens('hello world')).toBe(2);
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(100);
    expect(estimateTokens(text)).toBeGreaterThan(900);
    expect(estimateTokens(text)).toBeLessThan(1150);
  });

  it('stays fast on prompts built to make BPE quadratic, and extrapolates past its sample', () => {
    const started = performance.now();
    const huge = 'x'.repeat(4 * 1024 * 1024);
    const tokens = estimateTokens(huge);
    const mixed = estimateTokens(Array.from({ length: 200_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join(''));
    // Cold (JIT, no merge cache) ~1 s, up to ~6 s on this machine shared by 8 agents; whole-string BPE took 104 s for 256k characters (4 MiB: hours).
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(tokens).toBeGreaterThan(100_000); // whole-string BPE would take minutes; the sample ratio covers all 4 MiB
    expect(mixed).toBeGreaterThan(50_000);
  });
});

describe('UsageMeter', () => {
  it('reads usage from a JSON answer delivered in pieces', () => {
    const answer = JSON.stringify({ choices: [{ message: { content: 'Hello ü' } }], usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } });
    expect(meter('application/json; charset=utf-8', answer, 3).finish()).toEqual({ promptTokens: 12, completionTokens: 30, totalTokens: 42 });
  });

  it('reads usage from the last event of a stream, events and UTF-8 characters cut at any byte', () => {
    const stream = sse(delta('Grüße, '), delta('Welt 🌍'), { id: 'c1', choices: [], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } }, '[DONE]');
    for (const size of [1, 2, 5, 64, 4096]) expect(meter('text/event-stream', stream, size).finish()).toEqual({ promptTokens: 7, completionTokens: 5, totalTokens: 12 });
  });

  it('reads the Responses API usage (input/output tokens, inside response.completed)', () => {
    const stream = sse(
      { type: 'response.output_text.delta', delta: 'Hi' },
      { type: 'response.completed', response: { usage: { input_tokens: 3, output_tokens: 1, total_tokens: 4 } } },
    );
    expect(meter('text/event-stream', stream).finish()).toEqual({ promptTokens: 3, completionTokens: 1, totalTokens: 4 });
  });

  it('reports nothing without usage, and estimates the generated text instead', () => {
    const words = 'one two three four five six seven eight nine ten';
    const stream = meter('text/event-stream', sse(...words.split(' ').map((w) => delta(w + ' ')), '[DONE]'));
    expect(stream.finish()).toBeNull();
    expect(stream.completionEstimate()).toBe(estimateTokens(words + ' '));
    const json = meter('application/json', JSON.stringify({ choices: [{ message: { content: words } }] }));
    expect(json.finish()).toBeNull();
    expect(json.completionEstimate()).toBe(estimateTokens(words));
  });

  it('survives hostile answers: malformed JSON and events, refunds, wrong types, unending events', () => {
    expect(meter('application/json', '{"usage": {"prompt_tokens": 1').finish()).toBeNull();
    expect(meter('application/json', JSON.stringify({ usage: { prompt_tokens: -500, completion_tokens: 1 } })).finish()).toBeNull();
    expect(meter('application/json', JSON.stringify({ usage: { prompt_tokens: '5', completion_tokens: 1 } })).finish()).toBeNull();
    expect(meter('application/json', JSON.stringify({ usage: { prompt_tokens: 1.5, completion_tokens: 1 } })).finish()).toBeNull();
    expect(meter('application/json', JSON.stringify({ usage: 'lots' })).finish()).toBeNull();
    // A total below its parts is not believed: the parts are charged.
    expect(meter('application/json', JSON.stringify({ usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 1 } })).finish()).toEqual({
      promptTokens: 10,
      completionTokens: 10,
      totalTokens: 20,
    });
    // Broken events are skipped; a good usage event after them still counts.
    const stream =
      'data: {not json\n\ndata: ' + JSON.stringify(delta('x')) + '\n\nevent: weird\n: comment\n\n' + sse({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 3 } });
    expect(meter('text/event-stream', stream).finish()).toEqual({ promptTokens: 2, completionTokens: 3, totalTokens: 5 });
    // One event that never ends: metering stops (memory stays bounded), nothing is reported.
    const unending = meter(
      'text/event-stream',
      Buffer.concat([Buffer.from('data: '), Buffer.alloc(2 * 1024 * 1024, 'a'), Buffer.from('\n\n' + sse({ usage: { prompt_tokens: 1 } }))]),
      65536,
    );
    expect(unending.finish()).toBeNull();
    // Neither JSON nor SSE (e.g. text/plain): nothing to read.
    expect(meter('text/plain', 'usage: lots').finish()).toBeNull();
  });
});
