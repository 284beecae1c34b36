// The dashboard's Session (web/src/session.js) against a scripted server
// speaking the subscription contract (/work/briefs → docs/protocol.md): a fake
// WebSocket stands in for the browser's, so the test runs under node's test
// runner without a browser or a node process. Every wait has a deadline.
import assert from 'node:assert/strict';
import test from 'node:test';

const sockets = [];  // every FakeSocket made, newest last

// Plays the server: answers `auth`, and hands every other request to the
// test's `serve(request, socket)`.
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    this.serve = FakeSocket.serve;
    sockets.push(this);
    setTimeout(() => {
      if (FakeSocket.refuse) return this.close(1006, '');
      this.readyState = FakeSocket.OPEN;
      this.onopen?.();
    }, 1);
  }

  send(text) {
    const request = JSON.parse(text);
    this.sent.push(request);
    if (request.op === 'auth') {
      const ok = request.token === 'reader-token';
      this.push(ok ? { id: request.id, ok: true, tenant: 't', role: 'reader' }
        : { id: request.id, ok: false, error: { code: 'UNAUTHENTICATED', message: 'invalid token' } });
      return;
    }
    this.serve(request, this);
  }

  push(frame) {
    setTimeout(() => {
      if (this.readyState === FakeSocket.OPEN) this.onmessage?.({ data: JSON.stringify(frame) });
    }, 1);
  }

  close(code = 1000, reason = '') {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    setTimeout(() => this.onclose?.({ code, reason }), 1);
  }
}
globalThis.WebSocket = FakeSocket;

const { Session } = await import('../../web/src/session.js');

const record = (sku, available, version) =>
  ({ warehouse: 'berlin', sku, on_hand: available, reserved: 0, available, version });

// A view that records what the session drew.
function recordingView() {
  return {
    statuses: [], changes: [], alerts: [], rebuilds: 0, signedOutWith: null,
    status(s) { this.statuses.push(s); },
    rebuilt() { this.rebuilds += 1; },
    changed(change) { this.changes.push(change); },
    alert(event) { this.alerts.push(event); },
    signedOut(message) { this.signedOutWith = message; },
  };
}

