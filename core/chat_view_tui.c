/* The full-screen view of mlxc-chat (core/chat_view.h): ncurses draws the screen; GNU readline edits
 * the input through its callback interface, fed with ncurses' keys (tui_getc) and drawn by us
 * (tui_redisplay), so its key bindings, history and inputrc all work inside the window.
 *
 *   rows 0 .. status-1   the transcript, word-wrapped, newest at the bottom (PgUp/PgDn scroll)
 *   row status           the status bar: model, context used/limit, last prompt and generation speed, peak
 *   the last rows        the input (grows with the text up to a third of the screen)
 *
 * The terminal is in raw mode: Ctrl-C arrives as a key (it stops a reply, or clears the input), and
 * keys typed during a reply are kept for readline. Replies are drawn at most every 30 ms. */
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "core/chat_view.h"
#include "core/sys.h"
#include "core/utf8.h"

#define CTRL_C 3
#define DRAW_EVERY 0.03

enum kind { K_USER, K_REPLY, K_INFO, K_WARN, K_ERROR };

struct entry {
    enum kind kind;
    char *text;
    size_t len, cap;
};

struct row {
    const char *s;
    size_t n;
    int ent;     /* entry index, -1 for a blank separator */
    int first;   /* the entry's first row (gets the prefix) */
};

struct rows {
    struct row *r;
    size_t n, cap;
};

struct tui {
    struct mlxc_chat *c;
    const struct mlxc_chat_view_opts *o;
    SCREEN *scr;
    FILE *devnull;
    struct entry *ents;
    size_t n_ents, cap_ents;
    int scroll;           /* transcript rows scrolled back from the bottom */
    int busy;             /* a reply is streaming */
    int stop;             /* Ctrl-C during the reply */
    int quit;
    int utf8, color;
    double last_draw;
    struct mlxc_chat_lines lines;
    int typed[256];       /* keys typed during a reply, given to readline afterwards */
    int n_typed;
    char *line;           /* a line readline accepted */
    int line_ready, eof;
    int key, key_ready;   /* the key readline reads next */
    int oom;
};

static struct tui *T; /* readline's callbacks carry no context */

enum { PAIR_USER = 1, PAIR_WARN, PAIR_ERROR, PAIR_STATUS, PAIR_PROMPT };

/* ---- text measuring ---- */

/* Width in columns of the character at s[0..n) and its byte length. Control characters and invalid
 * bytes take one column (they are drawn as '?', a tab as a space). */
static int char_width(const char *s, size_t n, size_t *len)
{
    uint32_t cp;
    int l = mlxc_utf8_decode(s, n, &cp);
    if (l <= 0) {
        *len = 1;
        return 1;
    }
    *len = (size_t)l;
    if (cp < 32 || cp == 127)
        return 1;
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
}

static int text_width(const char *s)
{
    int w = 0;
    size_t n = strlen(s), len;
    for (size_t i = 0; i < n; i += len)
        w += char_width(s + i, n - i, &len);
    return w;
}

/* Draws s[0..n) at the cursor, control characters and invalid bytes replaced. */
static void put_text(const char *s, size_t n)
{
    size_t run = 0, i = 0;
    while (i < n) {
        size_t len;
        uint32_t cp = 0;
        int l = mlxc_utf8_decode(s + i, n - i, &cp);
        char_width(s + i, n - i, &len);
        if (l <= 0 || cp < 32 || cp == 127) {
            if (i > run)
                addnstr(s + run, (int)(i - run));
            addch(cp == '\t' ? ' ' : '?');
            run = i + len;
        }
        i += len;
    }
    if (n > run)
        addnstr(s + run, (int)(n - run));
}

static int rows_push(struct rows *rs, const char *s, size_t n, int ent, int first)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 64;
        struct row *p = realloc(rs->r, cap * sizeof *p);
        if (!p)
            return -1;
        rs->r = p;
        rs->cap = cap;
    }
    rs->r[rs->n++] = (struct row){s, n, ent, first};
    return 0;
}

/* Word-wraps s[0..n) to width columns: rows end at newlines, else at the last space that fits, else
 * between characters. An empty text is one empty row. */
