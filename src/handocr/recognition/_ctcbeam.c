/* CTC prefix beam search with a character n-gram language model and a word lexicon, in C.
 *
 * The same search as handocr.recognition.beam.prefix_beam_search (the pure-Python reference), step
 * for step and in the same floating-point order, so both give the same labels; this one takes
 * about a tenth of its time (1-2 ms a line on val, python -m bench.decoder). See that function for the method. Only
 * search() and align() are exported; handocr.recognition.beam prepares their arguments (the LM's
 * tables as float64 / int64 arrays, the lexicon's words and the charset's lowercase forms as
 * arrays, or a callback to the lexicon) and wraps them. With no callback, the search runs without
 * the GIL, so that several threads can decode the lines of a page at once.
 *
 * A prefix is a node of a trie (its parent and its last class), made once and shared by every
 * beam that reaches it, so two beams hold the same prefix exactly when they hold the same node.
 * The LM is read in its backoff form: for a state, each order's range of stored n-grams and its
 * backoff weight are found once (a "walk"); a symbol's log-probability is then the highest stored
 * n-gram's plus the backoff weights above it, added in the order the Python LM adds them. A walk
 * finds each order's context through hash indexes made by CharNgramLM.tables; a prefix's LM term
 * (its last class after the rest) is computed when the prefix is first reached and kept on its
 * node, and prefixes with the same LM state share one walk.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ABI_VERSION 3
#define MAX_ORDER 24

/* -- the prefix trie ---------------------------------------------------------------------- */

typedef struct {
    int parent;
    int cls;
    int first_child;
    int next_sibling;
    int walk;  /* index of the prefix's LM walk in the search's walks, or -1 before it is needed */
    int known; /* whether the lexicon knows the prefix's last word: 1, 0, or -1 before it is asked */
    int scored;       /* whether lm_term and lm_state below are set */
    double lm_term;   /* lm_weight times the LM log-probability of the prefix's last class after the rest */
    int64_t lm_state; /* the LM state after the prefix */
} Node;

typedef struct {
    Node *nodes;
    int n;
    int cap;
} Trie;

static int trie_init(Trie *trie) {
    trie->cap = 1024;
    trie->n = 1;
    trie->nodes = (Node *)malloc(sizeof(Node) * (size_t)trie->cap);
    if (trie->nodes == NULL) return -1;
    trie->nodes[0] = (Node){-1, 0, -1, -1, -1, -1, 0, 0.0, 0}; /* the empty prefix */
    return 0;
}

/* The node of prefix `parent` + `cls` (made if new), or -1 when out of memory. */
static int trie_child(Trie *trie, int parent, int cls) {
    for (int c = trie->nodes[parent].first_child; c >= 0; c = trie->nodes[c].next_sibling) {
        if (trie->nodes[c].cls == cls) return c;
    }
    if (trie->n == trie->cap) {
        Node *grown = (Node *)realloc(trie->nodes, sizeof(Node) * (size_t)trie->cap * 2);
        if (grown == NULL) return -1;
        trie->nodes = grown;
        trie->cap *= 2;
    }
    int id = trie->n++;
    trie->nodes[id] = (Node){parent, cls, -1, trie->nodes[parent].first_child, -1, -1, 0, 0.0, 0};
    trie->nodes[parent].first_child = id;
    return id;
}

/* -- the language model ------------------------------------------------------------------- */

/* A hash index of a sorted int64 array (lm.hash_index): bucket h of key x is
 * (x * HASH_MULTIPLIER mod 2^64) >> (64 - bits), and its keys' positions in the array are
 * positions[starts[h]:starts[h + 1]]. */
#define HASH_MULTIPLIER 0x9E3779B97F4A7C15ull

typedef struct {
    int bits;
    const int32_t *starts;
    const int32_t *positions;
    Py_ssize_t n; /* the array's length */
} Index;

/* The position of `key` in `keys` (indexed by `index`), or -1. Reads nothing outside the arrays,
 * even from an index that is not well made. */
static inline Py_ssize_t index_find(const Index *index, const int64_t *keys, int64_t key) {
    const uint64_t h = ((uint64_t)key * HASH_MULTIPLIER) >> (64 - index->bits);
    const Py_ssize_t end = index->starts[h + 1] < index->n ? index->starts[h + 1] : index->n;
    for (Py_ssize_t p = index->starts[h] > 0 ? index->starts[h] : 0; p < end; p++) {
        const int32_t i = index->positions[p];
        if (i >= 0 && i < index->n && keys[i] == key) return i;
    }
    return -1;
}

typedef struct {
    int order;
    int64_t base;
    int64_t mods[MAX_ORDER + 1]; /* base ** k */
    int64_t space;               /* the LM's symbol of " " */
    double unk;
    const double *unigram;
    Py_ssize_t n_unigram;
    const int64_t *keys[MAX_ORDER];
    Py_ssize_t n_keys[MAX_ORDER];
    const double *logp[MAX_ORDER];
    const int64_t *ctx[MAX_ORDER];
    Py_ssize_t n_ctx[MAX_ORDER];
    const double *bow[MAX_ORDER];
    const int64_t *used[MAX_ORDER];   /* the contexts that have n-grams, of each order */
    const int64_t *starts[MAX_ORDER]; /* context used[k][u]'s n-grams: keys[k][starts[k][u]:starts[k][u + 1]] */
    Py_ssize_t n_used[MAX_ORDER];
    Index used_index[MAX_ORDER];
    Index ctx_index[MAX_ORDER]; /* the contexts that have backoff weights */
} LM;

typedef struct {
    int levels; /* orders 1..levels hold the state's context */
    Py_ssize_t lo[MAX_ORDER], hi[MAX_ORDER];
    double bow[MAX_ORDER];
    int64_t first_key[MAX_ORDER];
} Walk;

