// SPDX-License-Identifier: GPL-2.0-or-later
#include "escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The length of the well-formed UTF-8 sequence that starts at p (at most
 * available bytes), or 0 when there is none. The ranges are those of the
 * Unicode standard's table of well-formed byte sequences (3-7): its limits on
 * the second byte exclude overlong forms, surrogates and code points above
 * U+10FFFF. */
static size_t utf8_sequence(const unsigned char *p, size_t available)
{
    size_t length;
    unsigned char low = 0x80, high = 0xbf;   /* the second byte's range */
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        length = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        length = 3;
        if (p[0] == 0xe0)
            low = 0xa0;                      /* below: overlong */
        else if (p[0] == 0xed)
            high = 0x9f;                     /* above: surrogates */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        length = 4;
        if (p[0] == 0xf0)
            low = 0x90;                      /* below: overlong */
        else if (p[0] == 0xf4)
            high = 0x8f;                     /* above: beyond U+10FFFF */
    } else {
        return 0;                            /* a continuation byte, 0xc0, 0xc1, 0xf5-0xff */
    }
    if (available < length || p[1] < low || p[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return length;
}

size_t escape_bytes(char *out, size_t size, const char *in, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)in;
    size_t used = 0, needed = 0;
    bool full = false;   /* once a piece did not fit, nothing after it is written */
    for (size_t i = 0; i < length;) {
        unsigned char c = bytes[i];
        char escape[5];
        const char *piece = escape;
        size_t consumed = 1, piece_length = 2;
        if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            escape[0] = '\\';
            escape[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c >= 0x20 && c < 0x7f) {
            piece = (const char *)bytes + i;
            piece_length = 1;
        } else {
            size_t sequence = c >= 0x80 ? utf8_sequence(bytes + i, length - i) : 0;
            /* 0xc2 0x80-0x9f: a C1 control character. */
            if (sequence && !(c == 0xc2 && bytes[i + 1] <= 0x9f)) {
                piece = (const char *)bytes + i;
                piece_length = consumed = sequence;
            } else {
                snprintf(escape, sizeof(escape), "\\x%02x", c);
                piece_length = 4;
            }
        }
        needed += piece_length;
        if (!full && used + piece_length < size) {
            memcpy(out + used, piece, piece_length);
            used += piece_length;
        } else {
            full = true;
        }
        i += consumed;
    }
    if (size > 0)
        out[used] = '\0';
    return needed;
}

size_t escape_text(char *out, size_t size, const char *in)
{
    return escape_bytes(out, size, in, strlen(in));
}
