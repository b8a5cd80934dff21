#include "core/json_py.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

static void indent(struct mlxc_buf *b, int level)
{
    mlxc_buf_putc(b, '\n');
    for (int i = 0; i < level * 4; i++)
        mlxc_buf_putc(b, ' ');
}

/* ensure_ascii: non-ASCII as \uXXXX (surrogate pairs above the BMP), as Python does by default. */
static void put_string(struct mlxc_buf *b, const char *s)
{
    size_t n = strlen(s);
    mlxc_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            mlxc_buf_json_char(b, c);
            i++;
            continue;
        }
        uint32_t cp;
        int len = mlxc_utf8_decode(s + i, n - i, &cp);
        if (len == 0) { /* invalid byte: keep it as a replacement character */
            mlxc_buf_puts(b, "\\ufffd");
            i++;
            continue;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            mlxc_buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
            mlxc_buf_printf(b, "\\u%04x", cp);
        }
        i += (size_t)len;
    }
    mlxc_buf_putc(b, '"');
}

static void put_number(struct mlxc_buf *b, double d)
{
    if (d == floor(d) && fabs(d) < 1e15) {
        mlxc_buf_printf(b, "%lld", (long long)d);
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) { /* shortest form that reads back the same */
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    mlxc_buf_puts(b, tmp);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static void dump(struct mlxc_buf *b, const cJSON *v, int level, int sort)
{
    if (cJSON_IsNull(v)) {
        mlxc_buf_puts(b, "null");
    } else if (cJSON_IsTrue(v)) {
        mlxc_buf_puts(b, "true");
    } else if (cJSON_IsFalse(v)) {
        mlxc_buf_puts(b, "false");
    } else if (cJSON_IsNumber(v)) {
        put_number(b, v->valuedouble);
    } else if (cJSON_IsString(v)) {
        put_string(b, v->valuestring);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        int n = cJSON_GetArraySize(v);
        if (n == 0) {
            mlxc_buf_puts(b, obj ? "{}" : "[]");
            return;
        }
        const cJSON **items = malloc((size_t)n * sizeof *items);
        if (!items) {
            b->oom = 1;
            return;
        }
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            items[i++] = c;
        if (obj && sort)
            qsort(items, (size_t)n, sizeof *items, cmp_keys);
        mlxc_buf_putc(b, obj ? '{' : '[');
        for (i = 0; i < n; i++) {
            if (i)
                mlxc_buf_putc(b, ',');
            indent(b, level + 1);
            if (obj) {
                put_string(b, items[i]->string);
                mlxc_buf_puts(b, ": ");
            }
            dump(b, items[i], level + 1, 0);
        }
        indent(b, level);
        mlxc_buf_putc(b, obj ? '}' : ']');
        free(items);
    }
}

void mlxc_json_py_dump(struct mlxc_buf *b, const cJSON *v, int sort_top)
{
    dump(b, v, 0, sort_top);
}
