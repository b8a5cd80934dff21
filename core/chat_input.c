/* Multi-line input for the chat views: backslash continuations and """ blocks (core/chat.h). */
#include <stdlib.h>
#include <string.h>

#include "core/chat.h"

#define QUOTES "\"\"\""

static int append(struct mlxc_chat_lines *l, const char *s, size_t n, struct mlxc_err *e)
{
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n + 1)
            cap *= 2;
        char *p = realloc(l->text, cap);
        if (!p)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        l->text = p;
        l->cap = cap;
    }
    memcpy(l->text + l->len, s, n);
    l->len += n;
    l->text[l->len] = '\0';
    return 0;
}

static int done(struct mlxc_chat_lines *l, char **out, int *is_message, struct mlxc_err *e)
{
    if (!l->text && append(l, "", 0, e))
        return e->code;
    *out = l->text;
    *is_message = l->multi;
    l->text = NULL;
    l->len = l->cap = 0;
    l->in_block = l->continued = l->multi = l->started = 0;
    return 1;
}

int mlxc_chat_lines_feed(struct mlxc_chat_lines *l, const char *line, char **out, int *is_message,
                         struct mlxc_err *e)
{
    size_t n = strlen(line);
    *out = NULL;
    *is_message = 0;
    if (memchr(line, '\n', n)) /* pasted lines arrive as one: a message, never a command */
        l->multi = 1;
    if (l->in_block) {
        int closes = n >= 3 && memcmp(line + n - 3, QUOTES, 3) == 0;
        size_t keep = closes ? n - 3 : n;
        if (!closes || keep) { /* a closing line of only quotes adds no line */
            if ((l->started && append(l, "\n", 1, e)) || append(l, line, keep, e))
                return e->code;
            l->started = 1;
        }
        return closes ? done(l, out, is_message, e) : 0;
    }
    int first = !l->continued;
    if (first && n >= 3 && memcmp(line, QUOTES, 3) == 0) {
        l->multi = 1;
        const char *rest = line + 3;
        size_t m = n - 3;
        if (m >= 3 && memcmp(rest + m - 3, QUOTES, 3) == 0) /* """one line""" */
            return append(l, rest, m - 3, e) ? e->code : done(l, out, is_message, e);
        l->in_block = 1;
        l->started = m > 0; /* text after the opening quotes is the first line */
        return m && append(l, rest, m, e) ? e->code : 0;
    }
    if (!first && append(l, "\n", 1, e))
        return e->code;
    if (n && line[n - 1] == '\\') {
        l->continued = 1;
        l->multi = 1;
        return append(l, line, n - 1, e) ? e->code : 0;
    }
    l->continued = 0;
    return append(l, line, n, e) ? e->code : done(l, out, is_message, e);
}

int mlxc_chat_lines_pending(const struct mlxc_chat_lines *l)
{
    return l->in_block || l->continued;
}

void mlxc_chat_lines_clear(struct mlxc_chat_lines *l)
{
    l->len = 0;
    if (l->text)
        l->text[0] = '\0';
    l->in_block = l->continued = l->multi = l->started = 0;
}

void mlxc_chat_lines_free(struct mlxc_chat_lines *l)
{
    free(l->text);
    memset(l, 0, sizeof *l);
}
