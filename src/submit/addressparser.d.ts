// Types for nodemailer's RFC 5322 address-list parser, which ships without them (mailauth depends on it).
declare module 'nodemailer/lib/addressparser/index.js' {
  interface ParsedAddress {
    name: string;
    address?: string;
    group?: ParsedAddress[];
  }
  function addressparser(text: string, options?: { flatten?: boolean }): ParsedAddress[];
  export default addressparser;
}
