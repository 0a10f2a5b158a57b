/* json.c: the JSON reader and writer declared in json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting is refused rather than risking the (small) wasm stack. */
#define MAX_DEPTH 128

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static const char *skip_value(const char *p, const char *end, int depth);

static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

/* Skips `[ v, v ]` or `{ "k": v, ... }`. */
static const char *skip_container(const char *p, const char *end, int depth) {
  char close = *p == '[' ? ']' : '}';
  bool object = *p == '{';
  p = skip_ws(p + 1, end);
  if (p < end && *p == close) return p + 1;
  while (p && p < end) {
    if (object) {
      if (*p != '"' || !(p = skip_string(p, end))) return NULL;
      p = skip_ws(p, end);
      if (p >= end || *p != ':') return NULL;
      p = skip_ws(p + 1, end);
    }
    if (!(p = skip_value(p, end, depth + 1))) return NULL;
    p = skip_ws(p, end);
    if (p < end && *p == close) return p + 1;
    if (p >= end || *p != ',') return NULL;
    p = skip_ws(p + 1, end);
  }
  return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth) {
  if (p >= end || depth > MAX_DEPTH) return NULL;
  switch (*p) {
    case '"': return skip_string(p, end);
    case '[':
    case '{': return skip_container(p, end, depth);
    default: {
      const char *start = p;
      while (p < end && strchr("+-.0123456789eEtruefalsn", *p)) p++;
      return p > start ? p : NULL;
    }
  }
}

json_value json_parse(const char *text, size_t len) {
  const char *end = text + len;
  const char *start = skip_ws(text, end);
  const char *after = skip_value(start, end, 0);
  json_value none = {0};
  if (!after || skip_ws(after, end) != end) return none;
  return (json_value){start, after};
}

json_kind json_kind_of(json_value v) {
  if (!v.ptr || v.ptr >= v.end) return JSON_NONE;
  switch (*v.ptr) {
    case 'n': return JSON_NULL;
    case 't':
    case 'f': return JSON_BOOL;
    case '"': return JSON_STRING;
    case '[': return JSON_ARRAY;
    case '{': return JSON_OBJECT;
    default: return JSON_NUMBER;
  }
}

const char *json_kind_name(json_kind kind) {
  static const char *names[] = {"nothing", "null", "a boolean", "a number", "a string", "an array", "an object"};
  return names[kind];
}

json_value json_get(json_value object, const char *key) {
  json_value none = {0};
  if (json_kind_of(object) != JSON_OBJECT) return none;
  const char *p = skip_ws(object.ptr + 1, object.end);
  buf name = {0};
  while (p < object.end && *p == '"') {
    const char *key_end = skip_string(p, object.end);
    if (!key_end) break;
    name.len = 0;
    json_string((json_value){p, key_end}, &name);
    p = skip_ws(key_end, object.end);
    if (p >= object.end || *p != ':') break;
    const char *value = skip_ws(p + 1, object.end);
    const char *value_end = skip_value(value, object.end, 1);
    if (!value_end) break;
    if (name.len == strlen(key) && memcmp(name.data, key, name.len) == 0) {
      buf_free(&name);
      json_value found = {value, value_end};
      return json_kind_of(found) == JSON_NULL ? none : found;
    }
    p = skip_ws(value_end, object.end);
    if (p < object.end && *p == ',') p = skip_ws(p + 1, object.end);
  }
  buf_free(&name);
  return none;
}

bool json_next(json_value array, json_value *item) {
  if (json_kind_of(array) != JSON_ARRAY) return false;
  const char *p = array.ptr + 1; /* past '[' */
  if (item->ptr) {
    p = skip_ws(item->end, array.end);
    if (p >= array.end || *p != ',') return false;
    p++;
  }
  p = skip_ws(p, array.end);
  if (p >= array.end || *p == ']') return false;
  const char *end = skip_value(p, array.end, 1);
  if (!end) return false;
  *item = (json_value){p, end};
  return true;
}

static void append_utf8(buf *out, uint32_t c) {
  char b[4];
  size_t n;
  if (c < 0x80) { b[0] = (char)c; n = 1; }
  else if (c < 0x800) { b[0] = (char)(0xC0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3F)); n = 2; }
  else if (c < 0x10000) { b[0] = (char)(0xE0 | c >> 12); b[1] = (char)(0x80 | (c >> 6 & 0x3F)); b[2] = (char)(0x80 | (c & 0x3F)); n = 3; }
  else { b[0] = (char)(0xF0 | c >> 18); b[1] = (char)(0x80 | (c >> 12 & 0x3F)); b[2] = (char)(0x80 | (c >> 6 & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F)); n = 4; }
  buf_append(out, b, n);
}

static long hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  char digits[5] = {p[0], p[1], p[2], p[3], 0};
  char *stop;
  long v = strtol(digits, &stop, 16);
  return *stop ? -1 : v;
}

bool json_string(json_value v, buf *out) {
  if (json_kind_of(v) != JSON_STRING) return false;
  const char *p = v.ptr + 1, *end = v.end - 1;
  buf_append(out, "", 0);
  while (p < end) {
    const char *run = p;
    while (p < end && *p != '\\') p++;
    buf_append(out, run, (size_t)(p - run));
    if (p >= end) break;
    char e = p[1];
    p += 2;
    switch (e) {
      case 'b': buf_append(out, "\b", 1); break;
      case 'f': buf_append(out, "\f", 1); break;
      case 'n': buf_append(out, "\n", 1); break;
      case 'r': buf_append(out, "\r", 1); break;
      case 't': buf_append(out, "\t", 1); break;
      case 'u': {
        long c = hex4(p, end);
        if (c < 0) return false;
        p += 4;
        if (c >= 0xD800 && c < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
          long low = hex4(p + 2, end);
          if (low >= 0xDC00 && low < 0xE000) {
            c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
          }
        }
        append_utf8(out, c >= 0xD800 && c < 0xE000 ? 0xFFFD : (uint32_t)c);
        break;
      }
      default: buf_append(out, &e, 1); /* \" \\ \/ */
    }
  }
  return true;
}

void json_write_string(buf *out, const char *s, size_t len) {
  buf_append(out, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      buf_append(out, esc, 2);
    } else if (c < 0x20) {
      buf_fmt(out, "\\u%04x", c);
    } else {
      buf_append(out, (const char *)&s[i], 1);
    }
  }
  buf_append(out, "\"", 1);
}

void buf_append(buf *b, const char *s, size_t len) {
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + len + 1) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) abort();
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, len);
  b->len += len;
  b->data[b->len] = 0;
}

void buf_str(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_fmt(buf *b, const char *fmt, ...) {
  char small[256];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(small, sizeof small, fmt, args);
  va_end(args);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    buf_append(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) abort();
  va_start(args, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, args);
  va_end(args);
  buf_append(b, big, (size_t)n);
  free(big);
}

void buf_json(buf *b, json_value v) {
  if (v.ptr) buf_append(b, v.ptr, (size_t)(v.end - v.ptr));
}

void buf_free(buf *b) {
  free(b->data);
  *b = (buf){0};
}

uint32_t utf8_next(const char *s, size_t len, size_t *i) {
  const unsigned char *u = (const unsigned char *)s;
  unsigned char c = u[*i];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || *i + n > len) {
    (*i)++;
    return 0xFFFD;
  }
  uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (size_t k = 1; k < n; k++) {
    if ((u[*i + k] & 0xC0) != 0x80) {
      (*i)++;
      return 0xFFFD;
    }
    cp = cp << 6 | (u[*i + k] & 0x3F);
  }
  *i += n;
  return cp;
}
