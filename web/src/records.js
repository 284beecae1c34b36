// The subscription's state as plain data, no DOM: the records the filter
// selects, keyed "<warehouse>/<sku>", and the stream position to resume from
// (docs/protocol.md, subscriptions). The session feeds it events; the views
// read it.
import { recordsKeptMax } from './limits.js';

export function recordKey(record) {
  return `${record.warehouse}/${record.sku}`;
}

// Bytewise order of warehouse, then SKU: the server's stock.list order.
export function compareRecords(a, b) {
  if (a.warehouse !== b.warehouse) return a.warehouse < b.warehouse ? -1 : 1;
  if (a.sku !== b.sku) return a.sku < b.sku ? -1 : 1;
  return 0;
}

// The filter the user typed: an exact warehouse and a SKU prefix, both
// optional (empty = any).
export function matchesFilter(record, filter) {
  if (filter.warehouse && record.warehouse !== filter.warehouse) return false;
  if (filter.skuPrefix && !record.sku.startsWith(filter.skuPrefix)) return false;
  return true;
}

export class RecordStore {
  constructor() {
    this.records = new Map();   // key -> record object
    this.position = new Map();  // partition -> seq
    this.staging = null;        // snapshot pages not yet ended: key -> record
    this.truncated = false;     // a snapshot or event went beyond recordsKeptMax
  }

  // Forgets everything: a new filter, or a `reset`.
  clear() {
    this.records.clear();
    this.position.clear();
    this.staging = null;
    this.truncated = false;
  }

  // Whether a resume is possible: a snapshot_end was seen.
  resumable() {
    return this.position.size > 0;
  }

  // The position as the `from` field of subscribe: [[partition, seq], ...].
  from() {
    return [...this.position.entries()].sort((a, b) => a[0] - b[0]);
  }

  // A `snapshot` page.
  addSnapshotPage(records) {
    if (this.staging === null) this.staging = new Map();
    for (const record of records) {
      if (this.staging.size >= recordsKeptMax) {
        this.truncated = true;
        return;
      }
      this.staging.set(recordKey(record), record);
    }
  }

  // `snapshot_end`: the pages become the records, the position is set.
  endSnapshot(position) {
    this.records = this.staging ?? new Map();
    this.staging = null;
    this.position.clear();
    for (const [partition, seq] of position ?? []) this.position.set(partition, seq);
  }

  // `reset`: drop records and position; a snapshot follows.
  reset() {
    this.clear();
  }

  // A stock or alert event's record and position. Returns
  // {key, record, previous} (previous undefined for a new record), or null
  // when the record cannot be kept (beyond recordsKeptMax).
  apply(event) {
    this.advance(event.partition, event.seq);
    const record = event.record;
    if (!record) return null;
    const key = recordKey(record);
    const target = this.staging ?? this.records;
    const previous = target.get(key);
    // An older version (a replay overlapping what the snapshot had) changes nothing.
    if (previous && typeof previous.version === 'number' && record.version < previous.version) {
      return { key, record: previous, previous };
    }
    if (!previous && target.size >= recordsKeptMax) {
      this.truncated = true;
      return null;
    }
    target.set(key, record);
    return { key, record, previous };
  }

  advance(partition, seq) {
    if (typeof partition !== 'number' || typeof seq !== 'number') return;
    const known = this.position.get(partition);
    if (known === undefined || seq > known) this.position.set(partition, seq);
  }

  // Poll mode: a full listing replaces the records; returns the changes
  // ({key, record, previous}) against what was there.
  replaceAll(records) {
    const changes = [];
    const next = new Map();
    for (const record of records) {
      if (next.size >= recordsKeptMax) {
        this.truncated = true;
        break;
      }
      const key = recordKey(record);
      const previous = this.records.get(key);
      if (!previous || previous.version !== record.version) changes.push({ key, record, previous });
      next.set(key, record);
    }
    this.records = next;
    return changes;
  }
}