static Py_ssize_t clamp(Py_ssize_t x, Py_ssize_t lo, Py_ssize_t hi) { return x < lo ? lo : x > hi ? hi : x; }

static Py_ssize_t lower_bound(const int64_t *a, Py_ssize_t lo, Py_ssize_t hi, int64_t x) {
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The climb of CharNgramLM.distribution for `state`: it stops at the first order whose context
 * holds no n-gram and no backoff weight. */
static void lm_walk(const LM *lm, int64_t state, Walk *walk) {
    walk->levels = 0;
    for (int k = 1; k < lm->order; k++) {
        int64_t context = state % lm->mods[k];
        Py_ssize_t u = index_find(&lm->used_index[k], lm->used[k], context);
        /* the context's n-grams, kept within the keys even for starts that are not well made */
        Py_ssize_t lo = u >= 0 ? clamp(lm->starts[k][u], 0, lm->n_keys[k]) : 0;
        Py_ssize_t hi = u >= 0 ? clamp(lm->starts[k][u + 1], lo, lm->n_keys[k]) : 0;
        Py_ssize_t j = index_find(&lm->ctx_index[k], lm->ctx[k], context);
        double bow = j >= 0 ? lm->bow[k][j] : 0.0;
        if (lo == hi && bow == 0.0) break;
        walk->lo[k] = lo;
        walk->hi[k] = hi;
        walk->bow[k] = bow;
        walk->first_key[k] = context * lm->base;
        walk->levels = k;
    }
}

static double lm_log_prob(const LM *lm, const Walk *walk, int64_t symbol) {
    if (symbol == 0) return lm->unk;
    double value = symbol < lm->n_unigram ? lm->unigram[symbol] : lm->unk;
    for (int k = 1; k <= walk->levels; k++) {
        int64_t key = walk->first_key[k] + symbol;
        Py_ssize_t i = lower_bound(lm->keys[k], walk->lo[k], walk->hi[k], key); /* a context's few n-grams */
        if (i < walk->hi[k] && lm->keys[k][i] == key)
            value = lm->logp[k][i];
        else
            value = value + walk->bow[k];
    }
    return value;
}

/* The walks of one search, one per LM state that a prefix needed the distribution of (a prefix that
 * stays over many frames needs it at each, and prefixes that differ only before their last
 * order - 1 symbols share a state), with an open-addressing table from state to walk. */
typedef struct {
    Walk *walks;
    int n;
    int cap;
    int64_t *states; /* table: the state of walk slots[i] - 1 */
    int *slots;      /* walk index + 1, or 0 for an empty slot */
    unsigned mask;   /* table size - 1 (a power of two, at least twice n) */
} Walks;

static unsigned state_hash(int64_t state) {
    uint64_t x = (uint64_t)state * HASH_MULTIPLIER;
    return (unsigned)(x >> 32);
}

/* Grows the state table to `size` slots (a power of two), re-inserting every walk; -1 when out of memory. */
static int walks_rehash(Walks *walks, unsigned size) {
    int64_t *states = (int64_t *)malloc(sizeof(int64_t) * size);
    int *slots = (int *)calloc(size, sizeof(int));
    if (states == NULL || slots == NULL) {
        free(states);
        free(slots);
        return -1;
    }
    for (unsigned i = 0; walks->slots != NULL && i <= walks->mask; i++) {
        if (!walks->slots[i]) continue;
        unsigned slot = state_hash(walks->states[i]) & (size - 1);
        while (slots[slot]) slot = (slot + 1) & (size - 1);
        slots[slot] = walks->slots[i];
        states[slot] = walks->states[i];
    }
    free(walks->states);
    free(walks->slots);
    walks->states = states;
    walks->slots = slots;
    walks->mask = size - 1;
    return 0;
}

/* The walk of `node` (whose LM state is `state`): its own, else that of another prefix with the
 * same state, else made now; NULL when out of memory. */
static const Walk *node_walk(const LM *lm, Trie *trie, Walks *walks, int node, int64_t state) {
    int index = trie->nodes[node].walk;
    if (index >= 0) return &walks->walks[index];
    if (walks->slots == NULL || 2u * (unsigned)(walks->n + 1) > walks->mask + 1) {
        if (walks_rehash(walks, walks->slots == NULL ? 256u : 2u * (walks->mask + 1)) < 0) return NULL;
    }
    unsigned slot = state_hash(state) & walks->mask;
    while (walks->slots[slot]) {
        if (walks->states[slot] == state) {
            index = walks->slots[slot] - 1;
            trie->nodes[node].walk = index;
            return &walks->walks[index];
        }
        slot = (slot + 1) & walks->mask;
    }
    if (walks->n == walks->cap) {
        int cap = walks->cap ? walks->cap * 2 : 64;
        Walk *grown = (Walk *)realloc(walks->walks, sizeof(Walk) * (size_t)cap);
        if (grown == NULL) return NULL;
        walks->walks = grown;
        walks->cap = cap;
    }
    index = walks->n++;
    lm_walk(lm, state, &walks->walks[index]);
    walks->slots[slot] = index + 1;
    walks->states[slot] = state;
    trie->nodes[node].walk = index;
    return &walks->walks[index];
}

static int64_t lm_next_state(const LM *lm, int64_t state, int64_t symbol) {
    return (state * lm->base + (symbol ? symbol : lm->space)) % lm->mods[lm->order - 1];
}

/* -- buffers ------------------------------------------------------------------------------ */

#define MAX_BUFFERS (8 * MAX_ORDER + 8)

typedef struct {
    Py_buffer views[MAX_BUFFERS];
    int n;
} Buffers;

static void buffers_release(Buffers *buffers) {
    for (int i = 0; i < buffers->n; i++) PyBuffer_Release(&buffers->views[i]);
    buffers->n = 0;
}

/* A C-contiguous view of `obj` with items of `itemsize` bytes whose format is one of `formats`. */
static const void *buffer_of(Buffers *buffers, PyObject *obj, Py_ssize_t itemsize, const char *formats,
                             Py_ssize_t *count, const char *what) {
    if (buffers->n == MAX_BUFFERS) {
        PyErr_SetString(PyExc_ValueError, "too many arrays");
        return NULL;
    }
    Py_buffer *view = &buffers->views[buffers->n];
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    buffers->n++;
    const char *format = view->format ? view->format : "B";
    if (format[0] == '<' || format[0] == '=' || format[0] == '@') format++;
    if (view->itemsize != itemsize || strlen(format) != 1 || strchr(formats, format[0]) == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of format %s and %zd bytes, got %s", what, formats,
                     itemsize, view->format ? view->format : "B");
        return NULL;
    }
    *count = view->len / itemsize;
    return view->buf;
}