static int wrap(struct rows *rs, const char *s, size_t n, int width, int ent)
{
    if (width < 1)
        width = 1;
    size_t i = 0;
    int first = 1;
    for (;;) {
        size_t start = i, j = i, brk = (size_t)-1;
        int col = 0;
        while (j < n && s[j] != '\n') {
            size_t len;
            int w = char_width(s + j, n - j, &len);
            if (col + w > width && j > start)
                break;
            if (s[j] == ' ')
                brk = j;
            col += w;
            j += len;
        }
        size_t end = j, next;
        if (j < n && s[j] != '\n') { /* the row is full */
            if (s[j] == ' ')
                next = j + 1;
            else if (brk != (size_t)-1 && brk > start)
                end = brk, next = brk + 1;
            else
                next = j;
        } else {
            next = j + 1;
        }
        if (rows_push(rs, s + start, end - start, ent, first))
            return -1;
        first = 0;
        if (j >= n && end == j)
            return 0;
        i = next;
        if (i > n)
            return 0;
    }
}

/* ---- the transcript ---- */

static struct entry *push_entry(struct tui *t, enum kind k, const char *s, size_t n)
{
    if (t->n_ents == t->cap_ents) {
        size_t cap = t->cap_ents ? 2 * t->cap_ents : 32;
        struct entry *p = realloc(t->ents, cap * sizeof *p);
        if (!p) {
            t->oom = 1;
            return NULL;
        }
        t->ents = p;
        t->cap_ents = cap;
    }
    struct entry *en = &t->ents[t->n_ents++];
    *en = (struct entry){k, NULL, 0, 0};
    return en;
}

