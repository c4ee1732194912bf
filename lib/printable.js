'use strict'

// Text from outside made safe for a terminal line: the sso-token command's output and the
// sign-in's prompt (docs/behaviour.md §8 and §10) print every value through printable().

// What a terminal would act on or show out of place if printed raw: C0 (LF too: only our
// own line ends may start a line), DEL, C1, the bidi embeddings, overrides and isolates,
// and the Unicode line and paragraph separators. The values come from files, argv, HOME
// and the SSO OIDC server, so an OSC-8 link, a CR or an erase-line in one of them could
// forge the lines around it.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const SHORT = { '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** `value` for a text line: each unsafe character as `\x1b`, `\r`, `\u{202e}`. */
function printable(value) {
  return String(value).replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0)
    if (SHORT[c]) return SHORT[c]
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })
}

module.exports = { printable }