#define F64 "d"
#define I64 "lq"
#define I32 "i"
#define BYTES "BbcS"

/* The (T, C) float64 log-probabilities `obj`, with T and C in *frames and *classes. */
static const double *log_probs_of(Buffers *buffers, PyObject *obj, Py_ssize_t *frames, Py_ssize_t *classes) {
    Py_ssize_t count;
    const double *log_probs = (const double *)buffer_of(buffers, obj, 8, F64, &count, "log_probs");
    if (log_probs == NULL) return NULL;
    const Py_buffer *view = &buffers->views[buffers->n - 1];
    if (view->ndim != 2 || view->shape[1] < 1) {
        PyErr_SetString(PyExc_ValueError, "log_probs must be (T, C), C >= 1");
        return NULL;
    }
    *frames = view->shape[0];
    *classes = view->shape[1];
    return log_probs;
}

/* Reads `obj`, the hash index (lm.hash_index) of an array of `n` keys: int32
 * [bits, starts (2 ** bits + 1), positions (n)], starts rising from 0 to n. */
static int index_from(Buffers *buffers, PyObject *obj, Py_ssize_t n, Index *index, const char *what) {
    Py_ssize_t count;
    const int32_t *data = (const int32_t *)buffer_of(buffers, obj, 4, I32, &count, what);
    if (data == NULL) return -1;
    int bits = count > 0 ? data[0] : 0;
    if (bits < 1 || bits > 30 || count != 1 + ((Py_ssize_t)1 << bits) + 1 + n || data[1] != 0 ||
        data[1 + ((Py_ssize_t)1 << bits)] != n) {
        PyErr_Format(PyExc_ValueError, "%s: not a hash index of %zd keys", what, n);
        return -1;
    }
    index->bits = bits;
    index->starts = data + 1;
    index->positions = data + 1 + ((Py_ssize_t)1 << bits) + 1;
    index->n = n;
    return 0;
}

/* Reads the LM tuple (order, base, space, unk, unigram, keys, logp, ctx, bow, used, starts,
 * used_index, ctx_index: CharNgramLM.tables); lists per order. */
static int lm_from_tuple(LM *lm, PyObject *spec, Buffers *buffers) {
    PyObject *unigram, *keys, *logp, *ctx, *bow, *used, *starts, *used_index, *ctx_index;
    long long base, space;
    if (!PyArg_ParseTuple(spec, "iLLdOOOOOOOOO", &lm->order, &base, &space, &lm->unk, &unigram, &keys, &logp, &ctx,
                          &bow, &used, &starts, &used_index, &ctx_index))
        return -1;
    if (lm->order < 1 || lm->order > MAX_ORDER) {
        PyErr_Format(PyExc_ValueError, "LM order %d is not in 1..%d", lm->order, MAX_ORDER);
        return -1;
    }
    if (base < 2 || space < 1 || space >= base) {
        PyErr_SetString(PyExc_ValueError, "LM base must be at least 2 and its space symbol in 1..base-1");
        return -1;
    }
    lm->base = base;
    lm->space = space;
    lm->mods[0] = 1;
    for (int k = 1; k <= lm->order; k++) lm->mods[k] = lm->mods[k - 1] * lm->base;
    lm->unigram = (const double *)buffer_of(buffers, unigram, 8, F64, &lm->n_unigram, "unigram");
    if (lm->unigram == NULL) return -1;
    PyObject *lists[8] = {keys, logp, ctx, bow, used, starts, used_index, ctx_index};
    for (int i = 0; i < 8; i++) {
        if (!PyList_Check(lists[i]) || PyList_GET_SIZE(lists[i]) != lm->order) {
            PyErr_SetString(PyExc_TypeError, "LM tables must be lists of one array per order");
            return -1;
        }
    }
    for (int k = 0; k < lm->order; k++) {
        Py_ssize_t n_logp, n_bow;
        lm->keys[k] = (const int64_t *)buffer_of(buffers, PyList_GET_ITEM(keys, k), 8, I64, &lm->n_keys[k], "keys");
        if (lm->keys[k] == NULL) return -1;
        lm->logp[k] = (const double *)buffer_of(buffers, PyList_GET_ITEM(logp, k), 8, F64, &n_logp, "logp");
        if (lm->logp[k] == NULL) return -1;
        lm->ctx[k] = (const int64_t *)buffer_of(buffers, PyList_GET_ITEM(ctx, k), 8, I64, &lm->n_ctx[k], "ctx");
        if (lm->ctx[k] == NULL) return -1;
        lm->bow[k] = (const double *)buffer_of(buffers, PyList_GET_ITEM(bow, k), 8, F64, &n_bow, "bow");
        if (lm->bow[k] == NULL) return -1;
        if (n_logp != lm->n_keys[k] || n_bow != lm->n_ctx[k]) {
            PyErr_SetString(PyExc_ValueError, "LM tables of one order must have equal lengths");
            return -1;
        }
        Py_ssize_t n_starts;
        lm->used[k] = (const int64_t *)buffer_of(buffers, PyList_GET_ITEM(used, k), 8, I64, &lm->n_used[k], "used");
        if (lm->used[k] == NULL) return -1;
        lm->starts[k] = (const int64_t *)buffer_of(buffers, PyList_GET_ITEM(starts, k), 8, I64, &n_starts, "starts");
        if (lm->starts[k] == NULL) return -1;
        if (n_starts != lm->n_used[k] + 1 || lm->starts[k][0] != 0 || lm->starts[k][lm->n_used[k]] != lm->n_keys[k]) {
            PyErr_SetString(PyExc_ValueError, "LM starts must run from 0 to the number of n-grams, one per context and one");
            return -1;
        }
        if (index_from(buffers, PyList_GET_ITEM(used_index, k), lm->n_used[k], &lm->used_index[k], "used_index") < 0 ||
            index_from(buffers, PyList_GET_ITEM(ctx_index, k), lm->n_ctx[k], &lm->ctx_index[k], "ctx_index") < 0)
            return -1;
    }
    return 0;
}