static void entry_append(struct tui *t, struct entry *en, const char *s, size_t n)
{
    if (en->len + n + 1 > en->cap) {
        size_t cap = en->cap ? en->cap : 256;
        while (cap < en->len + n + 1)
            cap *= 2;
        char *p = realloc(en->text, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        en->text = p;
        en->cap = cap;
    }
    memcpy(en->text + en->len, s, n);
    en->len += n;
    en->text[en->len] = '\0';
}

static void add_entry(struct tui *t, enum kind k, const char *s, size_t n)
{
    struct entry *en = push_entry(t, k, s, n);
    if (en)
        entry_append(t, en, s, n);
}

static void clear_entries(struct tui *t)
{
    for (size_t i = 0; i < t->n_ents; i++)
        free(t->ents[i].text);
    t->n_ents = 0;
    t->scroll = 0;
}

static const char *prefix_of(const struct tui *t, enum kind k, int first)
{
    switch (k) {
    case K_USER: return first ? (t->utf8 ? "› " : "> ") : "  ";
    case K_WARN: return first ? "! " : "  ";
    case K_ERROR: return first ? (t->utf8 ? "✗ " : "x ") : "  ";
    case K_INFO: return "  ";
    default: return "";
    }
}

static attr_t attr_of(const struct tui *t, enum kind k)
{
    switch (k) {
    case K_USER: return A_BOLD | (t->color ? COLOR_PAIR(PAIR_USER) : 0);
    case K_INFO: return A_DIM;
    case K_WARN: return A_BOLD | (t->color ? COLOR_PAIR(PAIR_WARN) : 0);
    case K_ERROR: return A_BOLD | (t->color ? COLOR_PAIR(PAIR_ERROR) : 0);
    default: return A_NORMAL;
    }
}

/* Draws the transcript into rows [0, h) with `scroll` rows hidden below. */
static void draw_transcript(struct tui *t, int h, int W)
{
    struct rows all = {0}, one = {0};
    /* rows from the newest entry back, until the window (plus the scrolled part) is full; stored
     * bottom-up in `all` */
    int need = h + t->scroll, top_reached = 1;
    for (size_t k = t->n_ents; k-- > 0;) {
        if ((int)all.n >= need) {
            top_reached = 0;
            break;
        }
        const struct entry *en = &t->ents[k];
        int indent = (int)strlen(prefix_of(t, en->kind, 1)) > 0 ? 2 : 0;
        one.n = 0;
        if (wrap(&one, en->text ? en->text : "", en->len, W - indent, (int)k) ||
            (k + 1 < t->n_ents && rows_push(&all, "", 0, -1, 0)))
            break;
        for (size_t i = one.n; i-- > 0;)
            if (rows_push(&all, one.r[i].s, one.r[i].n, one.r[i].ent, one.r[i].first))
                break;
    }
    if (top_reached && t->scroll > (int)all.n - h)
        t->scroll = (int)all.n - h > 0 ? (int)all.n - h : 0;
    for (int y = h - 1, i = t->scroll; y >= 0 && i < (int)all.n; y--, i++) {
        const struct row *r = &all.r[i];
        if (r->ent < 0)
            continue;
        const struct entry *en = &t->ents[r->ent];
        attr_t a = attr_of(t, en->kind);
        const char *pfx = prefix_of(t, en->kind, r->first);
        move(y, 0);
        attron(a);
        addstr(pfx);
        put_text(r->s, r->n);
        attroff(a);
    }
    free(all.r);
    free(one.r);
}

/* ---- status bar and input ---- */

/* Cuts s, segments joined by `bar`, to at most w columns: whole segments while any fit, else the first
 * segment's first characters. */
static void fit_segments(char *s, const char *bar, int w)
{
    while (text_width(s) > w) {
        char *last = NULL;
        for (char *p = strstr(s, bar); p; p = strstr(p + 1, bar))
            last = p;
        if (!last)
            break;
        *last = '\0';
    }
    int col = 0;
    size_t n = strlen(s), len;
    for (size_t i = 0; i < n; i += len) {
        int cw = char_width(s + i, n - i, &len);
        if (col + cw > w) {
            s[i] = '\0';
            break;
        }
        col += cw;
    }
}

static void draw_status(struct tui *t, int y, int W)
{
    struct mlxc_chat_info in;
    mlxc_chat_get_info(t->c, &in);
    const char *bar = t->utf8 ? " │ " : " | ";
    char left[512], ctx[96], used[48], right[128];
    if (in.context_limit)
        snprintf(used, sizeof used, "%lld/%lld", (long long)in.context_used, (long long)in.context_limit);
    else
        snprintf(used, sizeof used, "%lld", (long long)in.context_used);
    snprintf(ctx, sizeof ctx, "ctx %s%s", used, in.context_limit ? "" : " (rotating)");
    /* a hint that must stay (what is going on), or one that goes first when space is short */
    int must = t->busy || t->scroll;
    if (t->busy) /* the last reply's figures would be stale: say what is going on instead */
        snprintf(right, sizeof right, "generating, Ctrl-C stops ");
    else if (t->scroll)
        snprintf(right, sizeof right, "scrolled back %d (PgDn) ", t->scroll);
    else
        snprintf(right, sizeof right, "/help  Ctrl-D quits ");
    int rw = (int)strlen(right); /* ASCII */
    /* the first form that fits beside the hint, or else alone; each drops words of the one before */
    const struct mlxc_gen_stats *l = &in.last;
    enum { FORMS = 4 };
    int fitted = 0;
    for (int form = 0; form < FORMS && !fitted; form++) {
        if (!in.has_last || t->busy)
            snprintf(left, sizeof left, " %s%s%s%s%s%.2f GB", in.model_name, bar, form < 3 ? ctx : used, bar,
                     form < 2 ? "peak " : "", in.peak_gb);
        else if (form == 0)
            snprintf(left, sizeof left, " %s%s%s%sprompt %lld tok, %.1f tok/s%sgen %lld tok, %.1f tok/s%speak %.2f GB",
                     in.model_name, bar, ctx, bar, (long long)l->prompt_tokens, l->prompt_tps, bar,
                     (long long)l->generation_tokens, l->generation_tps, bar, in.peak_gb);
        else if (form == 1)
            snprintf(left, sizeof left, " %s%s%s%sprompt %lld, %.0f tok/s%sgen %lld, %.1f tok/s%speak %.2f GB",
                     in.model_name, bar, ctx, bar, (long long)l->prompt_tokens, l->prompt_tps, bar,
                     (long long)l->generation_tokens, l->generation_tps, bar, in.peak_gb);
        else if (form == 2)
            snprintf(left, sizeof left, " %s%s%s%sprompt %.0f%sgen %.1f tok/s%s%.2f GB", in.model_name, bar, ctx, bar,
                     l->prompt_tps, bar, l->generation_tps, bar, in.peak_gb);
        else
            snprintf(left, sizeof left, " %s%s%s%sgen %.1f tok/s%s%.2f GB", in.model_name, bar, used, bar,
                     l->generation_tps, bar, in.peak_gb);
        if (text_width(left) + rw + 1 <= W)
            fitted = 1;
        else if (!must && text_width(left) <= W)
            fitted = 1, rw = 0;
    }
    if (!fitted) { /* nothing fits whole: whole segments of the last form, beside the hint that must stay */
        if (!must || rw > W)
            rw = 0;
        fit_segments(left, bar, rw ? W - rw - 1 : W);
    }
    attr_t a = t->color ? COLOR_PAIR(PAIR_STATUS) : A_REVERSE;
    attron(a);
    move(y, 0);
    for (int x = 0; x < W; x++)
        addch(' ');
    move(y, 0);
    put_text(left, strlen(left));
    if (rw && rw <= W)
        mvaddstr(y, W - rw, right);
    attroff(a);
}

/* Character-wraps the input (prompt, then readline's buffer, whose newlines come from pastes) into
 * rows of W columns; *cy and *cx: where the cursor (rl_point) goes. */
static int layout_input(struct tui *t, int W, struct rows *rs, int *cy, int *cx)
{
    /* lines already entered of a multi-line input */
    const char *p = t->lines.text ? t->lines.text : "";
    size_t plen = t->lines.len;
    if (mlxc_chat_lines_pending(&t->lines) && plen) {
        size_t i = 0;
        for (;;) {
            size_t j = i;
            while (j < plen && p[j] != '\n')
                j++;
            if (rows_push(rs, p + i, j - i, -2, 1))
                return -1;
            if (j >= plen)
                break;
            i = j + 1;
        }
    }
    const char *b = rl_line_buffer ? rl_line_buffer : "";
    size_t n = strlen(b), start = 0;
    int col = 2, first = 1;
    *cy = (int)rs->n;
    *cx = 2;
    for (size_t i = 0;; ) {
        if (i == (size_t)rl_point) {
            *cy = (int)rs->n;
            *cx = col;
        }
        if (i >= n)
            break;
        size_t len = 1;
        int w = b[i] == '\n' ? 0 : char_width(b + i, n - i, &len);
        if (b[i] == '\n' || col + w > W) {
            if (rows_push(rs, b + start, i - start, -1, first))
                return -1;
            first = 0;
            col = 2;
            if (b[i] == '\n') {
                start = ++i;
                continue;
            }
            start = i;
            if (i == (size_t)rl_point) {
                *cy = (int)rs->n;
                *cx = col;
            }
        }
        col += w;
        i += len;
    }
    if (rows_push(rs, b + start, n - start, -1, first))
        return -1;
    if (*cx >= W) { /* the cursor after a full row goes to the next one */
        if (rows_push(rs, b + n, 0, -1, 0))
            return -1;
        *cy = (int)rs->n - 1;
        *cx = 2;
    }
    return 0;
}

static void draw(struct tui *t)
{
    int H, W;
    getmaxyx(stdscr, H, W);
    erase();
    if (H < 1 || W < 4) {
        refresh();
        return;
    }
    struct rows in = {0};
    int cy = 0, cx = 2;
    if (layout_input(t, W, &in, &cy, &cx))
        in.n = 0;
    int max_in = H / 3 > 1 ? H / 3 : 1, in_h = (int)in.n < max_in ? (int)in.n : max_in;
    int first_in = (int)in.n - in_h; /* the rows shown: the last ones, or those holding the cursor */
    if (cy < first_in)
        first_in = cy;
    int status_y = H - in_h - 1;
    if (status_y > 0)
        draw_transcript(t, status_y, W);
    if (status_y >= 0)
        draw_status(t, status_y, W);
    int pending = mlxc_chat_lines_pending(&t->lines);
    for (int r = 0; r < in_h; r++) {
        const struct row *row = &in.r[first_in + r];
        int y = H - in_h + r;
        move(y, 0);
        if (row->ent == -2) { /* an entered line of the block */
            attron(A_DIM);
            addstr(t->utf8 ? "┆ " : ": ");
            put_text(row->s, row->n);
            attroff(A_DIM);
            continue;
        }
        if (row->first) {
            attron(A_BOLD | (t->color ? COLOR_PAIR(PAIR_PROMPT) : 0));
            addstr(pending ? (t->utf8 ? "… " : ". ") : (t->utf8 ? "› " : "> "));
            attroff(A_BOLD | (t->color ? COLOR_PAIR(PAIR_PROMPT) : 0));
        } else {
            addstr("  ");
        }
        put_text(row->s, row->n);
    }
    int y = H - in_h + (cy - first_in);
    move(y < H ? y : H - 1, cx < W ? cx : W - 1);
    free(in.r);
    refresh();
    t->last_draw = mlxc_now();
}

/* ---- readline glue ---- */

static int tui_getc(FILE *f)
{
    (void)f;
    if (T->key_ready) {
        T->key_ready = 0;
        return T->key;
    }
    /* readline wants more within one call (a bracketed paste): wait for it */
    for (;;) {
        timeout(-1);
        int ch = getch();
        if (ch == KEY_RESIZE || ch == ERR)
            continue;
        return ch;
    }
}

static int tui_input_available(void)
{
    if (T->key_ready)
        return 1;
    timeout(50); /* an escape sequence's bytes come together */
    int ch = getch();
    timeout(-1);
    if (ch == ERR)
        return 0;
    ungetch(ch);
    return 1;
}

static void tui_redisplay(void)
{
    draw(T);
}

static void on_line(char *line)
{
    T->line = line;
    T->eof = line == NULL;
    T->line_ready = 1;
}

static int scroll_by(int rows)
{
    int H = getmaxy(stdscr);
    T->scroll += rows * (H > 6 ? H / 2 : 1);
    if (T->scroll < 0)
        T->scroll = 0;
    draw(T);
    return 0;
}

static int rl_page_up(int count, int key)
{
    (void)key;
    return scroll_by(count > 0 ? count : 1);
}

static int rl_page_down(int count, int key)
{
    (void)key;
    return scroll_by(-(count > 0 ? count : 1));
}

static int rl_redraw(int count, int key)
{
    (void)count, (void)key;
    clearok(curscr, TRUE);
    draw(T);
    return 0;
}

static void feed_key(struct tui *t, int ch)
{
    t->key = ch;
    t->key_ready = 1;
    rl_callback_read_char();
    t->key_ready = 0;
}

/* ---- chat events ---- */

static void poll_keys(struct tui *t)
{
    timeout(0);
    int ch;
    while ((ch = getch()) != ERR) {
        if (ch == CTRL_C)
            t->stop = 1;
        else if (ch == KEY_RESIZE)
            draw(t);
        else if (t->n_typed < (int)(sizeof t->typed / sizeof t->typed[0]))
            t->typed[t->n_typed++] = ch;
    }
    timeout(-1);
}

static int on_event(void *ctx, enum mlxc_chat_event ev, const char *text, size_t len)
{
    struct tui *t = ctx;
    switch (ev) {
    case MLXC_CHAT_REPLY_BEGIN:
        t->busy = 1;
        t->stop = 0;
        t->scroll = 0;
        push_entry(t, K_REPLY, "", 0);
        draw(t);
        break;
    case MLXC_CHAT_REPLY_TEXT:
        if (t->n_ents)
            entry_append(t, &t->ents[t->n_ents - 1], text, len);
        poll_keys(t);
        if (mlxc_now() - t->last_draw >= DRAW_EVERY)
            draw(t);
        return t->stop;
    case MLXC_CHAT_REPLY_END:
        t->busy = 0;
        if (text && len == 11 && !memcmp(text, "interrupted", 11))
            add_entry(t, K_INFO, "(stopped)", 9);
        break;
    case MLXC_CHAT_INFO:
        add_entry(t, K_INFO, text, len);
        break;
    case MLXC_CHAT_WARN:
        add_entry(t, K_WARN, text, len);
        break;
    case MLXC_CHAT_CLEAR:
        clear_entries(t);
        break;
    case MLXC_CHAT_PAST_USER:
        add_entry(t, K_USER, text, len);
        break;
    case MLXC_CHAT_PAST_REPLY:
        add_entry(t, K_REPLY, text, len);
        break;
    case MLXC_CHAT_QUIT:
        t->quit = 1;
        break;
    }
    return 0;
}

/* A line readline accepted: part of a multi-line input, a command or a message. */
static void handle_line(struct tui *t, char *line)
{
    mlxc_chat_history_add(t->o->history_path, line);
    struct mlxc_err e = {0};
    char *input = NULL;
    int is_message = 0;
    int rc = mlxc_chat_lines_feed(&t->lines, line, &input, &is_message, &e);
    if (rc == 1 && (is_message || *input)) {
        t->scroll = 0;
        add_entry(t, K_USER, input, strlen(input)); /* as typed, commands too */
        draw(t);
        rc = is_message ? mlxc_chat_say(t->c, input, on_event, t, &e) : mlxc_chat_input(t->c, input, on_event, t, &e);
        if (t->o->interrupt)
            *t->o->interrupt = 0;
    }
    free(input);
    if (rc < 0)
        add_entry(t, K_ERROR, e.msg, strlen(e.msg));
    draw(t);
}

static void setup_colors(struct tui *t)
{
    if (!t->color || !has_colors()) {
        t->color = 0;
        return;
    }
    start_color();
    use_default_colors();
    init_pair(PAIR_USER, COLOR_CYAN, -1);
    init_pair(PAIR_WARN, COLOR_YELLOW, -1);
    init_pair(PAIR_ERROR, COLOR_RED, -1);
    init_pair(PAIR_STATUS, COLOR_BLACK, COLOR_CYAN);
    init_pair(PAIR_PROMPT, COLOR_GREEN, -1);
}

static void setup_readline(struct tui *t)
{
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_prep_term_function = NULL; /* ncurses owns the terminal */
    rl_deprep_term_function = NULL;
    rl_getc_function = tui_getc;
    rl_input_available_hook = tui_input_available;
    rl_redisplay_function = tui_redisplay;
    t->devnull = fopen("/dev/null", "w");
    rl_outstream = t->devnull; /* bells and completion lists would write over the screen */
    rl_bind_keyseq("\\e[5~", rl_page_up);
    rl_bind_keyseq("\\e[6~", rl_page_down);
    rl_bind_key('\f', rl_redraw);
    rl_callback_handler_install("", on_line);
}

int mlxc_chat_view_tui(struct mlxc_chat *c, const struct mlxc_chat_view_opts *o)
{
    setlocale(LC_CTYPE, "");
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) /* replies are UTF-8: draw them as such if we can */
        setlocale(LC_CTYPE, "C.UTF-8");
    struct tui t = {.c = c, .o = o, .color = o->color};
    t.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    if (!(t.scr = newterm(NULL, stdout, stdin))) {
        fprintf(stderr, "%s: warning: cannot drive this terminal ($TERM='%s'): using the plain view\n", o->prog,
                getenv("TERM") ? getenv("TERM") : "");
        return mlxc_chat_view_plain(c, o, stdin, stdout, stderr);
    }
    T = &t;
    raw();
    noecho();
    nonl();
    keypad(stdscr, FALSE); /* readline decodes the escape sequences itself */
    setup_colors(&t);
    fputs("\033[?2004h", stdout); /* bracketed paste: a pasted block arrives as one input */
    fflush(stdout);
    mlxc_chat_history_open(o->history_path);
    setup_readline(&t);

    struct mlxc_chat_info info;
    mlxc_chat_get_info(c, &info);
    if (info.n_messages)
        mlxc_chat_replay(c, on_event, &t);
    char hello[512];
    snprintf(hello, sizeof hello, "mlxc-chat with %s. /help lists the commands; Ctrl-D quits.", info.model);
    add_entry(&t, K_INFO, hello, strlen(hello));
    draw(&t);

    while (!t.quit && !t.eof) {
        int ch;
        if (t.n_typed) { /* typed during the reply */
            ch = t.typed[0];
            memmove(t.typed, t.typed + 1, (size_t)--t.n_typed * sizeof t.typed[0]);
        } else {
            timeout(-1);
            ch = getch();
        }
        if (t.o->interrupt && *t.o->interrupt) /* a SIGINT from outside while idle: as Ctrl-C */
            *t.o->interrupt = 0, ch = CTRL_C;
        if (ch == ERR)
            continue;
        if (ch == KEY_RESIZE) {
            draw(&t);
            continue;
        }
        if (ch == CTRL_C) { /* clear the input (and a multi-line input under way) */
            rl_callback_sigcleanup();
            rl_replace_line("", 0);
            rl_point = 0;
            mlxc_chat_lines_clear(&t.lines);
            draw(&t);
            continue;
        }
        feed_key(&t, ch);
        if (t.line_ready) {
            t.line_ready = 0;
            if (t.line) {
                handle_line(&t, t.line);
                free(t.line);
                t.line = NULL;
            }
        }
    }
    rl_callback_handler_remove();
    mlxc_chat_history_close(o->history_path);
    endwin();
    delscreen(t.scr);
    fputs("\033[?2004l", stdout);
    fflush(stdout);
    if (t.devnull)
        fclose(t.devnull);
    clear_entries(&t);
    free(t.ents);
    mlxc_chat_lines_free(&t.lines);
    T = NULL;
    return 0;
}
