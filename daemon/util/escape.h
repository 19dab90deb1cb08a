// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Text from less trusted parties (control clients, D-Bus peers, domains
 * writing xenstore) made safe for a log line, a journal field, STATUS= or a
 * terminal: it can neither end the line it is on nor send the terminal a
 * command.
 *
 * Every byte that is a C0 control character (below 0x20), DEL (0x7f) or a
 * backslash, and every byte that is not part of well-formed UTF-8 (a stray
 * continuation byte, a sequence cut short, an overlong form such as 0xc0
 * 0xaf, a surrogate, above U+10FFFF), is replaced by a C-style escape:
 * "\n", "\r", "\t", "\\", or "\xNN" (two lowercase hex digits) for the rest.
 * The C1 control characters U+0080 to U+009F are escaped too, byte by byte
 * ("\xc2\x9b"): some terminals act on them as on ESC sequences. Everything
 * else, printable ASCII and well-formed UTF-8 ("é", "→"), is copied as is.
 * The backslash is escaped so that the result is unambiguous: "\x1b" in the
 * output is always an escaped ESC, never the four characters sent as such.
 *
 * No dependency on the rest of the daemon: xenreadyctl links it too.
 */
#pragma once

#include <stddef.h>

/* Room that escaping length bytes can take, with the terminating NUL: each
 * byte becomes at most 4 ("\xNN"). A buffer this size never truncates. */
#define ESCAPE_SIZE(length) (4 * (size_t)(length) + 1)

/* Escapes the NUL-terminated in into out, which has size bytes. The output
 * is always NUL-terminated (when size > 0) and, when it does not fit, cut
 * before the first escape or UTF-8 character that does not fit whole, never
 * inside one. Returns the length of the whole escaped text, without the NUL,
 * as snprintf() does: the output was truncated when that is >= size.
 * escape_text(NULL, 0, in) only measures. */
size_t escape_text(char *out, size_t size, const char *in);

/* The same for length bytes at in, which may hold NUL bytes ("\x00"). */
size_t escape_bytes(char *out, size_t size, const char *in, size_t length);
