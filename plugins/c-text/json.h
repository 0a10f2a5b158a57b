/* json.h: the small JSON reader and writer the C example plugin needs (no dependencies).
 *
 * A plugin's params arrive as the JSON text of one object, already checked by the host, so the
 * reader only walks that text: find a member of an object, step through an array, decode a
 * string. Values are spans of the original text; nothing is copied until a string is decoded.
 */
#ifndef ONEBOT_JSON_H
#define ONEBOT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A span of JSON text holding exactly one value (or nothing: ptr == NULL). */
typedef struct {
  const char *ptr;
  const char *end;
} json_value;

typedef enum { JSON_NONE, JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

/* A growable byte buffer; `data` is NUL-terminated once anything (even "") was appended. */
typedef struct {
  char *data;
  size_t len, cap;
} buf;

/* Parses the whole text as one value. Returns a NONE value when it is not valid JSON. */
json_value json_parse(const char *text, size_t len);
json_kind json_kind_of(json_value v);
const char *json_kind_name(json_kind kind);

/* The member `key` of an object; a NONE value when absent (a JSON null counts as absent). */
json_value json_get(json_value object, const char *key);

/* Array iteration: start with `json_value item = {0}` and call until it returns false. */
bool json_next(json_value array, json_value *item);

/* Appends the decoded bytes of a string value (UTF-8). False when `v` is not a string. */
bool json_string(json_value v, buf *out);

/* Appends `len` bytes of UTF-8 as a quoted, escaped JSON string. */
void json_write_string(buf *out, const char *s, size_t len);

void buf_append(buf *b, const char *s, size_t len);
void buf_str(buf *b, const char *s);
void buf_fmt(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the value's JSON text as it stood in the params. */
void buf_json(buf *b, json_value v);
void buf_free(buf *b);

/* Decodes one UTF-8 code point at s[*i] (advancing *i); invalid bytes decode as U+FFFD. */
uint32_t utf8_next(const char *s, size_t len, size_t *i);

#endif
