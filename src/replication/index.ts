/**
 * Offline-first event replication (DESIGN §6): `import { Replica, MemoryEventStore, … } from "concord/replication"`.
 *
 * Depends on its own EventStore contract only. The SQLite and PostgreSQL stores load better-sqlite3
 * and pg when first used, so importing this module with a MemoryEventStore loads neither.
 * @module
 */
export type {
  AppendResult,
  Cursor,
  EventStore,
  Json,
  NewEvent,
  ReadOptions,
  ReadResult,
  ReplicatedEvent,
  Transport,
  VectorClockJSON,
} from "./types.js";
export { type ClockOrder, type ValidateClockOptions, VectorClock } from "./vector-clock.js";
export { canonicalJson, idCollisionError, isIdCollision, sameEvent, type ValidateEventOptions, validateEvent } from "./event.js";
export { type Conflict, type ReceiveResult, Replica, type ReplicaListener, type ReplicaOptions } from "./replica.js";
export { compareWriters, custom, fieldMerge, keepBoth, lastWriterWins, type Resolver } from "./resolvers.js";
export { type AggregateConflict, causalOrder, concurrent, fold, type Folded, happenedBefore, mergeProjection, type Projection } from "./projection.js";
export { MemoryEventStore } from "./stores/memory.js";
export { SqliteEventStore, type SqliteEventStoreOptions } from "./stores/sqlite.js";
export { PostgresEventStore, type PostgresEventStoreOptions } from "./stores/postgres.js";
export { type FilteringTransport, LocalTransport, type PullFilter, type PushResult, type SyncReplica } from "./local-transport.js";
export { type CursorStore, type SyncFilter, SyncManager, type SyncManagerOptions, type SyncMetrics, type SyncResult } from "./sync-manager.js";
export { type Authorize, type AuthorizeRefusal, bearerAuth, createSyncHandler, SYNC_PROTOCOL_VERSION, type SyncHandler, type SyncHandlerOptions } from "./http/handler.js";
export { HttpTransport, type HttpTransportOptions } from "./http/transport.js";
