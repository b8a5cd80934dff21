/* What mlxc-perplexity does, as library calls (mlx_lm.perplexity, llama.cpp's llama-perplexity): the
 * perplexity of a text under a model, with its standard error.
 *
 * The text's tokens are encode(text) with the tokenizer's special tokens (a BOS where the tokenizer adds
 * one), as mlx_lm tokenizes a document. They are cut into windows of L = sequence_length tokens starting
 * every `stride` tokens (1 <= stride <= L); only windows that fit whole are used (mlx_lm drops the
 * remainder too), the first num_samples of them when num_samples > 0. Each window is a fresh sequence
 * (an empty KV cache, positions from 0). In a window, the token at position t >= 1 is scored with the
 * logits at t-1, unless an earlier window already scored it: with stride == L every window scores its
 * last L-1 tokens (mlx_lm.perplexity), with stride < L the windows after the first score only their
 * last `stride` tokens, each with at least L - stride tokens of context (the sliding window of
 * Hugging Face's perplexity guide).
 *
 *   loss_t     = logsumexp(logits_{t-1}) - logits_{t-1}[token_t]       (natural log, f32 logits, f64 sums)
 *   perplexity = exp(mean loss)
 *   std. error = perplexity * std(losses, ddof=1) / sqrt(n)             (delta method, as mlx_lm) */
#ifndef MLXC_APP_PERPLEXITY_H
#define MLXC_APP_PERPLEXITY_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/forward.h"

struct mlxc_ppl_params {
    int64_t sequence_length; /* L >= 2 */
    int64_t stride;          /* 1..L */
    int64_t num_samples;     /* > 0: at most this many windows; <= 0: all */
};

/* A window: tokens [begin, begin + L); it scores positions [first, begin + L). */
struct mlxc_ppl_window {
    int64_t begin, first;
};

/* The windows over n tokens: returns their count and writes the first min(count, cap) of them to w
 * (w may be NULL). A negative return is an error in p (with e set). */
int64_t mlxc_ppl_windows(int64_t n, const struct mlxc_ppl_params *p, struct mlxc_ppl_window *w, int64_t cap,
                         struct mlxc_err *e);

struct mlxc_ppl_result {
    int64_t tokens;          /* tokens in the text */
    int64_t windows;         /* windows evaluated */
    int64_t windows_total;   /* windows planned */
    int64_t scored;          /* tokens scored: n in the formulas */
    int64_t processed;       /* tokens run through the model (windows * L) */
    double mean_loss, perplexity, standard_error;
    double seconds, tokens_per_sec; /* processed tokens per second of evaluation */
};

/* Called after every window with the running result; a non-zero return stops the evaluation. */
typedef int (*mlxc_ppl_progress_fn)(void *ctx, const struct mlxc_ppl_window *w, double window_loss_sum,
                                    int64_t window_scored, const struct mlxc_ppl_result *so_far);

/* Evaluates ids[0..n) under m. s is a state of m (any max_chunk: windows run in chunks of it). r holds
 * the windows done so far when it returns MLXC_EINTR (interrupt set, or the callback asked to stop). */
int mlxc_perplexity(const struct mlxc_model *m, struct mlxc_state *s, const int32_t *ids, int64_t n,
                    const struct mlxc_ppl_params *p, mlxc_ppl_progress_fn progress, void *ctx,
                    volatile int *interrupt, struct mlxc_ppl_result *r, struct mlxc_err *e);

struct mlxc_perplexity_args {
    const char *model;       /* folder or cached repo id; NULL: the default model (core/model_dir.h) */
    const char *data;        /* text file; NULL or "-": the `in` stream */
    struct mlxc_ppl_params params;
    int64_t batch_size;      /* >= 1; windows are evaluated one at a time, so it changes no result */
    int jsonl;               /* one JSON object per window, then the result */
    int progress;            /* "Processed i/N windows..." lines with \r on `log` */
    int threads;             /* <= 0: default */
    volatile int *interrupt; /* set by SIGINT */
};

/* Loads the model and the text, evaluates, and prints the result to out (mlx_lm's lines, or jsonl).
 * Returns 0, MLXC_EINTR (the result of the windows done is printed), or an error. */
int mlxc_perplexity_main(const struct mlxc_perplexity_args *a, FILE *in, FILE *out, FILE *log,
                         struct mlxc_err *e);

#endif
