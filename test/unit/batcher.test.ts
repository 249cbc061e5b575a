import t from 'tap';
import { createBatcher } from '../../src/db/batcher.ts';

/** A runner whose statements finish when the test says so, recording what each one carried. */
function controlled() {
  const statements: Array<{ items: string[]; finish: (fail?: Error) => void }> = [];
  const run = (items: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      statements.push({ items, finish: (fail) => (fail ? reject(fail) : resolve(items.map((i) => `done ${i}`))) });
    });
  return { statements, run };
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('alone, an item goes out at once; under load, waiting items share the next statement', async (t) => {
  const { statements, run } = controlled();
  const submit = createBatcher(run, { maxInFlight: 1 });
  const first = submit('a');
  await tick();
  t.same(statements.map((s) => s.items), [['a']], 'the first item does not wait');
  const rest = ['b', 'c', 'd'].map((item) => submit(item));
  await tick();
  t.equal(statements.length, 1, 'nothing more goes out while the statement is in flight');
  statements[0]!.finish();
  t.equal(await first, 'done a', 'each caller gets its own answer');
  await tick();
  t.same(statements.map((s) => s.items), [['a'], ['b', 'c', 'd']], 'the waiting items go out together');
  statements[1]!.finish();
  t.same(await Promise.all(rest), ['done b', 'done c', 'done d']);
});

t.test('items with one key never share a statement; a failed statement fails only its own items', async (t) => {
  const { statements, run } = controlled();
  const submit = createBatcher(run, { maxInFlight: 1, keyOf: (item) => item.split(':')[0]! });
  const a1 = submit('a:1');
  await tick();
  const waiting = [submit('a:2'), submit('b:1'), submit('a:3')];
  statements[0]!.finish();
  await a1;
  await tick();
  t.same(statements[1]!.items, ['a:2', 'b:1'], 'one item per key in a statement');
  statements[1]!.finish(new Error('connection lost'));
  await t.rejects(waiting[0]!, /connection lost/);
  await t.rejects(waiting[1]!, /connection lost/);
  await tick();
  t.same(statements[2]!.items, ['a:3'], 'the next item of that key goes in the next statement');
  statements[2]!.finish();
  t.equal(await waiting[2], 'done a:3', 'and succeeds on its own');
});

t.test('at most maxInFlight statements at once, each at most maxBatch items', async (t) => {
  const { statements, run } = controlled();
  const submit = createBatcher(run, { maxInFlight: 2, maxBatch: 3 });
  const all = Array.from({ length: 8 }, (_, i) => submit(String(i)));
  await tick();
  t.same(statements.map((s) => s.items.length), [1, 1], 'two in flight');
  statements[0]!.finish();
  await tick();
  await tick();
  t.same(statements.map((s) => s.items.length), [1, 1, 3], 'the next takes at most three');
  for (let i = 1; i < 10 && statements.some((s) => s.items.length > 0); i++) {
    statements.forEach((s) => s.finish());
    await tick();
    await tick();
  }
  t.equal((await Promise.all(all)).length, 8, 'every item answered');
});
