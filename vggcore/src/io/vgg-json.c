/* The JSON parser of safetensors headers (see vgg-json-private.h). */
#include "vgg-json-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A header needs three levels (root, tensor entry, shape); the limit only
 * bounds the recursion of the parser. */
#define JSON_MAX_DEPTH 64

const char *
vgg_json_kind_describe (VggJsonKind kind)
{
  switch (kind) {
    case VGG_JSON_NULL:
      return "null";
    case VGG_JSON_BOOLEAN:
      return "a boolean";
    case VGG_JSON_INTEGER:
      return "an integer";
    case VGG_JSON_BIG_INTEGER:
      return "an integer outside the 64-bit range";
    case VGG_JSON_REAL:
      return "a number with a fraction or exponent";
    case VGG_JSON_STRING:
      return "a string";
    case VGG_JSON_ARRAY:
      return "an array";
    case VGG_JSON_OBJECT:
      return "an object";
  }
  return "a value";
}

static uint32_t json_fail (VggJsonParser *p, uint32_t pos, const char *format,
    ...) __attribute__ ((format (printf, 3, 4)));

/* Records the first syntax error; returns VGG_JSON_NONE for the callers. */
static uint32_t
json_fail (VggJsonParser *p, uint32_t pos, const char *format, ...)
{
  va_list args;

  if (p->failed)
    return VGG_JSON_NONE;
  p->failed = true;
  p->error_pos = pos;
  va_start (args, format);
  vsnprintf (p->problem, sizeof p->problem, format, args);
  va_end (args);
  return VGG_JSON_NONE;
}

static int
json_peek (const VggJsonParser *p)
{
  return p->pos < p->length ? p->text[p->pos] : -1;
}

