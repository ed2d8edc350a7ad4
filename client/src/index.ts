// @tickplant/client: the tickplant WebSocket client for browsers and Node 20+ — sequence-checked channels, resume after reconnects, optional chart state.
export { TickplantClient, type ClientCounters, type ClientOptions, type SubscribeOptions } from './client.js';
export type { ClientErrorCode, ClientEvents, ConnectionState, EventName, TickplantError } from './events.js';
export * from './frames.js';
export { ChannelSequence, type Expectation, type SeqPoint, type Verdict, follows } from './sequence.js';
export type { BookState, StateLimits, SymbolState } from './state.js';
export type { WebSocketConstructor, WebSocketLike } from './socket.js';
