/**
 * An open Server-Sent Events response, its `data:` payloads collected as they arrive (JSON), so
 * a spec can open a tail, cause events, and wait for them.
 */
export class EventStreamReader {
  readonly events: any[] = [];
  private readonly abort = new AbortController();
  status = 0;
  private reading: Promise<void> = Promise.resolve();

  static async open(url: string, token: string): Promise<EventStreamReader> {
    const reader = new EventStreamReader();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: reader.abort.signal });
    reader.status = res.status;
    if (res.ok && res.body) reader.reading = reader.read(res.body.getReader());
    else await res.arrayBuffer();
    return reader;
  }

  close(): Promise<void> {
    this.abort.abort();
    return this.reading;
  }

  private async read(body: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await body.read();
        if (done) return;
        buffer += Buffer.from(value).toString();
        const end = buffer.lastIndexOf('\n\n');
        if (end < 0) continue;
        for (const match of buffer.slice(0, end).matchAll(/^data: (.*)$/gm)) this.events.push(JSON.parse(match[1]));
        buffer = buffer.slice(end + 2);
      }
    } catch {
      // closed
    }
  }
}
