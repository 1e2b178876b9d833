import { estimateTokens, TOKENS_PER_MESSAGE } from './token-estimator';

/** Fields of OpenAI-compatible requests (chat, completions, embeddings, responses) whose text is the prompt. */
const PROMPT_FIELDS = ['messages', 'prompt', 'input', 'instructions', 'system', 'tools', 'functions'] as const;
/** Deeper than this, a prompt's structure is not walked (hostile nesting costs nothing). */
const MAX_DEPTH = 12;

/**
 * One LLM call as the Gateway forwards it: the model it names, whether it streams, the body to
 * send (with `stream_options.include_usage` added when asked for) and, computed on first use, its
 * prompt tokens as the tokenizer estimates them.
 */
export class LlmRequest {
  private estimate: number | null = null;

  constructor(
    readonly model: string,
    readonly stream: boolean,
    readonly body: Buffer,
    /** True when the Gateway added `stream_options.include_usage` (the client did not ask for the usage chunk). */
    readonly usageInjected: boolean,
    private readonly prompt: { text: string; messages: number; tokenIds: number },
  ) {}

  get promptEstimate(): number {
    this.estimate ??= estimateTokens(this.prompt.text) + this.prompt.messages * TOKENS_PER_MESSAGE + this.prompt.tokenIds;
    return this.estimate;
  }
}

/**
 * Reads an OpenAI-compatible JSON request. Returns the reason (for a 400) when it is not one:
 * not a JSON object, no model or a model that is not a short string, `stream` that is not a
 * boolean, `stream_options` that is not an object, a streamed call nested too deeply to rewrite.
 */
export function readLlmRequest(raw: Buffer, injectStreamUsage: boolean): LlmRequest | string {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'the request body is not JSON';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the request body is not a JSON object';
  const call = body as Record<string, unknown>;
  const { model, stream, stream_options: options } = call;
  if (typeof model !== 'string' || model.length === 0 || model.length > 256) return '"model" must be a string of 1-256 characters';
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') return '"stream" must be a boolean';
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) return '"stream_options" must be an object';
  const streaming = stream === true;
  const inject = streaming && injectStreamUsage && (options as Record<string, unknown> | null | undefined)?.include_usage !== true;
  let sent = raw;
  if (inject) {
    call.stream_options = { ...(options as object | null | undefined), include_usage: true };
    try {
      sent = Buffer.from(JSON.stringify(call));
    } catch {
      // JSON.parse takes any depth, JSON.stringify overflows the stack on a few thousand levels.
      return 'the request body is nested too deeply';
    }
  }
  return new LlmRequest(model, streaming, sent, inject, promptOf(call));
}

function promptOf(call: Record<string, unknown>): { text: string; messages: number; tokenIds: number } {
  const parts: string[] = [];
  const counts = { tokenIds: 0 };
  for (const field of PROMPT_FIELDS) collect(call[field], parts, counts, 0);
  const messages = Array.isArray(call.messages) ? call.messages.length : 0;
  return { text: parts.join('\n'), messages, tokenIds: counts.tokenIds };
}

/** Every string under `value` (role names too: they cost tokens as well); numbers in arrays are token ids. */
function collect(value: unknown, parts: string[], counts: { tokenIds: number }, depth: number): void {
  if (typeof value === 'string') parts.push(value);
  else if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return;
  else if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'number') counts.tokenIds++;
      else collect(item, parts, counts, depth + 1);
    }
  } else for (const item of Object.values(value)) collect(item, parts, counts, depth + 1);
}
