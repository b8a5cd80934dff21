#!/usr/bin/python3
"""Generates the chat-template goldens in tests/data/templates/ with jinja2 as transformers runs it.

The environment reproduces transformers' utils/chat_template_utils.py (_compile_jinja_template and
render_jinja_template): ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
AssistantTracker "generation" extension and jinja2.ext.loopcontrols, tojson replaced by json.dumps
(ensure_ascii=False), and the raise_exception and strftime_now globals. strftime_now sees a fixed time
so the goldens are stable.

Writes:
  cases.jsonl     real templates x conversations (template file, inputs as JSON text, output or error)
  snippets.jsonl  small templates exercising one engine feature each (source, context, output or error)

Run with the system Python that has jinja2 3.1: /usr/bin/python3 tests/gen/make_template_cases.py
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "templates")
FIXED_NOW = datetime(2025, 7, 26, 14, 5, 9)


class AssistantTracker(Extension):
    """transformers' extension: {% generation %}...{% endgeneration %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = environment()

# What the C test checks of an error: the message itself (runtime errors jinja2 words), the line
# (syntax errors), or only that rendering fails.
EXACT = ("TemplateError", "UndefinedError", "SecurityError", "TemplateRuntimeError")


def error_of(e):
    name = type(e).__name__
    err = {"type": name, "message": str(e).split("\n")[0]}
    if isinstance(e, jinja2.TemplateSyntaxError):
        err["line"] = e.lineno
        err["message"] = e.message
    err["match"] = "line" if "line" in err else ("message" if name in EXACT else "fail")
    return err


def render_chat(source, messages, tools=None, documents=None, add_generation_prompt=False,
                continue_final_message=False, tokens=None, extra=None):
    """transformers' apply_chat_template(tokenize=False) / render_jinja_template."""
    if continue_final_message and add_generation_prompt:
        raise ValueError("continue_final_message and add_generation_prompt are not compatible.")
    kwargs = dict(tokens or {})
    kwargs.update(extra or {})
    compiled = ENV.from_string(source)
    rendered = compiled.render(messages=messages, tools=tools, documents=documents,
                               add_generation_prompt=add_generation_prompt, **kwargs)
    if continue_final_message:
        final_message = messages[-1]["content"]
        if isinstance(final_message, (list, tuple)):
            for block in reversed(final_message):
                if "text" in block:
                    final_message = block["text"]
                    break
            else:
                raise ValueError("continue_final_message is set but we could not find any text to continue")
        if final_message.strip() not in rendered:
            raise ValueError("continue_final_message is set but the final message does not appear in the chat")
        loc = rendered.rindex(final_message.strip())
        if rendered[loc: loc + len(final_message.lstrip())] == final_message:
            rendered = rendered[: loc + len(final_message.lstrip())]
        else:
            rendered = rendered[: loc + len(final_message.strip())]
    return rendered


# ---------------------------------------------------------------------------------------------------
# Real templates and the special tokens of their tokenizer_config.json

TEMPLATES = {
    "llama3.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"},
    "llama-3.3-70b-instruct.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "qwen2.5-instruct.jinja": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen3.jinja": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "gemma-2-2b-it.jinja": {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"},
    "gemma3.jinja": {"bos_token": "<bos>", "eos_token": "<end_of_turn>", "unk_token": "<unk>", "pad_token": "<pad>"},
    "mistral-nemo-instruct-2407.jinja": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "phi-3.5-mini-instruct.jinja": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>"},
    "phi-4-mini-instruct.jinja": {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
    "deepseek-v3.jinja": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>",
                          "pad_token": "<｜end▁of▁sentence｜>"},
    "deepseek-v3.1.jinja": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "smollm2.jinja": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
    "smollm3.jinja": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
    "gpt-oss.jinja": {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"},
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
                "days": {"type": "integer", "description": "Forecast days", "default": 1},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web (résumé, 日本語 ok).",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                         "limit": {"type": "number"}},
                       "required": ["query"]},
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

CALL = {"id": "call12345", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}}

LONG = " ".join("word%d" % i for i in range(1500)) + "\nThe end."


