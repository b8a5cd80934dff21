#include "quant/recipes.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int mlxc_recipe_parse(const char *name, int *low_bits, int *high_bits)
{
    static const struct {
        const char *name;
        int low, high;
    } recipes[] = {{"mixed_2_6", 2, 6}, {"mixed_3_4", 3, 4}, {"mixed_3_6", 3, 6}, {"mixed_4_6", 4, 6}};
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        if (strcmp(name, recipes[i].name) == 0) {
            *low_bits = recipes[i].low;
            *high_bits = recipes[i].high;
            return 0;
        }
    }
    return -1;
}

/* Length of the path component at p, and whether it is all digits. */
static size_t component(const char *p, int *numeric)
{
    size_t len = strcspn(p, ".");
    *numeric = len > 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)p[i]))
            *numeric = 0;
    return len;
}

/* The k-th dot-separated component of path as an integer, or -1 when the path is shorter (mlx_lm then
 * uses index 0). */
static int component_int(const char *path, int k)
{
    const char *p = path;
    for (int i = 0; i < k; i++) {
        p = strchr(p, '.');
        if (!p)
            return -1;
        p++;
    }
    int numeric;
    component(p, &numeric);
    return numeric ? atoi(p) : -1;
}

int mlxc_recipe_index_pos(const char *path)
{
    const char *p = path;
    for (int k = 0;; k++) {
        int numeric;
        size_t len = component(p, &numeric);
        if (numeric)
            return k;
        if (!p[len])
            return -1;
        p += len + 1;
    }
}

int mlxc_recipe_bits(const char *path, int idx_pos, int n_layers, int low_bits, int high_bits)
{
    int idx = idx_pos >= 0 ? component_int(path, idx_pos) : -1;
    if (idx < 0)
        idx = 0;
    int L = n_layers;
    int use_more = idx < L / 8 || idx >= 7 * L / 8 || ((idx - L / 8) % 3 + 3) % 3 == 2;
    if (strstr(path, "lm_head"))
        return high_bits;
    if ((strstr(path, "v_proj") || strstr(path, "v_a_proj") || strstr(path, "v_b_proj")) && use_more)
        return high_bits;
    if (strstr(path, "down_proj") && use_more)
        return high_bits;
    return low_bits;
}
