// One WebSocket to the node's /v1/ws with JSON text frames: requests matched
// to answers by id (each with a timeout), events (frames with "event" and no
// "id") handed to onEvent. Knows nothing of subscriptions or the page.
import { requestTimeoutMs } from './limits.js';

// The node's WebSocket endpoint on the page's own origin.
export function endpointUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/ws`;
}

// An answer with ok:false, as an Error carrying the protocol's error code.
export class RequestError extends Error {
  constructor(answer) {
    const error = answer.error ?? {};
    super(`${error.code ?? 'INTERNAL'}: ${error.message ?? 'request failed'}`);
    this.code = error.code ?? 'INTERNAL';
    this.answer = answer;
  }
}

export class Connection {
  // handlers: onEvent(event), onClose({code, reason}); both optional.
  constructor(url, handlers = {}) {
    this.url = url;
    this.onEvent = handlers.onEvent ?? (() => {});
    this.onClose = handlers.onClose ?? (() => {});
    this.nextId = 1;
    this.pending = new Map();  // id -> {resolve, reject, timer}
    this.socket = null;
    this.closed = false;
  }

  // Resolves once the socket is open; rejects if it closes first.
  open() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        resolve();
      };
      socket.onmessage = (message) => this.receive(message.data);
      socket.onclose = (close) => {
        this.finish(close.code, close.reason);
        if (!opened) reject(new Error(`cannot connect (close ${close.code})`));
      };
      socket.onerror = () => {};  // a close always follows and says more
    });
  }

  // Sends {op, id, ...fields}; resolves with the answer's members when ok,
  // rejects with a RequestError when not, or an Error on timeout or close.
  request(op, fields = {}) {
    if (this.closed || !this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error('not connected'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op}: no answer within ${requestTimeoutMs} ms`));
        this.close(4000, 'request timeout');
      }, requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ ...fields, op, id }));
    });
  }

  close(code = 1000, reason = '') {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(code, reason);
    this.finish(code, reason);
  }

  receive(data) {
    if (typeof data !== 'string') return;  // we speak JSON only
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    // Batch frames (never negotiated here) would be arrays; accept them anyway.
    for (const item of Array.isArray(frame) ? frame : [frame]) this.dispatch(item);
  }

  dispatch(item) {
    if (item === null || typeof item !== 'object') return;
    if (typeof item.event === 'string' && !('id' in item)) {
      this.onEvent(item);
      return;
    }
    const waiting = this.pending.get(item.id);
    if (!waiting) return;
    this.pending.delete(item.id);
    clearTimeout(waiting.timer);
    if (item.ok) waiting.resolve(item);
    else waiting.reject(new RequestError(item));
  }

  finish(code, reason) {
    if (this.closed) return;
    this.closed = true;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error(`connection closed (${code})`));
    }
    this.pending.clear();
    this.onClose({ code, reason });
  }
}
