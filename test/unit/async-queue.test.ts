import { describe, expect, it } from "vitest";
import { createAsyncQueue } from "../../src/util/async-queue.js";
import { readUntilAborted } from "../../src/util/read-until.js";

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe("async queue", () => {
  it("hands items out in push order, to a consumer already waiting too, and drains them after end", async () => {
    const queue = createAsyncQueue<number>();
    const it = queue[Symbol.asyncIterator]();
    const waiting = it.next();
    queue.push(1);
    queue.push(2);
    queue.push(3);
    queue.end();
    expect(queue.push(4)).toBe(false);
    expect(await waiting).toEqual({ done: false, value: 1 });
    expect(queue.size).toBe(2);
    expect(await drain({ [Symbol.asyncIterator]: () => it })).toEqual([2, 3]);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("throws the end's error once, after the queued items, then reports done", async () => {
    const queue = createAsyncQueue<string>();
    queue.push("a");
    queue.end(new Error("gone"));
    const it = queue[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ done: false, value: "a" });
    await expect(it.next()).rejects.toThrow("gone");
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("settles onFinish before the consumer learns of the end, once, whichever way iteration ends", async () => {
    const log: string[] = [];
    const finishing = (name: string) => async () => {
      await new Promise((resolve) => setImmediate(resolve));
      log.push(`${name} finished`);
    };

    const ended = createAsyncQueue<number>({ onFinish: finishing("ended") });
    const endedIt = ended[Symbol.asyncIterator]();
    const pending = endedIt.next().then((r) => log.push(`ended done=${r.done}`));
    ended.end();
    await pending;
    await endedIt.next();

    const left = createAsyncQueue<number>({ onFinish: finishing("left") });
    left.push(1);
    const leftIt = left[Symbol.asyncIterator]();
    const waitingNext = leftIt.next();
    const secondNext = leftIt.next();
    await leftIt.return?.();
    log.push("left returned");
    expect((await waitingNext).value).toBe(1);
    // A read pending when the consumer leaves is answered, not left hanging.
    expect(await secondNext).toEqual({ done: true, value: undefined });
    // Pushes after the consumer left are accepted but never read.
    left.push(2);
    expect(await leftIt.next()).toEqual({ done: true, value: undefined });

    expect(log).toEqual(["ended finished", "ended done=true", "left finished", "left returned"]);
  });
});

describe("readUntilAborted", () => {
  it("stops a pending read when the signal aborts, and ignores what the source does afterwards", async () => {
    const source = createAsyncQueue<number>();
    const stop = new AbortController();
    const seen: number[] = [];
    const reading = readUntilAborted(source, stop.signal, (n) => seen.push(n));
    source.push(1);
    await new Promise((resolve) => setImmediate(resolve));
    stop.abort();
    await reading;
    source.push(2);
    source.end(new Error("late failure"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([1]);
  });

  it("reads every item until the source ends, and passes on the source's failure", async () => {
    const source = createAsyncQueue<number>();
    const seen: number[] = [];
    const reading = readUntilAborted(source, new AbortController().signal, (n) => seen.push(n));
    for (let i = 0; i < 5; i++) source.push(i);
    source.end(new Error("malformed"));
    await expect(reading).rejects.toThrow("malformed");
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });
});
