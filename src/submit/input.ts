// What a local program writes on sendmail's stdin, turned into the CRLF message the queue stores.

export interface InputOptions {
  /**
   * Classic sendmail: a line holding only "." ends the message (what -i / -oi turn off). Nothing is
   * unstuffed either way: this is not SMTP's DATA (RFC 5321 §4.5.2), just sendmail's historical rule.
   */
  dotEnds: boolean;
}

/**
 * Line ends become CRLF. Programs write LF, so a bare LF is a line end; a bare CR is one too (old Mac
 * style), rather than kept: the queue must hold nothing but CRLF-terminated lines, because a lone CR
 * relayed onwards is what SMTP smuggling builds on (CR.CR, see test/dialogues/smuggling-*.smtp). A last
 * line without a line end gets one, as RFC 5322 §2.1 text requires.
 */
export function normaliseInput(input: Uint8Array, opts: InputOptions): Uint8Array {
  const out = new Uint8Array(input.length * 2 + 2);
  let n = 0;
  let lineStart = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== 0x0a && c !== 0x0d) {
      out[n++] = c;
      continue;
    }
    if (c === 0x0d && input[i + 1] === 0x0a) i++;
    if (opts.dotEnds && n - lineStart === 1 && out[lineStart] === 0x2e) return out.slice(0, lineStart);
    out[n++] = 0x0d;
    out[n++] = 0x0a;
    lineStart = n;
  }
  if (n > lineStart) {
    if (opts.dotEnds && n - lineStart === 1 && out[lineStart] === 0x2e) return out.slice(0, lineStart);
    out[n++] = 0x0d;
    out[n++] = 0x0a;
  }
  return out.slice(0, n);
}

/** True when some octet is 8-bit: the message then needs BODY=8BITMIME when relayed (RFC 6152). */
export function hasEightBit(message: Uint8Array): boolean {
  for (const c of message) if (c >= 0x80) return true;
  return false;
}