/* -- the search --------------------------------------------------------------------------- */

typedef struct {
    int node;
    double p_b, p_nb, lm;
    int64_t state;
} Beam;

/* log(exp(a) + exp(b)), as beam._lse */
static inline double lse(double a, double b) {
    if (a < b) {
        double swap = a;
        a = b;
        b = swap;
    }
    if (b == -INFINITY) return a;
    return a + log1p(exp(b - a));
}

/* Beams of one frame, found by node through a small open-addressing table. */
typedef struct {
    Beam *beams;
    int n;
    int *slots; /* index + 1, or 0 */
    unsigned *stamps;
    unsigned stamp;
    unsigned mask;
} Frame;

static int frame_find(Frame *frame, int node, unsigned *slot_out) {
    unsigned slot = ((unsigned)node * 2654435761u) & frame->mask;
    while (frame->stamps[slot] == frame->stamp && frame->slots[slot]) {
        int i = frame->slots[slot] - 1;
        if (frame->beams[i].node == node) return i;
        slot = (slot + 1) & frame->mask;
    }
    *slot_out = slot;
    return -1;
}

static void frame_add(Frame *frame, unsigned slot, Beam beam) {
    frame->beams[frame->n] = beam;
    frame->stamps[slot] = frame->stamp;
    frame->slots[slot] = ++frame->n;
}

/* The lexicon as arrays (handocr.recognition.lexicon.Lexicon.native_tables): its words as sorted
 * records of `width` bytes (UTF-8, zero-padded), and for each class its lowercase form (UTF-8,
 * lowered[offsets[c]:offsets[c + 1]]) and flags: EDGE for the punctuation stripped from the ends of
 * a word, ALPHA for a letter (once lowercased). */
typedef struct {
    const char *words;
    Py_ssize_t n_words, width;
    const char *lowered;
    Py_ssize_t n_lowered;
    const int64_t *offsets;
    const unsigned char *flags;
    Py_ssize_t classes;
    char *key; /* `width` bytes to build a word's key in */
} Lexicon;

#define EDGE 1
#define ALPHA 2

/* Lexicon.knows for a word given as classes (no space among them), without Python: strip the
 * punctuation at its ends; a word that is then empty or not all letters is not judged (1); else
 * its lowercase UTF-8 form is looked up among the words (1 or 0). */
static int lexicon_knows(const Lexicon *lex, const int *classes, int length) {
    int lo = 0, hi = length;
    while (lo < hi && (lex->flags[classes[lo]] & EDGE)) lo++;
    while (hi > lo && (lex->flags[classes[hi - 1]] & EDGE)) hi--;
    if (lo == hi) return 1;
    Py_ssize_t size = 0;
    for (int i = lo; i < hi; i++) {
        if (!(lex->flags[classes[i]] & ALPHA)) return 1;
        size += lex->offsets[classes[i] + 1] - lex->offsets[classes[i]];
    }
    if (size > lex->width) return 0;
    memset(lex->key, 0, (size_t)lex->width);
    Py_ssize_t at = 0;
    for (int i = lo; i < hi; i++) {
        const int64_t start = lex->offsets[classes[i]], end = lex->offsets[classes[i] + 1];
        memcpy(lex->key + at, lex->lowered + start, (size_t)(end - start));
        at += end - start;
    }
    Py_ssize_t first = 0, last = lex->n_words;
    while (first < last) {
        Py_ssize_t mid = first + (last - first) / 2;
        int order = memcmp(lex->words + mid * lex->width, lex->key, (size_t)lex->width);
        if (order == 0) return 1;
        if (order < 0)
            first = mid + 1;
        else
            last = mid;
    }
    return 0;
}

/* Reads the lexicon tuple (words, width, lowered, offsets, flags) for `classes` classes. */
static int lexicon_from_tuple(Lexicon *lex, PyObject *spec, Buffers *buffers, Py_ssize_t classes) {
    PyObject *words, *lowered, *offsets, *flags;
    Py_ssize_t n_offsets, n_flags, n_bytes;
    if (!PyArg_ParseTuple(spec, "OnOOO", &words, &lex->width, &lowered, &offsets, &flags)) return -1;
    lex->words = (const char *)buffer_of(buffers, words, 1, BYTES, &n_bytes, "words");
    if (lex->words == NULL) return -1;
    lex->lowered = (const char *)buffer_of(buffers, lowered, 1, BYTES, &lex->n_lowered, "lowered");
    if (lex->lowered == NULL) return -1;
    lex->offsets = (const int64_t *)buffer_of(buffers, offsets, 8, I64, &n_offsets, "offsets");
    if (lex->offsets == NULL) return -1;
    lex->flags = (const unsigned char *)buffer_of(buffers, flags, 1, BYTES, &n_flags, "flags");
    if (lex->flags == NULL) return -1;
    if (lex->width < 1 || n_bytes % lex->width != 0 || n_offsets != classes + 1 || n_flags != classes) {
        PyErr_SetString(PyExc_ValueError, "the lexicon tables do not fit the word width or the classes");
        return -1;
    }
    for (Py_ssize_t c = 0; c < classes; c++) {
        if (lex->offsets[c] < 0 || lex->offsets[c] > lex->offsets[c + 1] || lex->offsets[c + 1] > lex->n_lowered) {
            PyErr_SetString(PyExc_ValueError, "the lexicon's class offsets are out of order");
            return -1;
        }
    }
    lex->n_words = n_bytes / lex->width;
    lex->classes = classes;
    return 0;
}

