import type { ConfigSnapshot } from '@idm/config-bus';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { SnapshotConsumer } from '../config-sync/config-sync';
import type { ControlReply, ControlRequest, FromDataPlane, ToDataPlane } from './thread-messages';

export type ControlHandler = (request: ControlRequest) => Promise<ControlReply>;

/**
 * The control thread's handle on the data-plane thread, which serves all client traffic
 * (data-plane.worker.ts). Why a thread of its own: V8 keeps type feedback per isolate, and
 * booting Nest's HTTP application leaves shared node:http and undici code megamorphic; measured
 * (bench/README.md), the same proxy code ran 13 % slower in the thread that booted Nest and at
 * full speed in a worker thread of the same process.
 *
 * It hands every revision over as a whole snapshot (the data plane compiles it), relays requests
 * for Nest's endpoints to `control`, and fetches the data plane's metrics text for /metrics.
 */
export class DataPlaneThread implements SnapshotConsumer {
  private readonly worker: Worker;
  private handedOver: ConfigSnapshot | null = null;
  private served: number | null = null;
  private nextScrape = 1;
  private readonly scrapes = new Map<number, (text: string) => void>();
  private stopped: (() => void) | null = null;
  private control: ControlHandler | null = null;
  readonly listening: Promise<{ port: number; tlsPort: number | null }>;

  /** `onExit` runs if the thread ends without being asked to stop (or fails to start). */
  constructor(onExit: (err: Error) => void) {
    // V8 reads this flag when it sets up an isolate's heap: the data plane's isolate gets no
    // memory reducer, this (control) thread's keeps it. The reducer runs full "reduce" GCs once a
    // process goes idle; after one, V8 had to re-learn the object shapes of the request path
    // (maps with no live instance are collected) and settled in a slower state: node's
    // `process.nextTick` created its tick objects through the runtime on every call, 10-20 %
    // fewer requests per second until restart (bench/README.md). An idle Gateway keeps the heap
    // it grew under load instead (ordinary GCs still run as it allocates).
    setFlagsFromString('--no-memory-reducer');
    this.worker = new Worker(join(__dirname, 'data-plane.worker.js'));
    let listening: (ports: { port: number; tlsPort: number | null }) => void;
    this.listening = new Promise((resolve) => (listening = resolve));
    this.worker.on('message', (message: FromDataPlane) => {
      switch (message.type) {
        case 'listening':
          return listening({ port: message.port, tlsPort: message.tlsPort });
        case 'activated':
          this.served = message.revision;
          return;
        case 'scraped':
          this.scrapes.get(message.id)?.(message.text);
          this.scrapes.delete(message.id);
          return;
        case 'control-request':
          return void this.answer(message.id, message.request);
        case 'stopped':
          return this.stopped?.();
      }
    });
    let failure: Error | null = null;
    this.worker.on('error', (err) => (failure = err));
    this.worker.on('exit', (code) => {
      if (this.stopped === null) onExit(failure ?? new Error(`the data-plane thread exited with code ${code}`));
    });
  }

  /** The snapshot last handed over: the base of the next delta. */
  get snapshot(): ConfigSnapshot | null {
    return this.handedOver;
  }

  /** The revision the data plane has compiled and serves (null before the first). */
  get revision(): number | null {
    return this.served;
  }

  activate(snapshot: ConfigSnapshot): void {
    this.handedOver = snapshot;
    this.post({ type: 'activate', snapshot });
  }

  /** Where requests for Nest's endpoints go (set once Nest is ready; until then they get 503). */
  serveControl(handler: ControlHandler): void {
    this.control = handler;
  }

  /** The data plane's Prometheus text. */
  scrape(): Promise<string> {
    const id = this.nextScrape++;
    return new Promise((resolve) => {
      this.scrapes.set(id, resolve);
      this.post({ type: 'scrape', id });
    });
  }

  /** Closes the listeners (in-flight requests finish), then the data plane's connections. */
  stop(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.stopped = resolve;
      this.worker.once('exit', () => resolve());
      this.post({ type: 'stop' });
    }).then(() => this.worker.terminate().then(() => undefined));
  }

  private async answer(id: number, request: ControlRequest): Promise<void> {
    let reply: ControlReply;
    try {
      reply = this.control === null ? unavailable() : await this.control(request);
    } catch {
      reply = unavailable();
    }
    this.post({ type: 'control-reply', id, reply });
  }

  private post(message: ToDataPlane): void {
    this.worker.postMessage(message);
  }
}

function unavailable(): ControlReply {
  const body = JSON.stringify({ code: 'control_unavailable', message: 'The gateway is starting or stopping' });
  return { status: 503, headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from(body) };
}