def conversations():
    """(name, messages, options) triples rendered against every template."""
    U = lambda c: {"role": "user", "content": c}
    A = lambda c: {"role": "assistant", "content": c}
    S = lambda c: {"role": "system", "content": c}
    yield "single_turn", [U("Hello!")], {"add_generation_prompt": True}
    yield "single_turn_no_prompt", [U("Hello!")], {}
    yield "system_user", [S("You are a terse assistant."), U("What is 2+2?")], {"add_generation_prompt": True}
    yield "multi_turn", [U("Hi"), A("Hello! How can I help?"), U("Tell me a joke."),
                         A("Why did the chicken cross the road?"), U("Why?")], {"add_generation_prompt": True}
    yield "multi_turn_system_no_prompt", [S("Be kind."), U("Hi"), A("Hello."), U("Bye"), A("Goodbye!")], {}
    yield "unicode_newlines", [U("Ünïcödé ✓ 日本語 🙂\n\n  indented line\ttab\r\nwindows line  "),
                               A("  Répondu: «oui»\n"), U("¿Qué? \u2028 sep")], {"add_generation_prompt": True}
    yield "empty_content", [U(""), A(""), U("   ")], {"add_generation_prompt": True}
    yield "long_message", [U(LONG)], {"add_generation_prompt": True}
    yield "quotes_and_braces", [U("He said \"{{ not a tag }}\" and {% neither %} '\\n' \\ backslash")], {"add_generation_prompt": True}
    yield "tools_defined", [S("You can use tools."), U("What's the weather in Paris?")], {"add_generation_prompt": True, "tools": TOOLS}
    yield "tools_no_system", [U("Weather in Paris in fahrenheit?")], {"add_generation_prompt": True, "tools": [WEATHER_TOOL]}
    yield "tool_call_and_result", [U("What's the weather in Paris?"),
                                   {"role": "assistant", "content": "", "tool_calls": [CALL]},
                                   {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
                                    "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
                                   A("It is 21.5 °C and clear in Paris.")], {"tools": TOOLS}
    yield "tool_call_string_args", [U("Weather?"),
                                    {"role": "assistant", "content": None, "tool_calls": [
                                        {"id": "abcdefghi", "type": "function",
                                         "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                                    {"role": "tool", "tool_call_id": "abcdefghi", "content": "cold"}], {"add_generation_prompt": True, "tools": TOOLS}
    yield "thinking_history", [U("Solve 1+1"), {"role": "assistant", "content": "<think>\nEasy.\n</think>\n\n2",
                                                 "reasoning_content": "Easy."},
                               U("And 2+2?")], {"add_generation_prompt": True}
    yield "thinking_disabled", [U("Quick answer please")], {"add_generation_prompt": True,
                                                             "extra": {"enable_thinking": False}}
    yield "prefill_continue", [U("Write a haiku."), A("Silent pond  ")], {"continue_final_message": True}
    yield "starts_with_assistant", [A("I speak first."), U("ok")], {"add_generation_prompt": True}
    yield "system_only", [S("Only a system prompt.")], {"add_generation_prompt": True}
    yield "content_parts", [U([{"type": "text", "text": "Describe "}, {"type": "text", "text": "this."}])], {"add_generation_prompt": True}
    yield "no_messages", [], {"add_generation_prompt": True}
    yield "thinking_field_tool_call", [S("Use tools."), U("Weather in Oslo?"),
                                       {"role": "assistant", "thinking": "Need the weather tool.",
                                        "tool_calls": [CALL]},
                                       {"role": "tool", "tool_call_id": "call12345", "content": "{\"t\": -3}"},
                                       {"role": "assistant", "content": "It is -3 degrees.", "thinking": "Done."}], {"tools": TOOLS}
    yield "extra_kwargs", [S("sys"), U("Hi")], {"add_generation_prompt": True, "tools": [WEATHER_TOOL], "extra": {
        "reasoning_effort": "high", "builtin_tools": ["browser", "python"], "model_identity": "You are Tiny.",
        "date_string": "01 Jan 2030", "tools_in_user_message": False, "enable_thinking": True, "thinking": True}}
    yield "two_tool_calls", [U("Weather in two cities?"),
                             {"role": "assistant", "content": "", "tool_calls": [
                                 CALL, {"id": "call67890", "type": "function",
                                        "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
                             {"role": "tool", "tool_call_id": "call12345", "content": "sunny"},
                             {"role": "tool", "tool_call_id": "call67890", "content": "rain"}], {"add_generation_prompt": True, "tools": TOOLS}


def write_cases():
    cases = []
    for tname, tokens in TEMPLATES.items():
        path = os.path.join(OUT, tname)
        if not os.path.exists(path):
            print("missing template", tname, file=sys.stderr)
            continue
        source = open(path, encoding="utf-8").read()
        for cname, messages, opts in conversations():
            case = {
                "name": "%s/%s" % (tname, cname),
                "template": tname,
                "tokens_json": json.dumps(tokens, ensure_ascii=False),
                "messages_json": json.dumps(messages, ensure_ascii=False),
                "tools_json": json.dumps(opts["tools"], ensure_ascii=False) if "tools" in opts else None,
                "extra_json": json.dumps(opts["extra"]) if "extra" in opts else None,
                "add_generation_prompt": bool(opts.get("add_generation_prompt")),
                "continue_final_message": bool(opts.get("continue_final_message")),
            }
            try:
                case["expected"] = render_chat(source, messages, tools=opts.get("tools"),
                                               add_generation_prompt=case["add_generation_prompt"],
                                               continue_final_message=case["continue_final_message"],
                                               tokens=tokens, extra=opts.get("extra"))
            except Exception as e:  # noqa: BLE001 - the golden records whatever jinja2 raised
                case["error"] = error_of(e)
            cases.append(case)
    with open(os.path.join(OUT, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    ok = sum(1 for c in cases if "expected" in c)
    print("cases.jsonl: %d cases (%d render, %d raise)" % (len(cases), ok, len(cases) - ok))


# ---------------------------------------------------------------------------------------------------
# Engine snippets: (source, context)

def snippets():
    from snippet_list import SNIPPETS  # noqa: E402 - kept in its own file, it is long
    return SNIPPETS


def write_snippets():
    out = []
    for i, (source, ctx) in enumerate(snippets()):
        item = {"name": "snippet %d" % i, "source": source, "context_json": json.dumps(ctx, ensure_ascii=False)}
        try:
            item["expected"] = ENV.from_string(source).render(**ctx)
        except Exception as e:  # noqa: BLE001
            item["error"] = error_of(e)
        out.append(item)
    with open(os.path.join(OUT, "snippets.jsonl"), "w", encoding="utf-8") as f:
        for s in out:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    ok = sum(1 for s in out if "expected" in s)
    print("snippets.jsonl: %d snippets (%d render, %d raise)" % (len(out), ok, len(out) - ok))


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    assert jinja2.__version__.startswith("3.1"), jinja2.__version__
    write_cases()
    write_snippets()