/* Whether the lexicon knows the last word of `node` (the characters after its last space): with
 * `lex`, looked up in C; else by calling `knows` with it as a str (class c is characters[c - 1]).
 * Once per node. Returns 1, 0, or -1: out of memory (nothing set) or, with `knows`, a Python error
 * set. */
static int word_known(Trie *trie, int node, int space_class, const Py_UCS4 *characters, PyObject *knows,
                      const Lexicon *lex) {
    if (trie->nodes[node].known >= 0) return trie->nodes[node].known;
    if (lex != NULL) {
        int stack[256], length = 0;
        for (int n = node; n > 0 && trie->nodes[n].cls != space_class; n = trie->nodes[n].parent) length++;
        int *classes = length <= 256 ? stack : (int *)malloc(sizeof(int) * (size_t)length);
        if (classes == NULL) return -1;
        int i = length;
        for (int n = node; i > 0; n = trie->nodes[n].parent) classes[--i] = trie->nodes[n].cls;
        int known = lexicon_knows(lex, classes, length);
        if (classes != stack) free(classes);
        trie->nodes[node].known = known;
        return known;
    }
    Py_UCS4 word[256];
    int length = 0;
    for (int n = node; n > 0 && trie->nodes[n].cls != space_class; n = trie->nodes[n].parent) length++;
    Py_UCS4 *text = length <= 256 ? word : (Py_UCS4 *)malloc(sizeof(Py_UCS4) * (size_t)length);
    if (text == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int i = length;
    for (int n = node; i > 0; n = trie->nodes[n].parent) text[--i] = characters[trie->nodes[n].cls - 1];
    PyObject *str = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, text, length);
    if (text != word) free(text);
    if (str == NULL) return -1;
    PyObject *answer = PyObject_CallOneArg(knows, str);
    Py_DECREF(str);
    if (answer == NULL) return -1;
    int known = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    if (known >= 0) trie->nodes[node].known = known;
    return known;
}

static double beam_score(const Beam *beam) { return lse(beam->p_b, beam->p_nb) + beam->lm; }

/* The best `width` beams of `next` within `threshold` of the best, best first (in the order of a
 * stable sort, as Python's: equal scores in the order of `next`), into `out`; returns how many, and
 * the best score in *best. Only the best `width` are kept in order while scoring: a beam that does
 * not beat the worst of them could only rank after them in the full sort. */
