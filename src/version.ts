// The version string shown by `tern version`, the greeting and the Received header comments.
export const VERSION = '0.1.0';