static void
json_skip_space (VggJsonParser *p)
{
  while (p->pos < p->length) {
    unsigned char c = p->text[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    p->pos++;
  }
}

/* Describes the character at pos for "unexpected ..." messages. */
static const char *
json_describe_at (const VggJsonParser *p, uint32_t pos, char buf[16])
{
  unsigned char c;

  if (pos >= p->length)
    return "end of header";
  c = p->text[pos];
  if (c > 0x20 && c < 0x7f)
    snprintf (buf, 16, "'%c'", c);
  else
    snprintf (buf, 16, "byte 0x%02x", c);
  return buf;
}

static uint32_t
json_new_node (VggJsonParser *p, VggJsonKind kind, uint32_t pos)
{
  VggJsonNode *node;

  if (p->n_nodes == p->n_alloc) {
    uint32_t n_alloc = p->n_alloc ? p->n_alloc * 2 : 64;
    VggJsonNode *nodes;

    /* The node count is bounded by the header length (at most 100 MiB),
     * so the doubling cannot wrap, but say why it is safe. */
    if (n_alloc <= p->n_alloc || n_alloc >= VGG_JSON_NONE) {
      p->nomem = true;
      return json_fail (p, pos, "too many values");
    }
    nodes = realloc (p->nodes, (size_t) n_alloc * sizeof *nodes);
    if (nodes == NULL) {
      p->nomem = true;
      return json_fail (p, pos, "out of memory");
    }
    p->nodes = nodes;
    p->n_alloc = n_alloc;
  }
  node = &p->nodes[p->n_nodes];
  memset (node, 0, sizeof *node);
  node->kind = kind;
  node->pos = pos;
  node->key = VGG_JSON_NONE;
  node->next = VGG_JSON_NONE;
  return p->n_nodes++;
}

static int
json_hex4 (const VggJsonParser *p, uint32_t pos)
{
  int value = 0;

  if (pos > p->length || p->length - pos < 4)
    return -1;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p->text[pos + i];
    int digit;

    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 if ill-formed. */
static uint32_t
utf8_sequence_length (const unsigned char *s, uint32_t avail)
{
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xbf;
  uint32_t len;

  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else
    return 0;
  if (avail < len || s[1] < lo || s[1] > hi)
    return 0;
  for (uint32_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

static uint32_t
utf8_encode (uint32_t cp, char *out)
{
  if (cp < 0x80) {
    out[0] = (char) cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char) (0xc0 | (cp >> 6));
    out[1] = (char) (0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char) (0xe0 | (cp >> 12));
    out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char) (0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char) (0xf0 | (cp >> 18));
  out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char) (0x80 | (cp & 0x3f));
  return 4;
}

/* Decodes the string literal at pos (on its opening quote) into strings;
 * *offset receives where.  Returns false on a syntax error.  \u0000 is
 * refused: names and metadata become C strings. */
static bool
json_parse_string (VggJsonParser *p, uint32_t *offset)
{
  uint32_t start = p->pos;
  char *out = p->strings + p->strings_used;
  uint32_t n = 0;

  p->pos++;
  for (;;) {
    unsigned char c;

    if (p->pos >= p->length) {
      json_fail (p, start, "unterminated string");
      return false;
    }
    c = p->text[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) {
      json_fail (p, p->pos,
          "control character 0x%02x in a string "
          "(must be escaped)",
          c);
      return false;
    }
    if (c == '\\') {
      uint32_t esc = p->pos;
      int e = p->pos + 1 < p->length ? p->text[p->pos + 1] : -1;
      int cp, lo;

      switch (e) {
        case '"':
        case '\\':
        case '/':
          out[n++] = (char) e;
          p->pos += 2;
          break;
        case 'b':
          out[n++] = '\b';
          p->pos += 2;
          break;
        case 'f':
          out[n++] = '\f';
          p->pos += 2;
          break;
        case 'n':
          out[n++] = '\n';
          p->pos += 2;
          break;
        case 'r':
          out[n++] = '\r';
          p->pos += 2;
          break;
        case 't':
          out[n++] = '\t';
          p->pos += 2;
          break;
        case 'u':
          cp = json_hex4 (p, p->pos + 2);
          if (cp < 0) {
            json_fail (p, esc, "\\u must be followed by 4 hex digits");
            return false;
          }
          p->pos += 6;
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            json_fail (p, esc, "unpaired UTF-16 surrogate \\u%04x", cp);
            return false;
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            /* A character above U+FFFF: a high and a low surrogate. */
            lo = -1;
            if (p->length - p->pos >= 2 && p->text[p->pos] == '\\'
                && p->text[p->pos + 1] == 'u')
              lo = json_hex4 (p, p->pos + 2);
            if (lo < 0xdc00 || lo > 0xdfff) {
              json_fail (p, esc, "unpaired UTF-16 surrogate \\u%04x", cp);
              return false;
            }
            p->pos += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          if (cp == 0) {
            json_fail (p, esc, "\\u0000 (NUL) in a string is not supported");
            return false;
          }
          n += utf8_encode ((uint32_t) cp, out + n);
          break;
        default:
          if (e > 0x20 && e < 0x7f)
            json_fail (p, esc, "invalid escape '\\%c'", e);
          else
            json_fail (p, esc, "invalid escape");
          return false;
      }
    } else if (c < 0x80) {
      out[n++] = (char) c;
      p->pos++;
    } else {
      uint32_t len =
          utf8_sequence_length (p->text + p->pos, p->length - p->pos);

      if (len == 0) {
        json_fail (p, p->pos, "invalid UTF-8 in a string");
        return false;
      }
      memcpy (out + n, p->text + p->pos, len);
      n += len;
      p->pos += len;
    }
  }
  out[n] = '\0';
  *offset = p->strings_used;
  p->strings_used += n + 1;
  return true;
}

static bool
json_is_digit (int c)
{
  return c >= '0' && c <= '9';
}

static uint32_t
json_parse_number (VggJsonParser *p)
{
  uint32_t start = p->pos;
  bool negative = false, integral = true, overflow = false;
  uint64_t magnitude = 0;
  uint32_t node;

  if (json_peek (p) == '-') {
    negative = true;
    p->pos++;
  }
  if (!json_is_digit (json_peek (p)))
    return json_fail (p, p->pos, "expected a digit");
  if (json_peek (p) == '0') {
    p->pos++;
    if (json_is_digit (json_peek (p)))
      return json_fail (p, start, "number with a leading zero");
  } else {
    while (json_is_digit (json_peek (p))) {
      unsigned digit = (unsigned) (p->text[p->pos] - '0');

      if (magnitude > (UINT64_MAX - digit) / 10)
        overflow = true;
      else
        magnitude = magnitude * 10 + digit;
      p->pos++;
    }
  }
  if (json_peek (p) == '.') {
    integral = false;
    p->pos++;
    if (!json_is_digit (json_peek (p)))
      return json_fail (p, p->pos, "expected a digit after '.'");
    while (json_is_digit (json_peek (p)))
      p->pos++;
  }
  if (json_peek (p) == 'e' || json_peek (p) == 'E') {
    integral = false;
    p->pos++;
    if (json_peek (p) == '+' || json_peek (p) == '-')
      p->pos++;
    if (!json_is_digit (json_peek (p)))
      return json_fail (p, p->pos, "expected a digit in the exponent");
    while (json_is_digit (json_peek (p)))
      p->pos++;
  }

  if (!integral)
    return json_new_node (p, VGG_JSON_REAL, start);
  if (overflow || magnitude > (uint64_t) INT64_MAX + (negative ? 1 : 0))
    return json_new_node (p, VGG_JSON_BIG_INTEGER, start);
  node = json_new_node (p, VGG_JSON_INTEGER, start);
  if (node != VGG_JSON_NONE) {
    if (negative)
      p->nodes[node].u.integer = magnitude == (uint64_t) INT64_MAX + 1
          ? INT64_MIN
          : -(int64_t) magnitude;
    else
      p->nodes[node].u.integer = (int64_t) magnitude;
  }
  return node;
}

static uint32_t
json_parse_literal (
    VggJsonParser *p, const char *word, VggJsonKind kind, int64_t value)
{
  uint32_t start = p->pos, len = (uint32_t) strlen (word), node;

  if (p->length - p->pos < len || memcmp (p->text + p->pos, word, len) != 0)
    return json_fail (p, start, "invalid literal (expected %s)", word);
  p->pos += len;
  node = json_new_node (p, kind, start);
  if (node != VGG_JSON_NONE)
    p->nodes[node].u.integer = value;
  return node;
}

static uint32_t json_parse_value (VggJsonParser *p, int depth);

/* Objects and arrays: '{' (string ':' value (',' ...)*)? '}' and
 * '[' (value (',' ...)*)? ']'. */
static uint32_t
json_parse_container (VggJsonParser *p, int depth)
{
  bool is_object = json_peek (p) == '{';
  int close = is_object ? '}' : ']';
  uint32_t node, last = VGG_JSON_NONE, count = 0;
  char what[16];

  if (depth > JSON_MAX_DEPTH)
    return json_fail (
        p, p->pos, "nesting deeper than %d levels", JSON_MAX_DEPTH);
  node =
      json_new_node (p, is_object ? VGG_JSON_OBJECT : VGG_JSON_ARRAY, p->pos);
  if (node == VGG_JSON_NONE)
    return VGG_JSON_NONE;
  p->pos++;
  json_skip_space (p);
  if (json_peek (p) == close)
    p->pos++;
  else
    for (;;) {
      uint32_t key = VGG_JSON_NONE, child;

      json_skip_space (p);
      if (is_object) {
        if (json_peek (p) != '"')
          return json_fail (p, p->pos, "expected a member name, found %s",
              json_describe_at (p, p->pos, what));
        if (!json_parse_string (p, &key))
          return VGG_JSON_NONE;
        json_skip_space (p);
        if (json_peek (p) != ':')
          return json_fail (p, p->pos,
              "expected ':' after a member name, "
              "found %s",
              json_describe_at (p, p->pos, what));
        p->pos++;
        json_skip_space (p);
      }
      child = json_parse_value (p, depth + 1);
      if (child == VGG_JSON_NONE)
        return VGG_JSON_NONE;
      p->nodes[child].key = key;
      if (last == VGG_JSON_NONE)
        p->nodes[node].u.children.first = child;
      else
        p->nodes[last].next = child;
      last = child;
      count++;
      json_skip_space (p);
      if (json_peek (p) == ',') {
        p->pos++;
        continue;
      }
      if (json_peek (p) == close) {
        p->pos++;
        break;
      }
      return json_fail (p, p->pos, "expected ',' or '%c', found %s", close,
          json_describe_at (p, p->pos, what));
    }
  if (count == 0)
    p->nodes[node].u.children.first = VGG_JSON_NONE;
  p->nodes[node].u.children.count = count;
  return node;
}

static uint32_t
json_parse_value (VggJsonParser *p, int depth)
{
  uint32_t start = p->pos, node, offset;
  char what[16];

  switch (json_peek (p)) {
    case '{':
    case '[':
      return json_parse_container (p, depth);
    case '"':
      if (!json_parse_string (p, &offset))
        return VGG_JSON_NONE;
      node = json_new_node (p, VGG_JSON_STRING, start);
      if (node != VGG_JSON_NONE)
        p->nodes[node].u.string = offset;
      return node;
    case 't':
      return json_parse_literal (p, "true", VGG_JSON_BOOLEAN, 1);
    case 'f':
      return json_parse_literal (p, "false", VGG_JSON_BOOLEAN, 0);
    case 'n':
      return json_parse_literal (p, "null", VGG_JSON_NULL, 0);
    default:
      if (json_peek (p) == '-' || json_is_digit (json_peek (p)))
        return json_parse_number (p);
      return json_fail (p, p->pos, "expected a value, found %s",
          json_describe_at (p, p->pos, what));
  }
}

bool
vgg_json_parse (VggJsonParser *p, const unsigned char *text, uint32_t length)
{
  char what[16];

  memset (p, 0, sizeof *p);
  p->text = text;
  p->length = length;
  p->strings = malloc ((size_t) length + 1);
  if (p->strings == NULL) {
    p->nomem = true;
    json_fail (p, 0, "out of memory");
    return false;
  }
  json_skip_space (p);
  if (json_parse_value (p, 1) == VGG_JSON_NONE)
    return false;
  json_skip_space (p);
  if (p->pos != p->length) {
    json_fail (p, p->pos, "unexpected %s after the end of the header object",
        json_describe_at (p, p->pos, what));
    return false;
  }
  return true;
}

void
vgg_json_parser_clear (VggJsonParser *p)
{
  free (p->nodes);
  free (p->strings);
  p->nodes = NULL;
  p->strings = NULL;
}

const char *
vgg_json_key (const VggJsonParser *p, const VggJsonNode *node)
{
  return p->strings + node->key;
}

const char *
vgg_json_string (const VggJsonParser *p, const VggJsonNode *node)
{
  return p->strings + node->u.string;
}
