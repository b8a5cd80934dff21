/* The man-page text of every program that its flag table (cmd/flags.c) does not hold: a description and
 * examples. cmd/gen_shell.c writes the man pages from both; a test checks that every program has an entry
 * here and that its examples use only flags the program accepts. Paragraphs are separated by "\n\n". */
#include <string.h>

#include "cmd/cli.h"

static const struct mlxc_cli_doc docs[] = {
    {"mlxc-generate",
     "Generates text from one prompt with an MLX model folder (or a repo id found in the local Hugging Face "
     "cache), as mlx_lm.generate does: the prompt goes through the model's chat template unless it has none "
     "or the template is turned off, tokens are sampled with the given temperature, top-p, min-p, top-k and "
     "XTC settings, and the text is written to standard output as it is produced.\n\n"
     "The rules around the text and the statistics (prompt and generation tokens per second, peak memory) go "
     "to standard error, so a pipe gets only the text. With the jsonl output format every token is one JSON "
     "object on its own line, optionally with the most likely alternatives and their log-probabilities.\n\n"
     "With --batch it serves many requests read from standard input, one per line: plain text, or a JSON "
     "object with a prompt (or messages), an optional id and any sampling setting under the flag's name with "
     "underscores (max_tokens, temp, top_p, seed, stop, repetition_penalty, logit_bias, top_logprobs...). "
     "Requests are decoded together (continuous batching: up to --completion-batch-size at once, new prompts "
     "prefilled in groups of --prefill-batch-size while the others go on), and each finished request writes "
     "one JSON line with its id and text at once. With a prompt cache every request starts from its own copy "
     "of it. At temperature 0 every request gets the text a run of its own gives.",
     {{"mlxc-generate --model mlx-community/Qwen3-0.6B-4bit --prompt 'Write a haiku about the sea'",
       "greedy generation with a model from the Hugging Face cache"},
      {"echo 'Summarize: ...' | mlxc-generate --model ./qwen3 --prompt - --max-tokens 200 --temp 0.7 --seed 1",
       "read the prompt from standard input and sample with a fixed seed"},
      {"mlxc-generate --model ./qwen3 --prompt hi --output-format jsonl --top-logprobs 5",
       "one JSON object per token, with the five most likely tokens at each step"},
      {"mlxc-generate --model ./qwen3 --prompt 'Once upon a time' --ignore-chat-template --verbose false",
       "continue raw text, printing nothing but the text"},
      {"mlxc-generate --prompt-cache-file long.safetensors --prompt 'Summarize the text above.'",
       "start from a prompt cache written by mlxc-cache-prompt (its model is the default)"},
      {"cut -f2 questions.tsv | mlxc-generate --model ./qwen3 --batch --max-tokens 64 | jq -r .text",
       "answer many questions at once, one JSON line per answer"},
      {NULL, NULL}}},
    {"mlxc-chat",
     "Chats with an MLX model in the terminal, as mlx_lm.chat does: each message is a user turn, the reply "
     "streams back, and the conversation stays in the model's KV cache between turns, so each turn computes "
     "only its own tokens. As in mlx_lm, a turn is the chat template over [system, user] for that message "
     "alone; --render conversation renders the whole conversation instead and computes only what the cache "
     "lacks.\n\n"
     "On a terminal the chat is full-screen: the transcript, a status bar (model, context used and its limit, "
     "the last reply's prompt and generation speed, peak memory) and a GNU readline input line with the "
     "history kept in $XDG_STATE_HOME/mlxc/history (~/.local/state/mlxc/history). With --plain, or when "
     "standard input or output is not a terminal, it reads one message per line and writes each reply to "
     "standard output and a statistics line to standard error, for scripts.\n\n"
     "A line ending in a backslash continues on the next line; a line starting with three double quotes "
     "opens a block that a line ending with them closes. Ctrl-C stops a reply (what was generated stays in "
     "the context) or clears the input; Ctrl-D on an empty line quits.\n\n"
     "Commands: q quits, r resets the conversation and h shows the commands, as in mlx_lm; also /quit, "
     "/reset, /help, /undo (drop the last exchange), /system TEXT (@FILE reads it, - clears it), /save FILE "
     "and /load FILE (the session as a prompt-cache file in mlx_lm's layout, the messages in its metadata), "
     "/stats; //text sends a message that starts with a slash.\n\n"
     "The context ends at the model's max_position_embeddings (or --max-context); the chat then says so and "
     "offers /undo and /reset, and --max-kv-size keeps a rotating window instead. The seed defaults to 0, so "
     "a conversation is reproducible unless the seed is changed.",
     {{"mlxc-chat --model mlx-community/Qwen3-0.6B-4bit", "chat with greedy decoding"},
      {"mlxc-chat --model ./qwen3 --temp 0.8 --top-p 0.95 --system-prompt @persona.txt",
       "sample, with a system message read from a file"},
      {"mlxc-chat --resume talk.safetensors", "continue a session saved with /save talk"},
      {"printf 'hi\\nbye\\n' | mlxc-chat --model ./qwen3", "two turns from a script"},
      {NULL, NULL}}},
    {"mlxc-convert",
     "Converts a Hugging Face model folder (safetensors weights, config.json, tokenizer files) into an MLX "
     "model folder, as mlx_lm.convert does: weights are cast to the given float type, quantized (affine, "
     "mxfp4, nvfp4 or mxfp8, optionally with a mixed-bit recipe) or dequantized, and written with the "
     "config.json that mlx_lm and mlxc read back.\n\n"
     "The output folder must not exist; files are written under temporary names and renamed when complete. "
     "A progress bar is drawn only when standard error is a terminal.",
     {{"mlxc-convert --hf-path ./Qwen3-0.6B --mlx-path ./qwen3-4bit --quantize",
       "quantize to 4 bits with groups of 64 (affine)"},
      {"mlxc-convert --hf-path ./Qwen3-0.6B --mlx-path ./qwen3-mixed --quantize --quant-predicate mixed_3_6",
       "mixed 3- and 6-bit quantization"},
      {"mlxc-convert --hf-path ./qwen3-4bit --mlx-path ./qwen3-bf16 --dequantize --dtype bfloat16",
       "dequantize back to bfloat16"},
      {NULL, NULL}}},
    {"mlxc-cache-prompt",
     "Runs a prompt through a model once and saves the resulting KV cache to a .safetensors file in "
     "mlx_lm's prompt-cache format, so that later generations can start from it instead of processing the "
     "prompt again (as mlx_lm.cache_prompt does).",
     {{"cat long.txt | mlxc-cache-prompt --model ./qwen3 --prompt - --prompt-cache-file long.safetensors",
       "cache a long document read from standard input"},
      {"mlxc-generate --prompt-cache-file long.safetensors --prompt 'Summarize the text above.'",
       "then ask about it without processing the document again"},
      {NULL, NULL}}},
    {"mlxc-tokenize",
     "Turns text into token ids with a model's tokenizer.json, or token ids back into text, exactly as the "
     "Hugging Face tokenizers library does. It can also render a model's chat template over a JSON list of "
     "messages (or an OpenAI-style request object), to show the prompt a model really sees.\n\n"
     "Text is read from the text flag or from standard input.",
     {{"mlxc-tokenize --model ./qwen3 --text 'Hello world'", "print the token ids"},
      {"mlxc-tokenize --model ./qwen3 --count < essay.txt", "count the tokens of a file"},
      {"echo '9707 1879' | mlxc-tokenize --model ./qwen3 --decode", "turn ids back into text"},
      {"mlxc-tokenize --model ./qwen3 --chat messages.json --render", "print the rendered chat template"},
      {NULL, NULL}}},
    {"mlxc-bench",
     "Measures how fast a model processes a prompt and generates tokens, as mlx_lm.benchmark does: random "
     "prompt tokens, end-of-sequence tokens ignored, one warm-up run and then timed trials, reporting "
     "prompt and generation tokens per second and peak memory for each trial and on average.",
     {{"mlxc-bench --model ./qwen3 -p 512 -g 128 -n 5", "the default benchmark, written out"},
      {"mlxc-bench --model ./qwen3 --output-format jsonl --threads 4", "machine-readable results on 4 threads"},
      {NULL, NULL}}},
    {"mlxc-perplexity",
     "Measures the perplexity of a text under a model, as mlx_lm.perplexity does: the text is tokenized "
     "once and cut into windows; it prints the exponential of the mean token cross-entropy with its "
     "standard error, and tokens per second.",
     {{"mlxc-perplexity --model ./qwen3 --data book.txt", "perplexity of a file in windows of 512 tokens"},
      {"cat notes.txt | mlxc-perplexity --sequence-length 256 --output-format jsonl", "the default model, JSON lines"},
      {NULL, NULL}}},
};

const struct mlxc_cli_doc *mlxc_cli_doc_find(const char *prog)
{
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        if (strcmp(docs[i].prog, prog) == 0)
            return &docs[i];
    return NULL;
}