static int prune(const Beam *next, int n, double *scores, int *order, int width, double threshold, Beam *out,
                 double *best) {
    int ranked = 0;
    for (int i = 0; i < n; i++) {
        const double score = beam_score(&next[i]);
        scores[i] = score;
        if (ranked == width && !(scores[order[ranked - 1]] < score)) continue;
        int j = ranked < width ? ranked++ : ranked - 1;
        while (j > 0 && scores[order[j - 1]] < score) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    *best = scores[order[0]];
    int kept = 0;
    for (int r = 0; r < ranked; r++) {
        if (scores[order[r]] >= *best - threshold) out[kept++] = next[order[r]];
    }
    return kept;
}

/* Per frame, the classes (not blank) whose log-probability is at least `log_threshold`, at most
 * `limit`, best first and equal ones by class (beam._candidate_arrays); frame t's are
 * candidates[offsets[t]:offsets[t + 1]]. Returns the most any frame has, or -1 when out of memory. */
static int frame_candidates(const double *log_probs, Py_ssize_t frames, Py_ssize_t classes, double log_threshold,
                            int limit, int64_t **offsets_out, int **candidates_out) {
    int64_t *offsets = (int64_t *)malloc(sizeof(int64_t) * (size_t)(frames + 1));
    int *candidates = (int *)malloc(sizeof(int) * (size_t)(frames > 0 ? frames : 1) * (size_t)(limit > 0 ? limit : 1));
    int *found = (int *)malloc(sizeof(int) * (size_t)(classes > 0 ? classes : 1));
    if (!offsets || !candidates || !found) {
        free(offsets);
        free(candidates);
        free(found);
        return -1;
    }
    int most = 0;
    offsets[0] = 0;
    for (Py_ssize_t t = 0; t < frames; t++) {
        const double *row = log_probs + t * classes;
        int n = 0;
        for (Py_ssize_t c = 1; c < classes; c++) { /* insertion sort: higher first, then lower class */
            if (!(row[c] >= log_threshold)) continue;
            int j = n++;
            while (j > 0 && row[found[j - 1]] < row[c]) {
                found[j] = found[j - 1];
                j--;
            }
            found[j] = (int)c;
        }
        if (n > limit) n = limit;
        memcpy(candidates + offsets[t], found, sizeof(int) * (size_t)n);
        offsets[t + 1] = offsets[t] + n;
        if (n > most) most = n;
    }
    free(found);
    *offsets_out = offsets;
    *candidates_out = candidates;
    return most;
}

/* cumulative[(t + 1) * classes + c] = the sum of log_probs[0..t, c], added in order (np.cumsum). */
static double *cumulative_sums(const double *log_probs, Py_ssize_t frames, Py_ssize_t classes) {
    double *cumulative = (double *)malloc(sizeof(double) * (size_t)(frames + 1) * (size_t)(classes > 0 ? classes : 1));
    if (cumulative == NULL) return NULL;
    for (Py_ssize_t c = 0; c < classes; c++) cumulative[c] = 0.0;
    for (Py_ssize_t t = 0; t < frames; t++) {
        const double *row = log_probs + t * classes, *before = cumulative + t * classes;
        double *after = cumulative + (t + 1) * classes;
        for (Py_ssize_t c = 0; c < classes; c++) after[c] = t ? before[c] + row[c] : row[c];
    }
    return cumulative;
}

static PyObject *search_impl(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *names[] = {"log_probs", "log_threshold", "max_candidates", "beam_width",  "beam_threshold",
                            "lm",        "lm_symbols",    "lm_weight",      "insertion_bonus", "knows",
                            "space_class", "oov_penalty", "characters", NULL};
    PyObject *log_probs_obj, *lm_spec, *lm_symbols_obj, *knows, *characters_obj;
    int width, space_class, max_candidates;
    double log_threshold, beam_threshold, lm_weight, insertion_bonus, oov_penalty;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OdiidOOddOidU", names, &log_probs_obj, &log_threshold,
                                     &max_candidates, &width, &beam_threshold, &lm_spec, &lm_symbols_obj, &lm_weight,
                                     &insertion_bonus, &knows, &space_class, &oov_penalty, &characters_obj))
        return NULL;
    if (width < 1 || max_candidates < 0) {
        PyErr_SetString(PyExc_ValueError, "beam_width must be at least 1 and max_candidates not negative");
        return NULL;
    }
    Buffers buffers = {.n = 0};
    Trie trie = {NULL, 0, 0};
    Walks walks = {NULL, 0, 0, NULL, NULL, 0};
    Beam *beams = NULL, *next_beams = NULL;
    int *slots = NULL, *order = NULL, *candidates = NULL;
    int64_t *offsets = NULL;
    unsigned *stamps = NULL;
    double *scores = NULL, *cumulative = NULL;
    Py_UCS4 *characters = NULL;
    PyObject *result = NULL;
    LM lm;
    Lexicon lexicon = {.key = NULL};
    const Lexicon *tables = NULL; /* the lexicon as arrays, or NULL for none or a callback */
    int use_lm = lm_spec != Py_None;
    int judge = knows != Py_None;
    PyThreadState *thread = NULL; /* while the GIL is released */
    int best = 0, length = 0;     /* the best beam, and the length of its labels */
    enum { OK, NO_MEMORY, PYTHON_ERROR } failure = OK;
    const int64_t *lm_symbols = NULL;
    Py_ssize_t n_lm_symbols = 0, frames, classes;

    const double *log_probs = log_probs_of(&buffers, log_probs_obj, &frames, &classes);
    if (log_probs == NULL) goto done;
    if (judge) {
        if (PyUnicode_GET_LENGTH(characters_obj) != classes - 1 || space_class < 1 || space_class >= classes) {
            PyErr_SetString(PyExc_ValueError, "characters must name every class but the blank, space among them");
            goto done;
        }
        if ((characters = PyUnicode_AsUCS4Copy(characters_obj)) == NULL) goto done;
        if (PyTuple_Check(knows)) {
            if (lexicon_from_tuple(&lexicon, knows, &buffers, classes) < 0) goto done;
            if ((lexicon.key = (char *)malloc((size_t)lexicon.width)) == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            tables = &lexicon;
        } else if (!PyCallable_Check(knows)) {
            PyErr_SetString(PyExc_TypeError, "knows must be None, a callable or the lexicon's tables");
            goto done;
        }
    }
    int most_candidates =
        frame_candidates(log_probs, frames, classes, log_threshold, max_candidates, &offsets, &candidates);
    cumulative = cumulative_sums(log_probs, frames, classes);
    if (most_candidates < 0 || cumulative == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (use_lm) {
        if (lm_from_tuple(&lm, lm_spec, &buffers) < 0) goto done;
        lm_symbols = (const int64_t *)buffer_of(&buffers, lm_symbols_obj, 8, I64, &n_lm_symbols, "lm_symbols");
        if (lm_symbols == NULL) goto done;
        if (n_lm_symbols != classes) {
            PyErr_SetString(PyExc_ValueError, "lm_symbols must give one symbol per class");
            goto done;
        }
        for (Py_ssize_t i = 0; i < n_lm_symbols; i++) {
            if (lm_symbols[i] < 0 || lm_symbols[i] >= lm.base) {
                PyErr_SetString(PyExc_ValueError, "an LM symbol is out of range");
                goto done;
            }
        }
    }

    const int capacity = width * (1 + most_candidates);
    unsigned table = 16;
    while (table < 2u * (unsigned)capacity) table *= 2;
    beams = (Beam *)malloc(sizeof(Beam) * (size_t)width);
    next_beams = (Beam *)malloc(sizeof(Beam) * (size_t)capacity);
    slots = (int *)calloc(table, sizeof(int));
    stamps = (unsigned *)calloc(table, sizeof(unsigned));
    order = (int *)malloc(sizeof(int) * (size_t)capacity);
    scores = (double *)malloc(sizeof(double) * (size_t)capacity);
    if (!beams || !next_beams || !slots || !stamps || !order || !scores || trie_init(&trie) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    Frame next = {next_beams, 0, slots, stamps, 0, table - 1};
    if (!judge || tables != NULL) thread = PyEval_SaveThread(); /* no Python until `finish` */
    int64_t start_state = 0;
    if (use_lm) {
        for (int m = 0; m < lm.order - 1; m++) start_state += lm.space * lm.mods[m];
    }
    beams[0] = (Beam){0, 0.0, -INFINITY, 0.0, start_state};
    int n_beams = 1;
    double best_score = 0.0;
    const double bonus_floor = insertion_bonus > 0.0 ? insertion_bonus : 0.0;

    Py_ssize_t t = 0;
    while (t < frames) {
        if (offsets[t + 1] == offsets[t]) { /* a run of frames with nothing to start: stay, in one step */
            Py_ssize_t end = t + 1;
            while (end < frames && offsets[end + 1] == offsets[end]) end++;
            const double *from = cumulative + t * classes, *to = cumulative + end * classes;
            double blank = to[0] - from[0];
            for (int i = 0; i < n_beams; i++) {
                Beam *beam = &beams[i];
                int node = beam->node;
                double last = node ? to[trie.nodes[node].cls] - from[trie.nodes[node].cls] : -INFINITY;
                double total = lse(beam->p_b, beam->p_nb);
                beam->p_b = total + blank;
                beam->p_nb = beam->p_nb + last;
            }
            best_score += blank;
            t = end;
            continue;
        }
        const double *row = log_probs + t * classes;
        double row_max = row[0];
        for (Py_ssize_t c = 1; c < classes; c++)
            if (row[c] > row_max) row_max = row[c];
        const double floor_score = best_score + row_max - beam_threshold - bonus_floor;
        const double blank = row[0];
        next.n = 0;
        if (++next.stamp == 0) { /* the stamps wrapped: clear them */
            memset(stamps, 0, sizeof(unsigned) * table);
            next.stamp = 1;
        }
        for (int i = 0; i < n_beams; i++) {
            const Beam beam = beams[i];
            const double total = lse(beam.p_b, beam.p_nb);
            const int last = beam.node ? trie.nodes[beam.node].cls : 0;
            const double stay_nb = beam.node ? beam.p_nb + row[last] : -INFINITY;
            unsigned slot = 0;
            int found = frame_find(&next, beam.node, &slot);
            if (found < 0) {
                frame_add(&next, slot, (Beam){beam.node, total + blank, stay_nb, beam.lm, beam.state});
            } else {
                next.beams[found].p_b = total + blank;
                next.beams[found].p_nb = lse(next.beams[found].p_nb, stay_nb);
            }
            const Walk *walk = NULL;
            for (int64_t k = offsets[t]; k < offsets[t + 1]; k++) { /* best first */
                const int c = candidates[k];
                const double p = row[c];
                if (total + beam.lm + p < floor_score) break;
                /* a repeated character needs a blank between: only paths ending in blank extend */
                const double extend = (c == last ? beam.p_b : total) + p;
                if (extend == -INFINITY) continue;
                const int child = trie_child(&trie, beam.node, c);
                if (child < 0) {
                    failure = NO_MEMORY;
                    goto finish;
                }
                found = frame_find(&next, child, &slot);
                if (found >= 0) {
                    next.beams[found].p_nb = lse(next.beams[found].p_nb, extend);
                    continue;
                }
                double lm_score = beam.lm + insertion_bonus;
                int64_t state = beam.state;
                if (use_lm) { /* the prefix fixes the term: scored once, when first reached */
                    if (!trie.nodes[child].scored) {
                        if (walk == NULL && (walk = node_walk(&lm, &trie, &walks, beam.node, beam.state)) == NULL) {
                            failure = NO_MEMORY;
                            goto finish;
                        }
                        trie.nodes[child].lm_term = lm_weight * lm_log_prob(&lm, walk, lm_symbols[c]);
                        trie.nodes[child].lm_state = lm_next_state(&lm, beam.state, lm_symbols[c]);
                        trie.nodes[child].scored = 1;
                    }
                    lm_score += trie.nodes[child].lm_term;
                    state = trie.nodes[child].lm_state;
                }
                if (judge && c == space_class) {
                    int known = word_known(&trie, beam.node, space_class, characters, knows, tables);
                    if (known < 0) {
                        failure = tables != NULL ? NO_MEMORY : PYTHON_ERROR;
                        goto finish;
                    }
                    if (!known) lm_score += oov_penalty;
                }
                frame_add(&next, slot, (Beam){child, -INFINITY, extend, lm_score, state});
            }
        }
        n_beams = prune(next.beams, next.n, scores, order, width, beam_threshold, beams, &best_score);
        t++;
    }
    if (use_lm) { /* the line ends: score the closing boundary */
        for (int i = 0; i < n_beams; i++) {
            const Walk *walk = node_walk(&lm, &trie, &walks, beams[i].node, beams[i].state);
            if (walk == NULL) {
                failure = NO_MEMORY;
                goto finish;
            }
            beams[i].lm += lm_weight * lm_log_prob(&lm, walk, lm.space);
        }
    }
    if (judge) { /* and its last word */
        for (int i = 0; i < n_beams; i++) {
            int known = word_known(&trie, beams[i].node, space_class, characters, knows, tables);
            if (known < 0) {
                failure = tables != NULL ? NO_MEMORY : PYTHON_ERROR;
                goto finish;
            }
            if (!known) beams[i].lm += oov_penalty;
        }
    }
    double best_total = beam_score(&beams[0]);
    for (int i = 1; i < n_beams; i++) {
        double score = beam_score(&beams[i]);
        if (score > best_total) {
            best = i;
            best_total = score;
        }
    }
    for (int n = beams[best].node; n > 0; n = trie.nodes[n].parent) length++;
finish:
    if (thread != NULL) PyEval_RestoreThread(thread);
    if (failure == NO_MEMORY) PyErr_NoMemory();
    if (failure != OK) goto done;
    result = PyList_New(length);
    if (result == NULL) goto done;
    for (int n = beams[best].node, i = length; n > 0; n = trie.nodes[n].parent) {
        PyObject *cls = PyLong_FromLong(trie.nodes[n].cls);
        if (cls == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, --i, cls);
    }

done:
    buffers_release(&buffers);
    free(trie.nodes);
    free(walks.walks);
    free(walks.states);
    free(walks.slots);
    free(beams);
    free(next_beams);
    free(slots);
    free(stamps);
    free(order);
    free(scores);
    free(offsets);
    free(candidates);
    free(cumulative);
    free(lexicon.key);
    PyMem_Free(characters);
    return result;
}


/* -- forced alignment -------------------------------------------------------------------- */

static PyObject *align_impl(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *log_probs_obj, *labels_obj;
    if (!PyArg_ParseTuple(args, "OO", &log_probs_obj, &labels_obj)) return NULL;
    Buffers buffers = {.n = 0};
    PyObject *result = NULL;
    double *delta = NULL, *fresh = NULL;
    signed char *back = NULL;
    Py_ssize_t *first = NULL, *last = NULL; /* each label's first and last frame */
    int64_t *ext = NULL;
    char *skip = NULL;
    Py_ssize_t n_labels, frames, classes;
    const double *log_probs = log_probs_of(&buffers, log_probs_obj, &frames, &classes);
    if (log_probs == NULL) goto done;
    const int64_t *labels = (const int64_t *)buffer_of(&buffers, labels_obj, 8, I64, &n_labels, "labels");
    if (labels == NULL) goto done;
    if (n_labels == 0) {
        result = PyList_New(0);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_labels; i++) {
        if (labels[i] < 1 || labels[i] >= classes) {
            PyErr_SetString(PyExc_ValueError, "a label is not a character class");
            goto done;
        }
    }
    const Py_ssize_t n = 2 * n_labels + 1;
    delta = (double *)malloc(sizeof(double) * (size_t)n);
    fresh = (double *)malloc(sizeof(double) * (size_t)n);
    ext = (int64_t *)calloc((size_t)n, sizeof(int64_t));
    skip = (char *)calloc((size_t)n, 1);
    back = (signed char *)calloc((size_t)(frames > 0 ? frames : 1) * (size_t)n, 1);
    if (!delta || !fresh || !ext || !skip || !back) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_labels; i++) ext[2 * i + 1] = labels[i];
    for (Py_ssize_t s = 3; s < n; s += 2) skip[s] = ext[s] != ext[s - 2];
    for (Py_ssize_t s = 0; s < n; s++) delta[s] = -INFINITY;
    if (frames > 0) {
        delta[0] = log_probs[ext[0]];
        delta[1] = log_probs[ext[1]];
    }
    for (Py_ssize_t t = 1; t < frames; t++) {
        const double *row = log_probs + t * classes;
        signed char *arg = back + t * n;
        for (Py_ssize_t s = 0; s < n; s++) {
            const double stay = delta[s];
            const double step = s >= 1 ? delta[s - 1] : -INFINITY;
            const double jump = (s >= 2 && skip[s]) ? delta[s - 2] : -INFINITY;
            double best = step > stay ? step : stay;
            signed char choice = step > stay ? 1 : 0;
            if (jump > best) {
                best = jump;
                choice = 2;
            }
            arg[s] = choice;
            fresh[s] = best + row[ext[s]];
        }
        double *swap = delta;
        delta = fresh;
        fresh = swap;
    }
    Py_ssize_t state = (n == 1 || delta[n - 1] >= delta[n - 2]) ? n - 1 : n - 2;
    if (frames == 0 || delta[state] == -INFINITY) {
        PyErr_Format(PyExc_ValueError, "%zd labels cannot be aligned to %zd frames", n_labels, frames);
        goto done;
    }
    result = PyList_New(n_labels);
    if (result == NULL) goto done;
    first = (Py_ssize_t *)malloc(sizeof(Py_ssize_t) * (size_t)n_labels);
    last = (Py_ssize_t *)malloc(sizeof(Py_ssize_t) * (size_t)n_labels);
    if (!first || !last) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_labels; i++) first[i] = last[i] = -1;
    for (Py_ssize_t t = frames - 1; t >= 0; t--) {
        if (state % 2 == 1) {
            Py_ssize_t i = state / 2;
            if (last[i] < 0) last[i] = t;
            first[i] = t;
        }
        state -= back[t * n + state];
    }
    for (Py_ssize_t i = 0; i < n_labels; i++) {
        PyObject *span = Py_BuildValue("(nn)", first[i], last[i]);
        if (span == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, span);
    }

done:
    buffers_release(&buffers);
    free(delta);
    free(fresh);
    free(back);
    free(ext);
    free(skip);
    free(first);
    free(last);
    return result;
}

static PyMethodDef methods[] = {
    {"search", (PyCFunction)(void (*)(void))search_impl, METH_VARARGS | METH_KEYWORDS,
     "search(log_probs, log_threshold, max_candidates, beam_width, beam_threshold, lm, lm_symbols, lm_weight, "
     "insertion_bonus, knows, space_class, oov_penalty, characters) -> labels\n\n"
     "CTC prefix beam search; see handocr.recognition.beam.prefix_beam_search, which prepares the arguments. "
     "knows: None, the lexicon's tables (the search then runs without the GIL) or a callable."},
    {"align", align_impl, METH_VARARGS,
     "align(log_probs, labels) -> [(first, last), ...]\n\n"
     "Viterbi forced alignment; see handocr.recognition.beam.forced_alignment."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_ctcbeam", "CTC prefix beam search in C (see handocr.recognition.beam).", -1, methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__ctcbeam(void) {
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    if (PyModule_AddIntConstant(module, "ABI_VERSION", ABI_VERSION) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