async function until(what, condition, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function startSession(view, token = 'reader-token') {
  sockets.length = 0;
  const session = new Session({ location: { protocol: 'http:', host: '127.0.0.1:7400' }, token, view });
  session.setFilter({ warehouse: 'berlin', skuPrefix: 'A-' });
  session.start();
  return session;
}

test('subscribes with the filter, builds from the snapshot, follows events and resumes from the position', async () => {
  let nextSub = 7;
  FakeSocket.refuse = false;
  FakeSocket.serve = (request, socket) => {
    if (request.op !== 'subscribe') return;
    const sub = nextSub++;
    socket.push({ id: request.id, ok: true, sub });
    if (request.from) return;  // a resume: no snapshot
    socket.push({ event: 'snapshot', sub, records: [record('A-1', 10, 3)] });
    socket.push({ event: 'snapshot', sub, records: [record('A-2', 4, 1)] });
    socket.push({ event: 'snapshot_end', sub, position: [[0, 100], [1, 50]] });
  };
  const view = recordingView();
  const session = startSession(view);
  try {
    await until('the snapshot ends', () => session.store.records.size === 2);
    const subscribe = sockets[0].sent.find((r) => r.op === 'subscribe');
    assert.equal(subscribe.warehouse, 'berlin');
    assert.equal(subscribe.sku_prefix, 'A-');
    assert.equal(subscribe.from, undefined);
    assert.equal(session.sub, 7);
    assert.equal(view.statuses.at(-1).state, 'connected');

    sockets[0].push({ event: 'stock', sub: 7, partition: 1, seq: 51, at_ms: 1, record: record('A-1', 8, 4),
      change: { kind: 'reserve', delta: -2, qty: 2, reason: '', version: 4 } });
    sockets[0].push({ event: 'alert', sub: 7, kind: 'low_stock', partition: 0, seq: 101, at_ms: 2,
      record: record('A-2', 4, 1), threshold: 5 });
    sockets[0].push({ event: 'stock', sub: 99, partition: 1, seq: 77, record: record('A-9', 1, 1) });
    await until('the events arrive', () => view.alerts.length === 1);
    assert.equal(session.store.records.get('berlin/A-1').available, 8);
    assert.equal(session.store.records.has('berlin/A-9'), false, 'another subscription\'s event');
    assert.deepEqual(session.store.from(), [[0, 101], [1, 51]]);

    // The server goes away: the session reconnects and resumes from its position.
    sockets[0].close(1001, 'going away');
    await until('it resubscribes', () => sockets.length === 2 && session.sub === 8, 8000);
    const resume = sockets[1].sent.find((r) => r.op === 'subscribe');
    assert.deepEqual(resume.from, [[0, 101], [1, 51]]);
    assert.equal(resume.warehouse, 'berlin');
    assert.ok(view.statuses.some((s) => s.state === 'reconnecting'));
    assert.equal(session.store.records.size, 2, 'the records are kept across a resume');

    // The position cannot be resumed after all: reset, then a new snapshot.
    sockets[1].push({ event: 'reset', sub: 8 });
    sockets[1].push({ event: 'snapshot', sub: 8, records: [record('A-3', 1, 1)] });
    sockets[1].push({ event: 'snapshot_end', sub: 8, position: [[0, 7]] });
    await until('the new snapshot replaces the records', () => session.store.records.has('berlin/A-3'));
    assert.deepEqual([...session.store.records.keys()], ['berlin/A-3']);
    assert.deepEqual(session.store.from(), [[0, 7]]);
  } finally {
    session.stop();
  }
});

test('events that overtake the subscribe answer are not lost', async () => {
  FakeSocket.refuse = false;
  FakeSocket.serve = (request, socket) => {
    if (request.op !== 'subscribe') return;
    socket.push({ event: 'snapshot', sub: 3, records: [record('A-1', 10, 1)] });
    socket.push({ event: 'snapshot_end', sub: 3, position: [[0, 1]] });
    socket.push({ id: request.id, ok: true, sub: 3 });
  };
  const view = recordingView();
  const session = startSession(view);
  try {
    await until('the snapshot is applied', () => session.store.records.size === 1);
  } finally {
    session.stop();
  }
});

test('a server without subscriptions is polled with stock.list', async () => {
  FakeSocket.refuse = false;
  let version = 1;
  FakeSocket.serve = (request, socket) => {
    if (request.op === 'subscribe') {
      socket.push({ id: request.id, ok: false, error: { code: 'UNKNOWN_OP', message: 'op: unknown op' } });
    } else if (request.op === 'stock.list') {
      assert.equal(request.warehouse, 'berlin');
      socket.push({ id: request.id, ok: true, records: [record('A-1', 10 - version, version++)] });
    }
  };
  const view = recordingView();
  const session = startSession(view);
  try {
    await until('a first listing', () => session.store.records.size === 1);
    assert.equal(session.mode, 'poll');
    assert.equal(view.statuses.at(-1).mode, 'poll');
    await until('a second listing shows the change', () => view.changes.length >= 1, 6000);
    assert.equal(view.changes[0].key, 'berlin/A-1');
  } finally {
    session.stop();
  }
});

test('a token the server refuses signs out without retrying', async () => {
  FakeSocket.refuse = false;
  FakeSocket.serve = () => {};
  const view = recordingView();
  const session = startSession(view, 'wrong-token');
  await until('signed out', () => view.signedOutWith !== null);
  assert.match(view.signedOutWith, /not accepted/);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(sockets.length, 1, 'no reconnect with a refused token');
  session.stop();
});

test('a filter the server refuses is reported, not retried', async () => {
  FakeSocket.refuse = false;
  FakeSocket.serve = (request, socket) => {
    if (request.op !== 'subscribe') return;
    socket.push({ id: request.id, ok: false,
      error: { code: 'LIMIT_EXCEEDED', message: 'snapshot larger than the limit', limit: 100000 } });
  };
  const view = recordingView();
  const session = startSession(view);
  try {
    await until('the refusal is shown', () => view.statuses.some((s) => s.state === 'refused'));
    assert.match(view.statuses.at(-1).detail, /snapshot larger than the limit; change the filter/);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(sockets.length, 1, 'the connection stays, no reconnect');
    assert.equal(sockets[0].sent.filter((r) => r.op === 'subscribe').length, 1);
  } finally {
    session.stop();
  }
});
