// The alert list: newest first, at most alertsListedMax entries.
import { alertsListedMax } from './limits.js';
import { recordKey } from './records.js';

const labels = {
  low_stock: 'low stock',
  out_of_stock: 'out of stock',
  back_in_stock: 'back in stock',
};

export class AlertList {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
  }

  add(event) {
    const record = event.record ?? {};
    const key = recordKey(record);
    const item = document.createElement('li');
    item.dataset.kind = event.kind;
    item.dataset.key = key;
    item.className = `alert ${event.kind}`;
    const at = new Date(event.at_ms ?? Date.now());
    const time = document.createElement('time');
    time.dateTime = at.toISOString();
    time.textContent = at.toLocaleTimeString();
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = labels[event.kind] ?? event.kind;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = `${key}: available ${record.available ?? '?'}` +
      (event.threshold !== undefined ? ` (threshold ${event.threshold})` : '');
    item.append(time, kind, text);
    this.list.prepend(item);
    while (this.list.children.length > alertsListedMax) this.list.lastElementChild.remove();
    this.empty.hidden = true;
  }

  clear() {
    this.list.replaceChildren();
    this.empty.hidden = false;
  }
}
