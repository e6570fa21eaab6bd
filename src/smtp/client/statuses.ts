// Enhanced status codes (RFC 3463) of the client's own verdicts, named: the one place such literals live.
// (The server's replies are in ../replies.ts; these are statuses for failures no peer replied with.)

/** X.3.4: the message is bigger than the peer's SIZE (RFC 1870 §6). */
export const TOO_BIG = '5.3.4';
/** X.6.3: 8-bit content and a peer without 8BITMIME (RFC 6152 §3: we bounce rather than convert). */
export const NEEDS_8BITMIME = '5.6.3';
/** X.6.7: UTF-8 envelope or header and a peer without SMTPUTF8 (RFC 6531 §3.2). */
export const NEEDS_SMTPUTF8 = '5.6.7';
/** X.7.5: TLS required by policy but not available or not verified. */
export const TLS_FAILED = '4.7.5';
/** RFC 4954 §6: "538 5.7.11 Encryption required for requested authentication mechanism". */
export const AUTH_NEEDS_TLS = '4.7.11';
/** X.7.0: the route has AUTH but the peer offers no mechanism we speak. */
export const AUTH_UNAVAILABLE = '4.7.0';
/** X.5.0: a reply we cannot interpret (wrong code for the step, malformed status). */
export const PROTOCOL_ERROR = '4.5.0';
/** X.4.2: the connection was lost after the data was sent: the peer may have the message. */
export const LOST_IN_DATA = '4.4.2';
/** X.1.7 / X.1.3: an address we could never send (control characters). */
export const BAD_SENDER = '5.1.7';
export const BAD_RECIPIENT = '5.1.3';
