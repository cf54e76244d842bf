import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryFormatError, HistoryWriter, loadHistory, parseHistoryLine, prefixHash, readHistory, type HistoryEvent } from './history.js';
import { generateCleanHistory } from './clean-history-generator.js';

function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-chaos-'));
  return run(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('a history written as JSON lines reads back event for event', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'history.jsonl');
    const events = generateCleanHistory({ seed: 3, sends: 300, idempotence: false });
    const writer = new HistoryWriter(path, 4096);
    for (const event of events) writer.append(event);
    writer.close();
    assert.equal(writer.eventCount, events.length);
    // JSON drops undefined fields (a send without a partition), so compare through JSON.
    assert.deepEqual(await loadHistory(path), JSON.parse(JSON.stringify(events)));
  }));

test('the writer holds at most its buffer: lines reach the file while writing', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'history.jsonl');
    const bufferBytes = 2048;
    const writer = new HistoryWriter(path, bufferBytes);
    let appendedBytes = 0;
    for (let i = 0; i < 1000; i++) {
      const event: HistoryEvent = { type: 'send', process: 'p', topic: 't', value: `value-${i}`, timeMs: i };
      writer.append(event);
      appendedBytes += JSON.stringify(event).length + 1;
      assert.ok(appendedBytes - statSync(path).size <= bufferBytes, `more than ${bufferBytes} bytes held at event ${i}`);
    }
    // A line longer than the buffer is written straight through.
    writer.append({ type: 'send', process: 'p', topic: 't', value: 'x'.repeat(3 * bufferBytes), timeMs: 1000 });
    writer.close();
    writer.close();
    const events = await loadHistory(path);
    assert.equal(events.length, 1001);
    assert.equal((events[1000] as { value: string }).value.length, 3 * bufferBytes);
    assert.throws(() => writer.append(events[0]), /append after close/);
  }));

test('malformed lines are HistoryFormatErrors with their line number', async () => {
  assert.throws(() => parseHistoryLine('{"type":"send"', 3), (error: unknown) => error instanceof HistoryFormatError && error.lineNumber === 3);
  assert.throws(() => parseHistoryLine('{"type":"bogus"}', 1), /unknown event type "bogus"/);
  assert.throws(() => parseHistoryLine('[1]', 1), /not a JSON object/);
  assert.throws(() => parseHistoryLine('{"type":"ack","process":"p","topic":"t","value":"v","partition":0,"offset":"7","timeMs":1}', 1), /ack.offset must be number/);
  assert.throws(
    () => parseHistoryLine('{"type":"replica-prefix","broker":"b","topic":"t","partition":0,"endOffset":1,"timeMs":1}', 1),
    /needs a hash or records/,
  );
  assert.throws(
    () => parseHistoryLine('{"type":"replica-prefix","broker":"b","topic":"t","partition":0,"endOffset":1,"records":[[0]],"timeMs":1}', 1),
    /records/,
  );
  assert.deepEqual(parseHistoryLine('{"type":"send","process":"p","topic":"t","value":"v","timeMs":1}', 1), {
    type: 'send',
    process: 'p',
    topic: 't',
    value: 'v',
    timeMs: 1,
  });

  await withTempDir(async (dir) => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, '{"type":"meta","seed":1,"startedAtMs":0}\n\n{"type":"read"}\n');
    const seen: HistoryEvent[] = [];
    await assert.rejects(async () => {
      for await (const event of readHistory(path)) seen.push(event);
    }, (error: unknown) => error instanceof HistoryFormatError && error.lineNumber === 3);
    assert.equal(seen.length, 1);
  });
});

test('prefixHash depends on every offset and value, in order', () => {
  const base = prefixHash([
    [0, 'a'],
    [1, 'b'],
  ]);
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(base, prefixHash([[0, 'a'], [1, 'b']]));
  assert.notEqual(base, prefixHash([[0, 'a'], [2, 'b']]));
  assert.notEqual(base, prefixHash([[0, 'a'], [1, 'c']]));
  assert.notEqual(base, prefixHash([[1, 'b'], [0, 'a']]));
  assert.notEqual(base, prefixHash([[0, 'a']]));
});
