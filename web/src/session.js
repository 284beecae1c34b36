// The dashboard's link to the node: connect, authenticate, subscribe with the
// user's filter, keep the records and the stream position, and after a lost
// connection reconnect (with backoff) and resume from the position. A server
// without subscriptions (UNKNOWN_OP) is polled with stock.list instead.
//
// It drives a view with: status({state, sub, mode, truncated}), rebuilt(store),
// changed(change, event), alert(event), signedOut(message).
import { Connection, RequestError, endpointUrl } from './connection.js';
import {
  pendingEventsMax, pollIntervalMs, pollPageRecords, pollPagesMax,
  reconnectDelayFirstMs, reconnectDelayMaxMs,
} from './limits.js';
import { RecordStore } from './records.js';

// Subscribe errors that no retry of the same filter can cure (a filter the key
// may not use, a snapshot larger than the server allows).
const refusals = new Set(['BAD_REQUEST', 'FORBIDDEN', 'LIMIT_EXCEEDED']);

export class Session {
  constructor({ location, token, view }) {
    this.url = endpointUrl(location);
    this.token = token;
    this.view = view;
    this.store = new RecordStore();
    this.filter = { warehouse: '', skuPrefix: '' };
    this.connection = null;
    this.sub = null;           // the subscription id the server gave
    this.pendingEvents = null; // events before the subscribe answer
    this.attempt = 0;          // reconnects since the last good subscribe
    this.retryTimer = null;
    this.pollTimer = null;
    this.pollGeneration = 0;   // a newer poll makes an older one's result moot
    this.subscribeGeneration = 0;  // likewise for subscribe answers
    this.stopped = false;
    this.mode = 'subscribe';   // or 'poll'
  }

  start() {
    this.connect();
  }

