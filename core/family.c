#include "core/family.h"

#include <stdio.h>
#include <string.h>

static const struct mlxc_family *const families[] = {
    &mlxc_family_llama,
    &mlxc_family_qwen2,
    &mlxc_family_qwen3,
    &mlxc_family_gemma2,
    &mlxc_family_gemma3_text,
    &mlxc_family_phi3,
    &mlxc_family_smollm3,
    &mlxc_family_olmo2,
    &mlxc_family_starcoder2,
    &mlxc_family_mixtral,
    &mlxc_family_qwen3_moe,
    &mlxc_family_gpt_oss,
};

const struct mlxc_family *mlxc_family_find(const char *model_type)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        const struct mlxc_family *f = families[i];
        if (strcmp(f->name, model_type) == 0)
            return f;
        for (const char *const *a = f->aliases; a && *a; a++)
            if (strcmp(*a, model_type) == 0)
                return f;
    }
    return NULL;
}

const char *mlxc_family_list(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof families / sizeof families[0] && used < cap; i++) {
        const struct mlxc_family *f = families[i];
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", f->name);
        for (const char *const *a = f->aliases; a && *a && used < cap; a++)
            used += (size_t)snprintf(buf + used, cap - used, ", %s", *a);
    }
    return buf;
}
