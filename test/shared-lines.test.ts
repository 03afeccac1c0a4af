// The framing between a SQLite store host and its clients (src/store/sqlite/shared/lines.ts):
// lines reassembled from any chunking, and writes that keep their order when the socket takes part.
import { describe, expect, test } from "bun:test";
import { LineBuffer, Outbox } from "../src/store/sqlite/shared/lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Feeds `text` to a LineBuffer in chunks of `size` bytes; returns every line it gave back. */
function feed(text: string, size: number): string[] {
  const buffer = new LineBuffer();
  const all = bytes(text);
  const lines: string[] = [];
  for (let i = 0; i < all.length; i += size) lines.push(...buffer.push(all.subarray(i, i + size)));
  return lines;
}

describe("LineBuffer", () => {
  test("gives back each complete line, whatever the chunks, and keeps a partial last line for later", () => {
    const text = `{"a":1}\n{"b":"é ✓ 😀"}\n\n{"c":[1,2,3]}\n{"partial":`;
    for (const size of [1, 2, 3, 5, 7, 64, 1024]) {
      expect(feed(text, size)).toEqual([`{"a":1}`, `{"b":"é ✓ 😀"}`, `{"c":[1,2,3]}`]);
    }
    const buffer = new LineBuffer();
    expect(buffer.push(bytes(`{"partial":`))).toEqual([]);
    expect(buffer.push(bytes(`true}\nnext`))).toEqual([`{"partial":true}`]);
    expect(buffer.push(bytes(`\n`))).toEqual(["next"]);
  });

  test("a line much longer than a chunk arrives whole", () => {
    const long = JSON.stringify({ tasks: Array.from({ length: 5_000 }, (_, i) => ({ id: i, input: `task ${i} "quoted" ✓` })) });
    const lines = feed(`${long}\nshort\n`, 4096);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(long);
    expect(lines[1]).toBe("short");
  });
});

describe("Outbox", () => {
  /** A socket that takes at most `room` bytes per write, and what it received. */
  function socket(room: number) {
    const received: number[] = [];
    const state = { room, closed: false };
    const write = (data: Uint8Array) => {
      if (state.closed) return -1;
      const n = Math.min(state.room, data.length);
      received.push(...data.subarray(0, n));
      return n;
    };
    return { state, write, text: () => new TextDecoder().decode(new Uint8Array(received)) };
  }

  test("messages of one turn go out together; what the socket did not take goes out in order on drain", async () => {
    const s = socket(10);
    const outbox = new Outbox(s.write);
    outbox.send("first line\n");
    outbox.send("second line\n");
    await Promise.resolve();
    expect(s.text()).toBe("first line"); // the socket took 10 bytes
    let flushed = false;
    void outbox.flushed().then(() => (flushed = true));
    outbox.send("third\n");
    await Promise.resolve();
    s.state.room = 1_000;
    outbox.drain();
    await Promise.resolve();
    expect(s.text()).toBe("first line\nsecond line\nthird\n");
    expect(flushed).toBe(true);
  });

  test("a closed socket discards what is left, and flushed() still resolves", async () => {
    const s = socket(4);
    const outbox = new Outbox(s.write);
    outbox.send("abcdefgh\n");
    await Promise.resolve();
    const flushed = outbox.flushed();
    s.state.closed = true;
    outbox.drain();
    await flushed;
    outbox.send("never\n");
    await Promise.resolve();
    expect(s.text()).toBe("abcd");
  });
});