  // Sign-out: close for good.
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pollTimer);
    if (this.connection) this.connection.close(1000, 'signed out');
  }

  // A new filter: start over with a fresh snapshot.
  setFilter(filter) {
    this.filter = { warehouse: filter.warehouse.trim(), skuPrefix: filter.skuPrefix.trim() };
    this.store.clear();
    this.view.rebuilt(this.store);
    if (!this.connection || this.connection.closed) return;
    if (this.mode === 'poll') {
      this.poll();
      return;
    }
    const old = this.sub;
    this.sub = null;
    if (old !== null) this.connection.request('unsubscribe', { sub: old }).catch(() => {});
    this.subscribe().catch((error) => this.restart(error));
  }

  async connect() {
    if (this.stopped) return;
    // After a lost connection every try is part of reconnecting.
    this.report(this.attempt > 0 ? 'reconnecting' : 'connecting');
    const connection = new Connection(this.url, {
      onEvent: (event) => this.onEvent(connection, event),
      onClose: (close) => this.onClose(connection, close),
    });
    this.connection = connection;
    try {
      await connection.open();
      await connection.request('auth', { token: this.token });
    } catch (error) {
      if (error instanceof RequestError && error.code === 'UNAUTHENTICATED') {
        this.stop();
        this.view.signedOut('The token was not accepted.');
        return;
      }
      connection.close(4001, 'connect failed');
      return;  // onClose schedules the retry
    }
    try {
      await this.subscribe();
    } catch (error) {
      this.restart(error);
    }
  }

  filterFields() {
    const fields = {};
    if (this.filter.warehouse) fields.warehouse = this.filter.warehouse;
    if (this.filter.skuPrefix) fields.sku_prefix = this.filter.skuPrefix;
    return fields;
  }

  async subscribe() {
    const connection = this.connection;
    const fields = this.filterFields();
    const resuming = this.store.resumable();
    if (resuming) fields.from = this.store.from();
    const generation = ++this.subscribeGeneration;
    this.pendingEvents = [];
    let answer;
    try {
      answer = await connection.request('subscribe', fields);
    } catch (error) {
      if (generation !== this.subscribeGeneration) return undefined;
      this.pendingEvents = null;
      if (!(error instanceof RequestError)) throw error;
      if (error.code === 'UNKNOWN_OP') return this.startPolling();
      if (resuming && error.code === 'BAD_REQUEST') {
        // A position this server cannot read: start over from a snapshot.
        this.store.clear();
        return this.subscribe();
      }
      if (refusals.has(error.code)) {
        // Retrying the same filter would be refused again: wait for another.
        this.report('refused', `${error.message}; change the filter`);
        return undefined;
      }
      throw error;
    }
    if (connection !== this.connection) return undefined;
    if (generation !== this.subscribeGeneration) {
      // The filter changed while this was on its way.
      connection.request('unsubscribe', { sub: answer.sub }).catch(() => {});
      return undefined;
    }
    this.mode = 'subscribe';
    this.sub = answer.sub;
    this.attempt = 0;
    const early = this.pendingEvents;
    this.pendingEvents = null;
    for (const event of early) this.handle(event);
    this.report('connected');
    return undefined;
  }

  onEvent(connection, event) {
    if (connection !== this.connection) return;
    if (this.pendingEvents !== null) {
      // The subscribe answer is still on its way; events may overtake it.
      if (this.pendingEvents.length >= pendingEventsMax) {
        connection.close(4002, 'too many early events');
        return;
      }
      this.pendingEvents.push(event);
      return;
    }
    this.handle(event);
  }

  handle(event) {
    if (event.sub !== this.sub) return;  // a subscription we dropped
    switch (event.event) {
      case 'snapshot':
        this.store.addSnapshotPage(event.records ?? []);
        break;
      case 'snapshot_end':
        this.store.endSnapshot(event.position);
        this.view.rebuilt(this.store);
        this.report('connected');
        break;
      case 'reset':
        this.store.reset();
        this.view.rebuilt(this.store);
        break;
      case 'stock': {
        const change = this.store.apply(event);
        if (change) this.view.changed(change, event);
        break;
      }
      case 'alert': {
        const change = this.store.apply(event);
        if (change && change.previous !== change.record) this.view.changed(change, event);
        this.view.alert(event);
        break;
      }
      default:
        break;  // event kinds of later versions
    }
  }

  // Polling: a full stock.list of the filter every pollIntervalMs.
  startPolling() {
    this.mode = 'poll';
    this.sub = null;
    this.attempt = 0;
    this.report('connected');
    return this.poll();
  }

  async poll() {
    clearTimeout(this.pollTimer);
    const generation = ++this.pollGeneration;
    const connection = this.connection;
    const records = [];
    let cursor;
    try {
      for (let page = 0; page < pollPagesMax; ++page) {
        const fields = { ...this.filterFields(), limit: pollPageRecords };
        if (cursor) fields.cursor = cursor;
        const answer = await connection.request('stock.list', fields);
        records.push(...(answer.records ?? []));
        cursor = answer.cursor;
        if (!cursor) break;
      }
    } catch (error) {
      this.restart(error);
      return;
    }
    if (connection !== this.connection || this.stopped || generation !== this.pollGeneration) return;
    const first = this.store.records.size === 0;
    const changes = this.store.replaceAll(records);
    if (first || changes.some((change) => !change.previous)) this.view.rebuilt(this.store);
    if (!first) for (const change of changes) this.view.changed(change, null);
    this.report('connected');
    this.pollTimer = setTimeout(() => this.poll(), pollIntervalMs);
  }

  restart(error) {
    if (this.stopped) return;
    console.warn('stockgrid dashboard:', error?.message ?? error);
    if (this.connection) this.connection.close(4003, 'restart');
  }

  onClose(connection, close) {
    if (connection !== this.connection || this.stopped) return;
    clearTimeout(this.pollTimer);
    this.sub = null;
    this.pendingEvents = null;
    const delay = Math.min(reconnectDelayMaxMs, reconnectDelayFirstMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    // Jitter, so many dashboards do not come back in step after a restart.
    const wait = Math.round(delay * (0.5 + Math.random() / 2));
    this.report('reconnecting', `closed (${close.code}${close.reason ? ` ${close.reason}` : ''}); retrying in ${(wait / 1000).toFixed(1)} s`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  report(state, detail = '') {
    this.view.status({
      state, detail, mode: this.mode, sub: this.sub,
      truncated: this.store.truncated, records: this.store.records.size,
    });
  }
}
