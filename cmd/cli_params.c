#include "cmd/cli_params.h"

struct mlxc_sampler_params mlxc_cli_sampling(const struct mlxc_opts *o)
{
    return (struct mlxc_sampler_params){
        .temp = (float)o->temp, .top_p = (float)o->top_p, .min_p = (float)o->min_p,
        .min_tokens_to_keep = (int)o->min_tokens_to_keep, .top_k = (int)o->top_k,
        .xtc_probability = (float)o->xtc_probability, .xtc_threshold = (float)o->xtc_threshold};
}

struct mlxc_cache_opts mlxc_cli_cache_opts(const struct mlxc_cli *cli, const struct mlxc_opts *o)
{
    return (struct mlxc_cache_opts){
        .max_kv_size = mlxc_cli_given(cli, o, "max-kv-size") ? o->max_kv_size : 0,
        .kv_bits = mlxc_cli_given(cli, o, "kv-bits") ? (int)o->kv_bits : 0,
        .kv_group_size = (int)o->kv_group_size,
        .quantized_kv_start = o->quantized_kv_start};
}

struct mlxc_logits_params mlxc_cli_penalties(const struct mlxc_cli *cli, const struct mlxc_opts *o)
{
    return (struct mlxc_logits_params){
        .repetition_penalty = mlxc_cli_given(cli, o, "repetition-penalty") ? (float)o->repetition_penalty : 0.0f,
        .presence_penalty = (float)o->presence_penalty,
        .frequency_penalty = (float)o->frequency_penalty,
        .context_size = (int)o->repetition_context_size};
}
