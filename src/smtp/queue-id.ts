// Queue ids: 18 characters of [0-9A-Z] that sort by creation time (ULID-like), safe in file names and headers.

// Crockford's base32: no I, L, O, U to misread; its order is ASCII order, so ids sort as strings.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10; // 50 bits of milliseconds: good until the year 37648
const RANDOM_CHARS = 8; // 40 random bits: collisions need ~10^6 ids in one millisecond
const RANDOM_BYTES = 5;
const RANDOM_SPACE = 2 ** 40;

export const QUEUE_ID_LENGTH = TIME_CHARS + RANDOM_CHARS;

function encode(value: number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

function randomBits(): number {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(RANDOM_BYTES));
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

/**
 * A generator of strictly increasing ids: within one millisecond (or if the clock steps back) the random
 * part is incremented instead of redrawn, so ids from one process never repeat and keep their order.
 */
export function createQueueIdGenerator(
  now: () => number = Date.now,
  random: () => number = randomBits,
): () => string {
  let lastTime = -1;
  let lastRandom = 0;
  return () => {
    let t = now();
    let r: number;
    if (t <= lastTime) {
      t = lastTime;
      r = lastRandom + 1;
      if (r >= RANDOM_SPACE) {
        t++;
        r = random() % RANDOM_SPACE;
      }
    } else {
      r = random() % RANDOM_SPACE;
    }
    lastTime = t;
    lastRandom = r;
    return encode(t, TIME_CHARS) + encode(r, RANDOM_CHARS);
  };
}

/** The process-wide generator the server wires as SessionDeps.newQueueId. */
export const newQueueId: () => string = createQueueIdGenerator();

/** The creation time encoded in an id (for operators and tests); NaN when it is not one of ours. */
export function queueIdTime(id: string): number {
  if (id.length !== QUEUE_ID_LENGTH) return Number.NaN;
  let t = 0;
  for (let i = 0; i < TIME_CHARS; i++) {
    const v = ALPHABET.indexOf(id[i]);
    if (v < 0) return Number.NaN;
    t = t * 32 + v;
  }
  return t;
}
