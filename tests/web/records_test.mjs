// The dashboard's subscription state (web/src/records.js) as plain data: the
// position rule of the subscription contract, snapshots, resets, bounds.
// Run by node's test runner: `node --test tests/web/`.
import assert from 'node:assert/strict';
import test from 'node:test';
import { RecordStore, compareRecords, matchesFilter, recordKey } from '../../web/src/records.js';
import { recordsKeptMax } from '../../web/src/limits.js';

const record = (warehouse, sku, available, version = 1) =>
  ({ warehouse, sku, on_hand: available, reserved: 0, available, version });

test('a snapshot becomes the records only at snapshot_end, with its position', () => {
  const store = new RecordStore();
  store.addSnapshotPage([record('berlin', 'mug', 5)]);
  store.addSnapshotPage([record('paris', 'cap', 2)]);
  assert.equal(store.records.size, 0);
  assert.equal(store.resumable(), false);
  store.endSnapshot([[1, 45], [0, 123]]);
  assert.deepEqual([...store.records.keys()], ['berlin/mug', 'paris/cap']);
  assert.deepEqual(store.from(), [[0, 123], [1, 45]]);
  assert.equal(store.resumable(), true);
});

test('events advance their partition to the larger seq only', () => {
  const store = new RecordStore();
  store.endSnapshot([[0, 10], [1, 20]]);
  store.apply({ event: 'stock', partition: 0, seq: 11, record: record('berlin', 'mug', 4, 2) });
  store.apply({ event: 'alert', partition: 1, seq: 15, record: record('paris', 'cap', 1, 3) });
  store.apply({ event: 'stock', partition: 2, seq: 1, record: record('rome', 'pen', 9) });
  assert.deepEqual(store.from(), [[0, 11], [1, 20], [2, 1]]);
  assert.equal(store.records.get('berlin/mug').available, 4);
});

test('a replayed older version does not undo a newer one', () => {
  const store = new RecordStore();
  store.addSnapshotPage([record('berlin', 'mug', 5, 7)]);
  store.endSnapshot([[0, 10]]);
  const change = store.apply({ event: 'stock', partition: 0, seq: 9, record: record('berlin', 'mug', 8, 6) });
  assert.equal(change.record.version, 7);
  assert.equal(store.records.get('berlin/mug').available, 5);
});

test('reset drops records and position', () => {
  const store = new RecordStore();
  store.addSnapshotPage([record('berlin', 'mug', 5)]);
  store.endSnapshot([[0, 10]]);
  store.reset();
  assert.equal(store.records.size, 0);
  assert.equal(store.resumable(), false);
});

test('records beyond recordsKeptMax are not kept, and that is reported', () => {
  const store = new RecordStore();
  const page = Array.from({ length: recordsKeptMax + 5 }, (_, i) => record('w', `sku-${i}`, 1));
  store.addSnapshotPage(page);
  store.endSnapshot([]);
  assert.equal(store.records.size, recordsKeptMax);
  assert.equal(store.truncated, true);
  assert.equal(store.apply({ event: 'stock', partition: 0, seq: 1, record: record('x', 'new', 1) }), null);
});

test('polling: a full listing yields the changed and new records', () => {
  const store = new RecordStore();
  store.replaceAll([record('berlin', 'mug', 5, 1), record('paris', 'cap', 2, 1)]);
  const changes = store.replaceAll([record('berlin', 'mug', 4, 2), record('paris', 'cap', 2, 1),
    record('rome', 'pen', 3, 1)]);
  assert.deepEqual(changes.map((c) => [c.key, c.previous?.version]), [['berlin/mug', 1], ['rome/pen', undefined]]);
});

test('keys, order and filters', () => {
  assert.equal(recordKey(record('berlin', 'mug', 1)), 'berlin/mug');
  const sorted = [record('b', 'a', 1), record('a', 'z', 1), record('a', 'b', 1)].sort(compareRecords);
  assert.deepEqual(sorted.map(recordKey), ['a/b', 'a/z', 'b/a']);
  assert.equal(matchesFilter(record('berlin', 'tshirt-m', 1), { warehouse: 'berlin', skuPrefix: 'tshirt-' }), true);
  assert.equal(matchesFilter(record('paris', 'tshirt-m', 1), { warehouse: 'berlin', skuPrefix: '' }), false);
  assert.equal(matchesFilter(record('berlin', 'mug', 1), { warehouse: '', skuPrefix: 'tshirt-' }), false);
});
