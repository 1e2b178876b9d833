import type * as O200kBase from 'gpt-tokenizer/cjs/encoding/o200k_base';

let countTokens: ((text: string) => number) | null = null;

/**
 * Loads the o200k_base ranks (a 200k-entry table: 7 s measured on a 2-core machine shared by 8
 * agents, a fraction of that idle) once per process. llm-route calls it when it compiles, so a
 * Gateway without LLM routes, and the Manager, never pay for it, and no request waits for it.
 */
export function loadTokenizer(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  countTokens ??= (require('gpt-tokenizer/cjs/encoding/o200k_base') as typeof O200kBase).countTokens;
}

/**
 * BPE is quadratic in the length of a pre-token: 256k identical characters took gpt-tokenizer
 * 104 s as one string. A prompt is therefore tokenized in pieces of at most PIECE_CHARS, cut
 * after a space where the piece has one (words stay whole) and at PIECE_CHARS / 2 where it has
 * none (CJK, base64, one repeated character), and only its first SAMPLE_CHARS are tokenized; the
 * rest is extrapolated from the sample's ratio. That bounds an estimate to a few milliseconds for
 * any input, and ordinary prompts of up to SAMPLE_CHARS are counted whole. An estimate is all it
 * needs to be: it serves only before the call (to refuse one that cannot fit) and when the
 * upstream reports no usage.
 */
const PIECE_CHARS = 64;
const SAMPLE_CHARS = 4 * 1024;

/** Estimated o200k_base tokens of `text` (the encoding of the GPT-4o and later families). */
export function estimateTokens(text: string): number {
  loadTokenizer();
  const count = countTokens!;
  const last = Math.min(text.length, SAMPLE_CHARS);
  let tokens = 0;
  for (let done = 0; done < last;) {
    let end = Math.min(done + PIECE_CHARS, last);
    if (end < last) {
      const space = text.lastIndexOf(' ', end);
      end = space > done ? space : Math.min(done + PIECE_CHARS / 2, last);
    }
    tokens += count(text.slice(done, end));
    done = end;
  }
  return last === text.length ? tokens : Math.ceil((tokens * text.length) / last);
}

/** Fixed overhead OpenAI counts per chat message (role and separators). */
export const TOKENS_PER_MESSAGE = 4;
