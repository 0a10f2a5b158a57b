/* c-text: the C example plugin of onebot-host, a WebAssembly component of the world `plugin`
 * in wit/onebot-plugin.wit (build: plugins/c-text/build; bindings/ is `wit-bindgen c` output).
 *
 * Actions (names carry the prefix below so that every example can sit in one plugin folder):
 *   c_text_reverse      {text}               -> {"text": reversed, by code point}
 *   c_text_word_count   {text}               -> {"words": n}, words split on Unicode whitespace
 *   c_send_private_msg  {user_id, message}   -> {"message_id": n}, logs what it "sent"
 * Bad or missing params are answered with retcode 1400 and a message naming the param.
 *
 * Memory: the host runs every call in a fresh instance, but the code still frees what it
 * allocates; strings handed back to the host must come from malloc (the bindings free them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "plugin.h"

/* Set to "" to serve the real OneBot action `send_private_msg` (and un-prefixed text actions). */
#define PREFIX "c_"

/* A handler appends the envelope's data (JSON) to `out`, or an error message to `err` and
 * returns the retcode. */
typedef int (*handler)(const char *action, json_value params, buf *out, buf *err);

static int text_param(const char *action, json_value params, buf *text, buf *err) {
  json_value value = json_get(params, "text");
  json_kind kind = json_kind_of(value);
  if (kind == JSON_NONE) {
    buf_fmt(err, "%s: missing required param `text` (string)", action);
    return 1400;
  }
  if (kind != JSON_STRING) {
    buf_fmt(err, "%s: param `text` must be a string, got %s", action, json_kind_name(kind));
    return 1400;
  }
  if (!json_string(value, text)) {
    buf_fmt(err, "%s: param `text` has a bad escape sequence", action);
    return 1400;
  }
  return 0;
}

/* Reverses by code point: UTF-8 sequences are copied whole, last one first. */
static int text_reverse(const char *action, json_value params, buf *out, buf *err) {
  buf text = {0}, reversed = {0};
  int retcode = text_param(action, params, &text, err);
  if (retcode == 0) {
    buf_append(&reversed, "", 0);
    for (size_t end = text.len; end > 0;) {
      size_t start = end - 1;
      while (start > 0 && ((unsigned char)text.data[start] & 0xC0) == 0x80) start--;
      buf_append(&reversed, text.data + start, end - start);
      end = start;
    }
    buf_str(out, "{\"text\":");
    json_write_string(out, reversed.data, reversed.len);
    buf_str(out, "}");
  }
  buf_free(&text);
  buf_free(&reversed);
  return retcode;
}

/* Unicode's White_Space property. */
static bool is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

static int text_word_count(const char *action, json_value params, buf *out, buf *err) {
  buf text = {0};
  int retcode = text_param(action, params, &text, err);
  if (retcode == 0) {
    size_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < text.len;) {
      bool space = is_space(utf8_next(text.data, text.len, &i));
      words += !space && !in_word;
      in_word = !space;
    }
    buf_fmt(out, "{\"words\":%zu}", words);
  }
  buf_free(&text);
  return retcode;
}

/* A positive integer given as a JSON number or a decimal string; 0 when it is neither. */
static long long positive_id(json_value value) {
  buf digits = {0};
  json_kind kind = json_kind_of(value);
  if (kind == JSON_STRING) json_string(value, &digits);
  else if (kind == JSON_NUMBER) buf_json(&digits, value);
  const char *s = digits.data ? digits.data : "";
  while (*s == ' ') s++;
  char *end;
  errno = 0;
  long long id = *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : 0;
  if (errno == ERANGE) id = 0;
  if (id > 0) {
    while (*end == ' ') end++;
    if (*end) id = 0; /* "12x", 1.5, 1e3 */
  }
  buf_free(&digits);
  return id;
}

