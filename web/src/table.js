// The live table: one row per record (data-key="<warehouse>/<sku>"), one cell
// per field (data-field="available", ...). A full rebuild after a snapshot or
// a filter change; otherwise only the cells of changed records are touched,
// in batches, and each changed cell is highlighted for a moment.
import { highlightMs, renderIntervalMs, rowsRenderedMax } from './limits.js';
import { compareRecords, matchesFilter, recordKey } from './records.js';

const fields = ['warehouse', 'sku', 'on_hand', 'reserved', 'available', 'version'];

export class RecordTable {
  // body: the <tbody>; note: an element for "showing N of M"; onSelect(key).
  constructor({ body, note, onSelect }) {
    this.body = body;
    this.note = note;
    this.rows = new Map();      // key -> <tr>
    this.dirty = new Map();     // key -> record, waiting for the next flush
    this.lit = new Map();       // <td> -> time its highlight ends
    this.flushTimer = null;
    this.needsRebuild = false;
    this.store = null;
    this.filter = { warehouse: '', skuPrefix: '' };
    this.selected = null;
    body.addEventListener('click', (click) => {
      const row = click.target.closest('tr[data-key]');
      if (row) onSelect(row.dataset.key);
    });
    this.sweeper = setInterval(() => this.sweep(), highlightMs / 4);
  }

  setFilter(filter) {
    this.filter = filter;
    this.rebuild(this.store);
  }

  select(key) {
    this.rows.get(this.selected)?.classList.remove('selected');
    this.selected = key;
    this.rows.get(key)?.classList.add('selected');
  }

  // Every row anew from the store (sorted, filtered, at most rowsRenderedMax).
  rebuild(store) {
    this.store = store;
    this.dirty.clear();
    this.lit.clear();
    this.rows.clear();
    this.needsRebuild = false;
    const matching = store ? [...store.records.values()].filter((r) => matchesFilter(r, this.filter)) : [];
    matching.sort(compareRecords);
    const shown = matching.slice(0, rowsRenderedMax);
    const fragment = document.createDocumentFragment();
    for (const record of shown) fragment.append(this.makeRow(record));
    this.body.replaceChildren(fragment);
    this.note.textContent = matching.length > shown.length
      ? `showing the first ${shown.length} of ${matching.length} records; narrow the filter to see the rest`
      : `${shown.length} record${shown.length === 1 ? '' : 's'}`;
  }

  // A record changed; drawn at the next flush.
  update(key, record) {
    if (!matchesFilter(record, this.filter)) return;
    if (!this.rows.has(key)) this.needsRebuild = true;  // a new record: place it in order
    this.dirty.set(key, record);
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), renderIntervalMs);
  }

  flush() {
    this.flushTimer = null;
    if (this.needsRebuild) {
      this.rebuild(this.store);
      return;
    }
    const until = performance.now() + highlightMs;
    for (const [key, record] of this.dirty) {
      const row = this.rows.get(key);
      if (!row) continue;
      for (const cell of row.cells) {
        const text = String(record[cell.dataset.field] ?? '');
        if (cell.textContent === text) continue;
        cell.textContent = text;
        cell.classList.add('changed');
        this.lit.set(cell, until);
      }
    }
    this.dirty.clear();
  }

  // Ends the highlights that are due; the CSS transition fades them out.
  sweep() {
    const now = performance.now();
    for (const [cell, until] of this.lit) {
      if (until > now) continue;
      cell.classList.remove('changed');
      this.lit.delete(cell);
    }
  }

  makeRow(record) {
    const key = recordKey(record);
    const row = document.createElement('tr');
    row.dataset.key = key;
    if (key === this.selected) row.classList.add('selected');
    for (const field of fields) {
      const cell = row.insertCell();
      cell.dataset.field = field;
      if (field !== 'warehouse' && field !== 'sku') cell.classList.add('number');
      cell.textContent = String(record[field] ?? '');
    }
    this.rows.set(key, row);
    return row;
  }
}
