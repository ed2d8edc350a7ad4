// Symbol registrations: the supervisor announces each symbol's id, shard and shared store.

import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';

export interface SymbolRegistration {
  id: number; // dense, assigned by the supervisor in order of first sight
  name: string;
  shard: number;
  store: SharedArrayBuffer; // layout.ts: header, raw ring, history ring
  trades: SharedArrayBuffer; // layout.ts TRADE_*: the trades channel's sequence and recent trades
  analytics: SharedArrayBuffer; // layout.ts ANALYTICS_*: published candles per interval and the 24 h ticker
  registeredAtMs: number; // the store's history ring holds nothing older: earlier points are in PostgreSQL
  seeded?: { epoch: number; seq: number }; // the store continues this stored sequence (after a restart)
}

/**
 * Receives registrations on a dedicated port. Data rings can be ahead of the port (the
 * supervisor posts the registration, then queues the symbol's first update), so a consumer
 * that meets an unknown id calls `drainSync()`: postMessage enqueues synchronously, so the
 * registration is already in the port's queue and receiveMessageOnPort takes it now.
 */
export class RegistrationInbox {
  constructor(private readonly port: MessagePort, private readonly onRegister: (r: SymbolRegistration) => void) {
    port.on('message', (r: SymbolRegistration) => onRegister(r));
  }

  drainSync(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      this.onRegister(m.message as SymbolRegistration);
    }
  }

  close(): void {
    this.port.close();
  }
}