static int send_private_msg(const char *action, json_value params, buf *out, buf *err) {
  json_value user_id = json_get(params, "user_id"), message = json_get(params, "message");
  if (json_kind_of(user_id) == JSON_NONE) {
    buf_fmt(err, "%s: missing required param `user_id` (integer)", action);
    return 1400;
  }
  long long id = positive_id(user_id);
  if (id <= 0) {
    buf_fmt(err, "%s: param `user_id` must be a positive integer, got ", action);
    buf_json(err, user_id);
    return 1400;
  }
  if (json_kind_of(message) == JSON_NONE) {
    buf_fmt(err, "%s: missing required param `message` (array of segments)", action);
    return 1400;
  }
  buf preview = {0};
  json_value segment = {0};
  size_t count = 0;
  while (json_next(message, &segment)) {
    count++;
    buf kind = {0};
    if (!json_string(json_get(segment, "type"), &kind)) {
      buf_fmt(err, "%s: each message segment needs a string `type`, got ", action);
      buf_json(err, segment);
      buf_free(&preview);
      return 1400;
    }
    if (strcmp(kind.data, "text") == 0) json_string(json_get(json_get(segment, "data"), "text"), &preview);
    else buf_fmt(&preview, "[%s]", kind.data);
    buf_free(&kind);
  }
  if (count == 0) {
    buf_fmt(err, "%s: param `message` must be a non-empty array of segments", action);
    return 1400;
  }

  buf line = {0};
  buf_fmt(&line, "%s to user %lld: %s", action, id, preview.data ? preview.data : "");
  plugin_string_t text = {(uint8_t *)line.data, line.len};
  onebot_plugin_host_log(ONEBOT_PLUGIN_HOST_LEVEL_INFO, &text);
  buf_free(&line);
  buf_free(&preview);

  /* Instances are fresh, so there is no counter to keep: an FNV-1a hash of the time and call. */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint32_t hash = 0x811c9dc5;
  const unsigned char *bytes = (const unsigned char *)params.ptr;
  for (size_t i = 0; i < (size_t)(params.end - params.ptr); i++) hash = (hash ^ bytes[i]) * 0x01000193;
  hash = (hash ^ (uint32_t)now.tv_nsec) * 0x01000193;
  buf_fmt(out, "{\"message_id\":%u}", (hash >> 1) ? (hash >> 1) : 1);
  return 0;
}

static const struct {
  const char *name;
  handler run;
} ACTIONS[] = {
    {PREFIX "text_reverse", text_reverse},
    {PREFIX "text_word_count", text_word_count},
    {PREFIX "send_private_msg", send_private_msg},
};
#define ACTION_COUNT (sizeof ACTIONS / sizeof ACTIONS[0])

void exports_onebot_plugin_onebot_action_actions(plugin_list_string_t *ret) {
  ret->len = ACTION_COUNT;
  ret->ptr = malloc(ACTION_COUNT * sizeof(plugin_string_t));
  for (size_t i = 0; i < ACTION_COUNT; i++) plugin_string_dup(&ret->ptr[i], ACTIONS[i].name);
}

/* True with the data's JSON text in `ret`, or false with `err` filled in. */
bool exports_onebot_plugin_onebot_action_handle(exports_onebot_plugin_onebot_action_action_call_t *call,
                                                plugin_string_t *ret,
                                                exports_onebot_plugin_onebot_action_action_error_t *error) {
  buf action = {0}, out = {0}, err = {0};
  buf_append(&action, (const char *)call->action.ptr, call->action.len);
  int retcode = 1404;
  buf_fmt(&err, "不支持的API %s", action.data);
  for (size_t i = 0; i < ACTION_COUNT; i++) {
    if (strcmp(action.data, ACTIONS[i].name) != 0) continue;
    err.len = 0;
    json_value params = json_parse((const char *)call->params.ptr, call->params.len);
    if (json_kind_of(params) != JSON_OBJECT) {
      buf_fmt(&err, "%s: params must be a JSON object", action.data);
      retcode = 1400;
    } else {
      retcode = ACTIONS[i].run(action.data, params, &out, &err);
    }
  }
  exports_onebot_plugin_onebot_action_action_call_free(call);
  buf_free(&action);
  if (retcode == 0) {
    /* The buffer's malloc'd bytes become the result; the bindings free them after the call. */
    *ret = (plugin_string_t){(uint8_t *)out.data, out.len};
    buf_free(&err);
    return true;
  }
  *error = (exports_onebot_plugin_onebot_action_action_error_t){retcode, {(uint8_t *)err.data, err.len}};
  buf_free(&out);
  return false;
}

/* The bindings link in an object with the world's type unless told otherwise (--no-object-file);
 * here `wasm-tools component embed` adds that type instead, so this stands in for the object. */
void __component_type_object_force_link_plugin(void) {}
