import { TextDecoder } from 'node:util';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { estimateTokens } from './token-estimator';

/** Token counts of one call as the upstream reported them. */
export interface ReportedUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

/** A JSON answer larger than this is passed through uncounted (estimated); an SSE event larger than this ends the metering. */
const MAX_JSON_BYTES = 8 * 1024 * 1024;
const MAX_EVENT_BYTES = 1024 * 1024;
/** Generated text kept for the estimate; the rest is extrapolated from its length. */
const MAX_TEXT_CHARS = 256 * 1024;
const MAX_TOKENS = 1_000_000_000_000;

/**
 * Watches an upstream answer go by, chunk by chunk, without holding it back: the Gateway writes
 * each chunk to the client and hands the same chunk here. For `text/event-stream` it parses the
 * events as they complete (eventsource-parser) and keeps the last `usage` and the generated
 * text; for JSON it keeps a copy (up to MAX_JSON_BYTES) to read `usage` at the end. Anything it
 * cannot read (malformed JSON or events, a hostile size) leaves it without a report, and the
 * call is counted by estimate.
 */
export class UsageMeter {
  private usage: ReportedUsage | null = null;
  private text = '';
  private textChars = 0;
  private readonly json: Buffer[] | null;
  private jsonBytes = 0;
  private readonly sse: EventSourceParser | null;
  private readonly decoder: TextDecoder | null;
  private pendingBytes = 0;
  private broken = false;

  constructor(contentType: string | undefined) {
    const type = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
    this.sse = type === 'text/event-stream' ? createParser({ onEvent: (event) => this.onEvent(event.data) }) : null;
    this.decoder = this.sse === null ? null : new TextDecoder();
    this.json = type === 'application/json' || type.endsWith('+json') ? [] : null;
  }

  observe(chunk: Buffer): void {
    if (this.broken) return;
    if (this.sse !== null) {
      // eventsource-parser holds an incomplete event without bound: an upstream that never ends
      // one must not grow the Gateway's memory.
      this.pendingBytes += chunk.length;
      if (this.pendingBytes > MAX_EVENT_BYTES) return this.giveUp();
      this.sse.feed(this.decoder!.decode(chunk, { stream: true }));
    } else if (this.json !== null) {
      this.jsonBytes += chunk.length;
      if (this.jsonBytes > MAX_JSON_BYTES) return this.giveUp();
      this.json.push(chunk);
    }
  }

  /** Call once the answer is complete: what the upstream reported, or null. */
  finish(): ReportedUsage | null {
    if (!this.broken && this.json !== null && this.json.length > 0) {
      const answer = parseJson(Buffer.concat(this.json).toString('utf8'));
      this.json.length = 0;
      if (answer !== undefined) {
        this.usage = usageIn(answer);
        if (this.usage === null) this.addText(generatedText(answer, 'message'));
      }
    }
    return this.usage;
  }

  /** Estimated tokens of the text the upstream generated (for calls it reported no usage for). */
  completionEstimate(): number {
    const tokens = estimateTokens(this.text);
    return this.textChars <= this.text.length ? tokens : Math.ceil((tokens * this.textChars) / Math.max(this.text.length, 1));
  }

  private onEvent(data: string): void {
    this.pendingBytes = 0;
    if (data === '[DONE]') return;
    const event = parseJson(data);
    if (event === undefined) return;
    this.usage = usageIn(event) ?? this.usage;
    this.addText(generatedText(event, 'delta'));
  }

  private addText(text: string): void {
    if (text.length === 0) return;
    this.textChars += text.length;
    if (this.text.length < MAX_TEXT_CHARS) this.text += text.slice(0, MAX_TEXT_CHARS - this.text.length);
  }

  private giveUp(): void {
    this.broken = true;
    this.sse?.reset();
    if (this.json !== null) this.json.length = 0;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * `usage` of chat/completions/embeddings (`prompt_tokens`, `completion_tokens`, `total_tokens`)
 * or of the Responses API (`input_tokens`, `output_tokens`; in a stream inside `response`).
 * Counts that are not non-negative integers make the report unusable (an upstream must not
 * refund a quota with a negative count).
 */
function usageIn(answer: unknown): ReportedUsage | null {
  if (typeof answer !== 'object' || answer === null) return null;
  const record = answer as { usage?: unknown; response?: { usage?: unknown } };
  const usage = (record.usage ?? record.response?.usage) as Record<string, unknown> | null | undefined;
  if (typeof usage !== 'object' || usage === null) return null;
  const prompt = usage.prompt_tokens ?? usage.input_tokens ?? 0;
  const completion = usage.completion_tokens ?? usage.output_tokens ?? 0;
  if (!isCount(prompt) || !isCount(completion)) return null;
  const total = usage.total_tokens ?? prompt + completion;
  if (!isCount(total)) return null;
  return { promptTokens: prompt, completionTokens: completion, totalTokens: Math.max(total, prompt + completion) };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKENS;
}

/** The generated text of an answer (`message`) or of a stream event (`delta`), as far as it can be found. */
function generatedText(answer: unknown, part: 'message' | 'delta'): string {
  if (typeof answer !== 'object' || answer === null) return '';
  const { choices, delta } = answer as { choices?: unknown; delta?: unknown };
  if (typeof delta === 'string') return delta; // Responses API: response.output_text.delta
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const choice of choices as unknown[]) {
    if (typeof choice !== 'object' || choice === null) continue;
    const c = choice as Record<string, unknown>;
    if (typeof c.text === 'string') text += c.text;
    const content = (c[part] as { content?: unknown } | undefined)?.content;
    if (typeof content === 'string') text += content;
  }
  return text;
}
